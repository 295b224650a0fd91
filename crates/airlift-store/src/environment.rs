//! Environments: names pinned to generations (ADR 0027).
//!
//! The default environment follows every import and push: it is the
//! index's current generation. A named environment (`staging`,
//! `production`) is pinned to one generation and moves only when told:
//! [`promote`] moves it to another environment's generation, [`rollback`]
//! back to one it served before. Each is kept as a record of kind
//! [`RECORD_KIND`] (outside every generation, so an import never moves
//! it), with the generations it was pinned to before, newest first, at most
//! [`HISTORY`] of them; garbage collection keeps every one of those
//! ([`oldest_pinned`]), so a rollback serves byte-identical answers.
//!
//! [`Pinned`] is the index as one environment sees it: every read is the
//! index's own, except that its current generation is the environment's
//! pin, read again on every call (a promotion is served from the next
//! request on), and that it refuses every change to the generations (the
//! site's records, such as access records and counters, stay writable).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{AuditHead, Change, Entry, Generation, MetaStore, Pruned, StoreError};

/// The record kind environments are kept under.
pub const RECORD_KIND: &str = "environment";

/// The name of the environment that follows every import.
pub const DEFAULT: &str = "default";

/// How many earlier generations an environment remembers for rollback.
pub const HISTORY: usize = 10;

/// Why an environment could not be read or moved.
#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    /// A name that is not 1 to 63 lowercase letters, digits, `-` or `_`,
    /// starting with a letter or digit, or the reserved `default`.
    #[error(
        "{0:?} is not an environment name: use 1 to 63 lowercase letters, digits, '-' and '_', starting with a letter or digit (\"default\" is reserved)"
    )]
    InvalidName(String),
    /// No environment of that name.
    #[error("there is no environment {0:?} (see `airlift env list`)")]
    Unknown(String),
    /// `create` of a name that exists.
    #[error("environment {0:?} exists already")]
    Exists(String),
    /// The index has no generation yet.
    #[error("the index has no generation yet: import or collect first")]
    Empty,
    /// A generation that garbage collection removed, or that never was.
    #[error("generation {0} is not retained in the index (see `airlift status`)")]
    NotRetained(u64),
    /// A rollback with nothing to go back to.
    #[error("environment {0:?} has no earlier generation to roll back to")]
    NoHistory(String),
    /// A promotion into an environment that needs approvals, attempted
    /// without them.
    #[error(
        "promoting into {name:?} needs {approvals} approvals: write a request with `airlift promote --request FILE` and move it with `--approved FILE`"
    )]
    NeedsApprovals {
        /// The environment.
        name: String,
        /// How many it needs.
        approvals: u32,
    },
    /// A record that does not parse.
    #[error("environment record {name:?} is corrupt: {reason}")]
    Corrupt {
        /// The environment.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The index failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One named environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// Its name.
    #[serde(skip)]
    pub name: String,
    /// The generation it serves.
    pub generation: u64,
    /// The generations it served before, newest first (at most
    /// [`HISTORY`]).
    #[serde(default)]
    pub history: Vec<u64>,
    /// Unix time of its last move (or of its creation).
    pub moved_at: i64,
    /// Who moved it last (the operator's name, or the principal).
    #[serde(default)]
    pub moved_by: String,
    /// Approvals a promotion into it needs (0: none).
    #[serde(default)]
    pub approvals: u32,
}

/// A move of an environment: from which generation to which.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Moved {
    /// The environment.
    pub environment: String,
    /// The generation it served before.
    pub from: u64,
    /// The generation it serves now.
    pub to: u64,
}

/// What changes between two generations, as entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Entries only the newer one has.
    pub added: Vec<Entry>,
    /// Entries both have with other contents: (before, after).
    pub changed: Vec<(Entry, Entry)>,
    /// Entries only the older one has.
    pub removed: Vec<Entry>,
}

/// Whether `name` may name an environment.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && name != DEFAULT
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
}

fn decode(name: &str, value: &str) -> Result<Environment, EnvironmentError> {
    let mut environment: Environment =
        serde_json::from_str(value).map_err(|e| EnvironmentError::Corrupt {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
    environment.name = name.to_owned();
    Ok(environment)
}

fn encode(environment: &Environment) -> Result<String, EnvironmentError> {
    serde_json::to_string(environment).map_err(|e| EnvironmentError::Corrupt {
        name: environment.name.clone(),
        reason: e.to_string(),
    })
}

/// Every named environment, by name.
pub fn list(meta: &dyn MetaStore) -> Result<Vec<Environment>, EnvironmentError> {
    meta.records(RECORD_KIND)?
        .iter()
        .map(|(name, value)| decode(name, value))
        .collect()
}

/// One named environment, if it exists.
pub fn get(meta: &dyn MetaStore, name: &str) -> Result<Option<Environment>, EnvironmentError> {
    // Records are few (one per environment); reading them all keeps the
    // store's interface as it is.
    Ok(list(meta)?.into_iter().find(|e| e.name == name))
}

/// The generation `name` serves: the current one for [`DEFAULT`].
pub fn generation_of(meta: &dyn MetaStore, name: &str) -> Result<u64, EnvironmentError> {
    if name == DEFAULT {
        return meta.current()?.map(|g| g.id).ok_or(EnvironmentError::Empty);
    }
    get(meta, name)?
        .map(|e| e.generation)
        .ok_or_else(|| EnvironmentError::Unknown(name.to_owned()))
}

fn retained(meta: &dyn MetaStore, generation: u64) -> Result<(), EnvironmentError> {
    match meta.generation(generation)? {
        Some(_) => Ok(()),
        None => Err(EnvironmentError::NotRetained(generation)),
    }
}

/// Creates environment `name` pinned to generation `at` (the current one
/// when `None`); promotions into it will need `approvals` approvals.
pub fn create(
    meta: &dyn MetaStore,
    name: &str,
    at: Option<u64>,
    approvals: u32,
    by: &str,
    now: i64,
) -> Result<Environment, EnvironmentError> {
    if !valid_name(name) {
        return Err(EnvironmentError::InvalidName(name.to_owned()));
    }
    let generation = match at {
        Some(at) => at,
        None => generation_of(meta, DEFAULT)?,
    };
    retained(meta, generation)?;
    let environment = Environment {
        name: name.to_owned(),
        generation,
        history: Vec::new(),
        moved_at: now,
        moved_by: by.to_owned(),
        approvals,
    };
    match meta.put_record(RECORD_KIND, name, Some(&encode(&environment)?), true) {
        Ok(_) => Ok(environment),
        Err(StoreError::RecordExists { .. }) => Err(EnvironmentError::Exists(name.to_owned())),
        Err(e) => Err(e.into()),
    }
}

/// Deletes environment `name`; its generations are no longer kept for it.
pub fn delete(meta: &dyn MetaStore, name: &str) -> Result<(), EnvironmentError> {
    if !meta.put_record(RECORD_KIND, name, None, false)? {
        return Err(EnvironmentError::Unknown(name.to_owned()));
    }
    Ok(())
}

/// Pins `name` to `generation`, remembering the one it leaves in its
/// history. Refuses a generation the index no longer holds.
pub fn move_to(
    meta: &dyn MetaStore,
    name: &str,
    generation: u64,
    by: &str,
    now: i64,
) -> Result<Moved, EnvironmentError> {
    let mut environment =
        get(meta, name)?.ok_or_else(|| EnvironmentError::Unknown(name.to_owned()))?;
    retained(meta, generation)?;
    if environment.generation != generation {
        let from = environment.generation;
        environment.history.retain(|&g| g != from);
        remember(&mut environment, from);
    }
    save(meta, environment, generation, by, now)
}

/// Puts `generation` first in the history, keeping at most [`HISTORY`].
fn remember(environment: &mut Environment, generation: u64) {
    environment.history.insert(0, generation);
    environment.history.truncate(HISTORY);
}

/// Pins `environment` to `to` and writes it: the one write of every move.
fn save(
    meta: &dyn MetaStore,
    mut environment: Environment,
    to: u64,
    by: &str,
    now: i64,
) -> Result<Moved, EnvironmentError> {
    let from = environment.generation;
    environment.generation = to;
    environment.moved_at = now;
    environment.moved_by = by.to_owned();
    meta.put_record(
        RECORD_KIND,
        &environment.name,
        Some(&encode(&environment)?),
        false,
    )?;
    Ok(Moved {
        environment: environment.name,
        from,
        to,
    })
}

/// Moves `to` to the generation `from` serves ([`DEFAULT`]: the current
/// one). Refuses when `to` needs approvals: [`move_to`] is the way once
/// they are counted.
pub fn promote(
    meta: &dyn MetaStore,
    from: &str,
    to: &str,
    by: &str,
    now: i64,
) -> Result<Moved, EnvironmentError> {
    let target = get(meta, to)?.ok_or_else(|| EnvironmentError::Unknown(to.to_owned()))?;
    if target.approvals > 0 {
        return Err(EnvironmentError::NeedsApprovals {
            name: to.to_owned(),
            approvals: target.approvals,
        });
    }
    let generation = generation_of(meta, from)?;
    move_to(meta, to, generation, by, now)
}

/// Moves `name` back: to the generation it served before when `to` is
/// `None` (dropping it from the history, so a second rollback goes further
/// back), else to generation `to`, which must still be retained (the
/// generation left is remembered unless `to` was in the history). A
/// rollback needs no approvals: it returns to something already served.
pub fn rollback(
    meta: &dyn MetaStore,
    name: &str,
    to: Option<u64>,
    by: &str,
    now: i64,
) -> Result<Moved, EnvironmentError> {
    let mut environment =
        get(meta, name)?.ok_or_else(|| EnvironmentError::Unknown(name.to_owned()))?;
    let from = environment.generation;
    let target = match to {
        Some(to) => to,
        None => {
            // The newest remembered generation the index still holds.
            let mut found = None;
            for (i, &g) in environment.history.iter().enumerate() {
                if meta.generation(g)?.is_some() {
                    found = Some((i, g));
                    break;
                }
            }
            found
                .map(|(_, g)| g)
                .ok_or_else(|| EnvironmentError::NoHistory(name.to_owned()))?
        }
    };
    retained(meta, target)?;
    // Going back to a remembered generation drops it and everything newer
    // from the history; going to any other retained one remembers the
    // generation left, as a move does.
    if let Some(position) = environment.history.iter().position(|&g| g == target) {
        environment.history.drain(..=position);
    } else if target != from {
        remember(&mut environment, from);
    }
    save(meta, environment, target, by, now)
}

/// The oldest generation any environment serves or can roll back to:
/// garbage collection keeps it and everything newer.
pub fn oldest_pinned(meta: &dyn MetaStore) -> Result<Option<u64>, EnvironmentError> {
    let mut oldest: Option<u64> = None;
    for environment in list(meta)? {
        for g in std::iter::once(environment.generation).chain(environment.history) {
            oldest = Some(oldest.map_or(g, |o| o.min(g)));
        }
    }
    Ok(oldest)
}

/// What moving from generation `from` to generation `to` changes.
pub fn diff(meta: &dyn MetaStore, from: u64, to: u64) -> Result<Diff, EnvironmentError> {
    retained(meta, from)?;
    retained(meta, to)?;
    let key = |e: &Entry| (e.ecosystem.clone(), e.key.clone());
    let mut before: BTreeMap<(String, String), Entry> = meta
        .entries(from, None)?
        .into_iter()
        .map(|e| (key(&e), e))
        .collect();
    let mut diff = Diff::default();
    for entry in meta.entries(to, None)? {
        match before.remove(&key(&entry)) {
            None => diff.added.push(entry),
            Some(old) if old != entry => diff.changed.push((old, entry)),
            Some(_) => {}
        }
    }
    diff.removed = before.into_values().collect();
    Ok(diff)
}

/// The index as environment `name` sees it (see the module documentation).
pub struct Pinned {
    inner: Arc<dyn MetaStore>,
    name: String,
}

impl Pinned {
    /// A view of `inner` through environment `name`.
    pub fn new(inner: Arc<dyn MetaStore>, name: &str) -> Self {
        Self {
            inner,
            name: name.to_owned(),
        }
    }
}

const READ_ONLY: &str = "change the index through an environment (changes go to the default one)";

impl MetaStore for Pinned {
    fn current(&self) -> Result<Option<Generation>, StoreError> {
        let pinned = match get(self.inner.as_ref(), &self.name) {
            Ok(Some(environment)) => environment.generation,
            Ok(None) => return Ok(None),
            Err(EnvironmentError::Store(e)) => return Err(e),
            Err(e) => return Err(StoreError::Corrupt(e.to_string())),
        };
        self.inner.generation(pinned)
    }
    fn generations(&self) -> Result<Vec<Generation>, StoreError> {
        self.inner.generations()
    }
    fn generation(&self, id: u64) -> Result<Option<Generation>, StoreError> {
        self.inner.generation(id)
    }
    fn entries(&self, generation: u64, ecosystem: Option<&str>) -> Result<Vec<Entry>, StoreError> {
        self.inner.entries(generation, ecosystem)
    }
    fn for_each_entry(
        &self,
        generation: u64,
        ecosystem: Option<&str>,
        each: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.inner.for_each_entry(generation, ecosystem, each)
    }
    fn entry(
        &self,
        generation: u64,
        ecosystem: &str,
        key: &str,
    ) -> Result<Option<Entry>, StoreError> {
        self.inner.entry(generation, ecosystem, key)
    }
    fn entries_with_prefix(
        &self,
        generation: u64,
        ecosystem: &str,
        prefix: &str,
    ) -> Result<Vec<Entry>, StoreError> {
        self.inner
            .entries_with_prefix(generation, ecosystem, prefix)
    }
    fn apply(&self, _change: Change) -> Result<Generation, StoreError> {
        Err(StoreError::Unsupported(READ_ONLY))
    }
    fn commit(&self, _generation: crate::NewGeneration) -> Result<Generation, StoreError> {
        Err(StoreError::Unsupported(READ_ONLY))
    }
    fn state(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.state(key)
    }
    fn records(&self, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.records(kind)
    }
    fn put_record(
        &self,
        kind: &str,
        name: &str,
        value: Option<&str>,
        create: bool,
    ) -> Result<bool, StoreError> {
        // Access records and the counters the server keeps are the site's,
        // not the environment's.
        self.inner.put_record(kind, name, value, create)
    }
    fn records_version(&self) -> Result<u64, StoreError> {
        self.inner.records_version()
    }
    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        self.inner.audit_head()
    }
    fn record_audit_head(&self, head: &AuditHead) -> Result<(), StoreError> {
        self.inner.record_audit_head(head)
    }
    fn clear_audit_head(&self, _expected: &AuditHead) -> Result<(), StoreError> {
        Err(StoreError::Unsupported(READ_ONLY))
    }
    fn referenced_digests(
        &self,
        from_generation: u64,
    ) -> Result<std::collections::BTreeSet<airlift_core::Digest>, StoreError> {
        self.inner.referenced_digests(from_generation)
    }
    fn prune_generations(&self, _oldest_kept: u64, _dry_run: bool) -> Result<Pruned, StoreError> {
        Err(StoreError::Unsupported(READ_ONLY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewGeneration, SqliteMetaStore};

    fn entry(key: &str, byte: u8) -> Entry {
        Entry {
            ecosystem: "files".into(),
            key: key.into(),
            digest: airlift_core::Digest::of(&[byte]),
            size: 1,
            meta: serde_json::json!({}),
        }
    }

    fn commit(meta: &dyn MetaStore, entries: Vec<Entry>) -> u64 {
        meta.commit(NewGeneration {
            source: "test".into(),
            created_at: 1,
            entries,
            state: Vec::new(),
        })
        .expect("commit")
        .id
    }

    fn store() -> (tempfile::TempDir, Arc<dyn MetaStore>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = SqliteMetaStore::open(&dir.path().join("index.db")).expect("open");
        (dir, Arc::new(meta))
    }

    #[test]
    fn names_are_checked() {
        for good in ["staging", "prod-eu", "a", "x_1"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "default", "Prod", "-x", "a/b", "a.b", &"x".repeat(64)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_pinned_view_serves_its_generation_until_moved() {
        let (_dir, meta) = store();
        let first = commit(meta.as_ref(), vec![entry("a", 1)]);
        create(meta.as_ref(), "production", None, 0, "ops", 10).expect("create");
        let second = commit(meta.as_ref(), vec![entry("a", 2), entry("b", 3)]);
        let view = Pinned::new(meta.clone(), "production");
        assert_eq!(view.current().unwrap().map(|g| g.id), Some(first));
        assert_eq!(meta.current().unwrap().map(|g| g.id), Some(second));
        // The view refuses changes.
        assert!(matches!(
            view.commit(NewGeneration::default()),
            Err(StoreError::Unsupported(_))
        ));

        let moved = promote(meta.as_ref(), DEFAULT, "production", "ops", 20).expect("promote");
        assert_eq!((moved.from, moved.to), (first, second));
        assert_eq!(view.current().unwrap().map(|g| g.id), Some(second));
        let diff = diff(meta.as_ref(), first, second).expect("diff");
        assert_eq!(diff.added.len(), 1);
        assert_eq!(diff.changed.len(), 1);
        assert!(diff.removed.is_empty());

        let back = rollback(meta.as_ref(), "production", None, "ops", 30).expect("rollback");
        assert_eq!(back.to, first);
        assert_eq!(view.current().unwrap().map(|g| g.id), Some(first));
        // Nothing further back: the first rollback used the history up.
        assert!(matches!(
            rollback(meta.as_ref(), "production", None, "ops", 40),
            Err(EnvironmentError::NoHistory(_))
        ));
        // An explicit generation works while it is retained.
        rollback(meta.as_ref(), "production", Some(second), "ops", 50).expect("to");
        assert!(matches!(
            rollback(meta.as_ref(), "production", Some(99), "ops", 50),
            Err(EnvironmentError::NotRetained(99))
        ));
        assert_eq!(oldest_pinned(meta.as_ref()).unwrap(), Some(first));
    }

    #[test]
    fn approvals_and_unknown_names_are_refused() {
        let (_dir, meta) = store();
        commit(meta.as_ref(), vec![entry("a", 1)]);
        create(meta.as_ref(), "production", None, 2, "ops", 1).expect("create");
        assert!(matches!(
            create(meta.as_ref(), "production", None, 0, "ops", 1),
            Err(EnvironmentError::Exists(_))
        ));
        assert!(matches!(
            promote(meta.as_ref(), DEFAULT, "production", "ops", 2),
            Err(EnvironmentError::NeedsApprovals { approvals: 2, .. })
        ));
        assert!(matches!(
            promote(meta.as_ref(), "nowhere", "production", "ops", 2),
            Err(EnvironmentError::NeedsApprovals { .. })
        ));
        assert!(matches!(
            rollback(meta.as_ref(), "nowhere", None, "ops", 2),
            Err(EnvironmentError::Unknown(_))
        ));
        assert!(matches!(
            create(meta.as_ref(), "default", None, 0, "ops", 1),
            Err(EnvironmentError::InvalidName(_))
        ));
        assert!(
            Pinned::new(meta.clone(), "nowhere")
                .current()
                .unwrap()
                .is_none()
        );
        delete(meta.as_ref(), "production").expect("delete");
        assert!(list(meta.as_ref()).unwrap().is_empty());
    }
}
