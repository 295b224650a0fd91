//! Verify, plan and import: one pipeline, three outcomes.
//!
//! The bundle is read once, as a stream of entries. Metadata comes first and
//! is copied into a private quarantine directory, then verified with TUF
//! against the trusted root and a copy of the client state. Every target that
//! follows must be listed in the verified metadata with the same length; it is
//! hashed while being copied into quarantine (import) or into nothing (verify,
//! plan). Only when every listed target is accounted for, and every index
//! document parses and refers to listed blobs, does an import move the blobs
//! into the store and commit a new index generation, in that order. A crash at
//! any point leaves the previous generation current; blobs moved before the
//! crash are unreferenced and harmless, and the next import completes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use airlift_core::{Digest, copy_hashing};
use airlift_store::layout::Layout;
use airlift_store::{Entry, Generation, NewGeneration, Store, state_keys};
use airlift_trust::{TargetInfo, VerifiedMetadata};
use serde::{Deserialize, Serialize};

use crate::format::{self, EntryKind};
use crate::source::{BundleForm, for_each_entry};
use crate::{BundleError, Progress};

/// Where the importer's state lives and what it trusts.
pub struct ImportOptions<'a> {
    /// The airlift home (quarantine, trust state).
    pub layout: &'a Layout,
    /// A root to trust instead of the home's (for `verify --trust` on the connected side).
    pub trusted_root: Option<&'a Path>,
    /// How much an import may remove without being told to.
    pub removals: RemovalPolicy,
}

/// How many of the served entries an import may remove before it is
/// refused: an empty bundle, or one packed from the wrong store, must not
/// wipe a site.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RemovalPolicy {
    /// Remove whatever the bundle leaves out (`import --allow-removals`).
    pub allow: bool,
    /// Otherwise, the largest share of the current entries, in percent,
    /// that an import may remove.
    pub max_percent: u8,
}

/// The share of entries an import may remove by default, in percent.
pub const DEFAULT_MAX_REMOVAL_PERCENT: u8 = 10;

impl Default for RemovalPolicy {
    fn default() -> Self {
        Self {
            allow: false,
            max_percent: DEFAULT_MAX_REMOVAL_PERCENT,
        }
    }
}

/// What an import would remove, and whether the policy lets it.
#[derive(Clone, Debug, Serialize)]
pub struct Removals {
    /// Entries the import would remove.
    pub removed: u64,
    /// Entries served now.
    pub current: u64,
    /// Of the removed entries, those that no imported bundle brought
    /// (pushed to this server, or collected here), as `ecosystem/key`.
    pub local: Vec<String>,
    /// Why the import would be refused, when it would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// Compares the entries a bundle brings with those served now, under
/// `policy`.
fn removals(
    store: &Store,
    incoming: &[Entry],
    policy: RemovalPolicy,
) -> Result<Removals, BundleError> {
    let Some(current) = store.meta.current()? else {
        return Ok(Removals {
            removed: 0,
            current: 0,
            local: Vec::new(),
            refused: None,
        });
    };
    let incoming: BTreeSet<(&str, &str)> = incoming
        .iter()
        .map(|e| (e.ecosystem.as_str(), e.key.as_str()))
        .collect();
    let served = store.meta.entries(current.id, None)?;
    // What the last import brought; anything served that it did not bring
    // came from inside the gap.
    let last_import = store
        .meta
        .generations()?
        .into_iter()
        .rev()
        .find(|g| g.source.starts_with("import "));
    let imported: BTreeSet<(String, String)> = match &last_import {
        Some(generation) => store
            .meta
            .entries(generation.id, None)?
            .into_iter()
            .map(|e| (e.ecosystem, e.key))
            .collect(),
        None => BTreeSet::new(),
    };
    let mut removed = 0u64;
    let mut local = Vec::new();
    for entry in &served {
        if incoming.contains(&(entry.ecosystem.as_str(), entry.key.as_str())) {
            continue;
        }
        removed += 1;
        if !imported.contains(&(entry.ecosystem.clone(), entry.key.clone())) {
            local.push(format!("{}/{}", entry.ecosystem, entry.key));
        }
    }
    let total = served.len() as u64;
    let refused = if policy.allow {
        None
    } else if !local.is_empty() {
        let shown: Vec<&str> = local.iter().take(3).map(String::as_str).collect();
        Some(format!(
            "it would remove {} entries that no imported bundle brought (pushed to this server or collected here: {}{})",
            local.len(),
            shown.join(", "),
            if local.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        ))
    } else if removed * 100 > u64::from(policy.max_percent) * total {
        Some(format!(
            "it would remove {removed} of the {total} entries served now ({}%), more than the {}% allowed; an empty bundle or one packed from the wrong store looks like this",
            removed * 100 / total.max(1),
            policy.max_percent
        ))
    } else {
        None
    };
    Ok(Removals {
        removed,
        current: total,
        local,
        refused,
    })
}

/// The result of an import.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ImportOutcome {
    /// A new generation is current.
    Imported {
        /// Bundle id.
        bundle_id: Digest,
        /// Bundle version.
        version: u64,
        /// The new generation.
        generation: Generation,
        /// Blobs added to the store.
        blobs_added: u64,
        /// Bytes added to the store.
        bytes_added: u64,
        /// The chain of custody that came with the bundle, checked.
        handoffs: Vec<airlift_trust::custody::Handoff>,
        /// Whether the signers of the hand-offs were verified against the
        /// site's custody policy (without one, only the rest is checked).
        handoffs_verified: bool,
    },
    /// The bundle was already imported: the index is unchanged.
    AlreadyImported {
        /// Bundle id.
        bundle_id: Digest,
        /// Bundle version.
        version: u64,
        /// Blobs of this bundle that were missing from the store and were restored.
        blobs_restored: u64,
    },
}

/// One change an import would make.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct PlanChange {
    /// Ecosystem.
    pub ecosystem: String,
    /// Key in the ecosystem.
    pub key: String,
    /// Digest before (changed, removed).
    pub from: Option<Digest>,
    /// Digest after (added, changed).
    pub to: Option<Digest>,
    /// Size after, or before when removed.
    pub size: u64,
    /// The ecosystem's remark about the new entry (its `meta.note`), such as
    /// platforms an image index leaves out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What an import would do.
#[derive(Debug, Serialize)]
pub struct Plan {
    /// Bundle id.
    pub bundle_id: Digest,
    /// Bundle version.
    pub version: u64,
    /// True when this bundle is the last one imported (an import is a no-op).
    pub already_imported: bool,
    /// Entries that would appear.
    pub added: Vec<PlanChange>,
    /// Entries whose content would change.
    pub changed: Vec<PlanChange>,
    /// Entries that would disappear.
    pub removed: Vec<PlanChange>,
    /// Entries that stay as they are.
    pub unchanged: u64,
    /// Blobs the store does not have yet.
    pub new_blobs: u64,
    /// Their bytes.
    pub new_bytes: u64,
    /// What the import would remove, and whether that would be refused.
    pub removals: Removals,
    /// The chain of custody that came with the bundle, checked.
    pub handoffs: Vec<airlift_trust::custody::Handoff>,
    /// Whether the hand-offs' signers were verified against the site's
    /// custody policy.
    pub handoffs_verified: bool,
}

/// What `verify` established.
#[derive(Debug, Serialize)]
pub struct Verified {
    /// Bundle id.
    pub bundle_id: Digest,
    /// Bundle version.
    pub version: u64,
    /// When the bundle expires.
    pub expires: String,
    /// Targets checked.
    pub targets: u64,
    /// Bytes hashed.
    pub bytes: u64,
    /// Index entries.
    pub entries: u64,
    /// True when this bundle is the last one imported.
    pub already_imported: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Verify,
    Import,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexDocument {
    ecosystem: String,
    entries: Vec<Entry>,
}

/// Everything the pipeline learned about a bundle that passed every check.
struct Checked {
    work: PathBuf,
    verified: VerifiedMetadata,
    bundle_id: Digest,
    already_imported: bool,
    entries: Vec<Entry>,
    /// Blobs copied into quarantine, to adopt into the store.
    quarantined: Vec<(Digest, PathBuf, u64)>,
    bytes: u64,
    time_floor: Option<i64>,
    /// The pack statement's sequence number, when the bundle has one.
    sequence: Option<u64>,
    /// The chain of custody, checked.
    handoffs: Vec<airlift_trust::custody::Handoff>,
    /// Whether its signers were verified against the site's policy.
    handoffs_verified: bool,
}

/// Verifies a bundle completely without changing the store.
pub fn verify(
    bundle: &Path,
    store: &Store,
    options: &ImportOptions<'_>,
    progress: &dyn Progress,
) -> Result<Verified, BundleError> {
    let form = BundleForm::detect(bundle)?;
    let _lock = ImportLock::acquire(options.layout)?;
    let checked = run(&form, store, options, Mode::Verify, progress)?;
    let result = Verified {
        bundle_id: checked.bundle_id,
        version: checked.verified.version,
        expires: airlift_trust::metadata::format_time(checked.verified.expires),
        targets: checked.verified.targets.len() as u64,
        bytes: checked.bytes,
        entries: checked.entries.len() as u64,
        already_imported: checked.already_imported,
    };
    remove_work(&checked.work);
    Ok(result)
}

/// Verifies a bundle and reports what importing it would change.
pub fn plan(
    bundle: &Path,
    store: &Store,
    options: &ImportOptions<'_>,
    progress: &dyn Progress,
) -> Result<Plan, BundleError> {
    let form = BundleForm::detect(bundle)?;
    let _lock = ImportLock::acquire(options.layout)?;
    let checked = run(&form, store, options, Mode::Verify, progress)?;
    remove_work(&checked.work);
    let current: BTreeMap<(String, String), Entry> = match store.meta.current()? {
        Some(generation) => store
            .meta
            .entries(generation.id, None)?
            .into_iter()
            .map(|e| ((e.ecosystem.clone(), e.key.clone()), e))
            .collect(),
        None => BTreeMap::new(),
    };
    let removal_check = removals(store, &checked.entries, options.removals)?;
    let mut plan = Plan {
        removals: removal_check,
        handoffs: checked.handoffs.clone(),
        handoffs_verified: checked.handoffs_verified,
        bundle_id: checked.bundle_id,
        version: checked.verified.version,
        already_imported: checked.already_imported,
        added: Vec::new(),
        changed: Vec::new(),
        removed: Vec::new(),
        unchanged: 0,
        new_blobs: 0,
        new_bytes: 0,
    };
    let mut incoming = BTreeSet::new();
    let mut counted_blobs = BTreeSet::new();
    for entry in &checked.entries {
        let id = (entry.ecosystem.clone(), entry.key.clone());
        incoming.insert(id.clone());
        if counted_blobs.insert(entry.digest) && store.blobs.size(&entry.digest)?.is_none() {
            plan.new_blobs += 1;
            plan.new_bytes += entry.size;
        }
        let change = PlanChange {
            ecosystem: entry.ecosystem.clone(),
            key: entry.key.clone(),
            from: current.get(&id).map(|e| e.digest),
            to: Some(entry.digest),
            size: entry.size,
            note: entry.meta["note"].as_str().map(str::to_owned),
        };
        match current.get(&id) {
            None => plan.added.push(change),
            Some(old) if old.digest != entry.digest => plan.changed.push(change),
            Some(_) => plan.unchanged += 1,
        }
    }
    for (id, old) in &current {
        if !incoming.contains(id) {
            plan.removed.push(PlanChange {
                ecosystem: id.0.clone(),
                key: id.1.clone(),
                from: Some(old.digest),
                to: None,
                size: old.size,
                note: None,
            });
        }
    }
    Ok(plan)
}

/// Imports a bundle: all checks, then blobs, then one atomic generation switch.
pub fn import(
    bundle: &Path,
    store: &Store,
    options: &ImportOptions<'_>,
    progress: &dyn Progress,
) -> Result<ImportOutcome, BundleError> {
    let form = BundleForm::detect(bundle)?;
    let _lock = ImportLock::acquire(options.layout)?;
    let checked = run(&form, store, options, Mode::Import, progress)?;
    crate::failpoint("import-before-commit");
    if !checked.already_imported {
        let check = removals(store, &checked.entries, options.removals);
        let refusal = match check {
            Ok(Removals {
                refused: Some(reason),
                removed,
                ..
            }) => Some(Err(BundleError::TooManyRemovals { reason, removed })),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        };
        if let Some(refusal) = refusal {
            remove_work(&checked.work);
            return refusal;
        }
    }
    let result = if checked.already_imported {
        repair(&checked, store, options.layout)
    } else {
        commit(&checked, store, options.layout)
    };
    remove_work(&checked.work);
    result
}

/// Moves the verified quarantine copies of blobs the store lacks into the store.
fn adopt_blobs(checked: &Checked, store: &Store) -> Result<(u64, u64), BundleError> {
    let (mut blobs, mut bytes) = (0, 0);
    for (digest, path, size) in &checked.quarantined {
        if store.blobs.size(digest)?.is_none() {
            store.blobs.adopt(path, digest)?;
            blobs += 1;
            bytes += size;
            crate::failpoint("import-mid-adopt");
        }
    }
    Ok((blobs, bytes))
}

/// The bundle is already the current one: restore any of its blobs that the
/// store lost (for example removed by `fsck --repair`), and make sure the TUF
/// state it was verified with is the persisted one (a crash between commit
/// and promotion leaves the older state behind).
fn repair(checked: &Checked, store: &Store, layout: &Layout) -> Result<ImportOutcome, BundleError> {
    let (blobs_restored, _) = adopt_blobs(checked, store)?;
    promote_trust_state(checked, layout)?;
    Ok(ImportOutcome::AlreadyImported {
        bundle_id: checked.bundle_id,
        version: checked.verified.version,
        blobs_restored,
    })
}

fn commit(checked: &Checked, store: &Store, layout: &Layout) -> Result<ImportOutcome, BundleError> {
    let (blobs_added, bytes_added) = adopt_blobs(checked, store)?;
    let now = jiff::Timestamp::now().as_second();
    let generation = store.meta.commit(NewGeneration {
        source: format!("import {}", checked.bundle_id),
        created_at: now,
        entries: checked.entries.clone(),
        state: vec![
            (
                state_keys::LAST_BUNDLE_VERSION.into(),
                checked.verified.version.to_string(),
            ),
            (
                state_keys::LAST_BUNDLE_ID.into(),
                checked.bundle_id.to_string(),
            ),
            (state_keys::LAST_IMPORT_AT.into(), now.to_string()),
            (
                state_keys::TIME_FLOOR.into(),
                now.max(checked.time_floor.unwrap_or(0)).to_string(),
            ),
        ]
        .into_iter()
        .chain(checked.sequence.into_iter().flat_map(|s| {
            [
                (state_keys::LAST_SEQUENCE.to_owned(), s.to_string()),
                (
                    state_keys::LAST_SEQUENCED_BUNDLE.to_owned(),
                    checked.bundle_id.to_string(),
                ),
            ]
        }))
        .collect(),
    })?;
    crate::failpoint("import-after-commit");
    // The generation is committed: now persist the TUF client state it was
    // verified with, and the newest root. A crash before this point is safe:
    // the next import of the same bundle is recognised by its id.
    promote_trust_state(checked, layout)?;
    Ok(ImportOutcome::Imported {
        bundle_id: checked.bundle_id,
        version: checked.verified.version,
        generation,
        blobs_added,
        bytes_added,
        handoffs: checked.handoffs.clone(),
        handoffs_verified: checked.handoffs_verified,
    })
}

fn promote_trust_state(checked: &Checked, layout: &Layout) -> Result<(), BundleError> {
    let live = layout.tuf_state_dir();
    let fresh = checked.work.join("tuf-state");
    let old = layout.trust_dir().join("tuf.old");
    if old.exists() {
        fs::remove_dir_all(&old).map_err(BundleError::io("remove", &old))?;
    }
    if live.exists() {
        fs::rename(&live, &old).map_err(BundleError::io("rename", &live))?;
    }
    fs::rename(&fresh, &live).map_err(BundleError::io("rename", &fresh))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(BundleError::io("remove", &old))?;
    }
    let newest_root = checked
        .work
        .join("metadata")
        .join(format!("{}.root.json", checked.verified.root_version));
    if newest_root.is_file() {
        let bytes = fs::read(&newest_root).map_err(BundleError::io("read", &newest_root))?;
        let trusted = layout.trusted_root();
        if fs::read(&trusted).ok().as_deref() != Some(bytes.as_slice()) {
            airlift_core::write_file_durably(&trusted, &bytes)
                .map_err(BundleError::io("write", &trusted))?;
        }
    }
    Ok(())
}

fn remove_work(work: &Path) {
    if work.exists()
        && let Err(e) = fs::remove_dir_all(work)
    {
        tracing::warn!("could not remove quarantine {}: {e}", work.display());
    }
}

/// Copies a target into a quarantine file while hashing it, at most
/// `length` bytes, and makes it durable. Large targets are written on a
/// writer thread so that disk writes and `fdatasync` overlap with hashing.
fn write_quarantined(
    reader: &mut dyn Read,
    path: &Path,
    length: u64,
) -> Result<(Digest, u64), BundleError> {
    let file = File::create(path).map_err(BundleError::io("create", path))?;
    let read_error = |e: io::Error| {
        if e.get_ref().is_some_and(|inner| inner.is::<BundleError>())
            || e.kind() == io::ErrorKind::UnexpectedEof
        {
            // Damage in the stream itself: let the stream reader name it.
            BundleError::Io {
                action: "read bundle entry",
                path: path.to_path_buf(),
                source: e,
            }
        } else {
            BundleError::io("write", path)(e)
        }
    };
    if length < (4 << 20) {
        let mut file = file;
        let result = copy_hashing(reader, &mut file, length).map_err(read_error)?;
        file.sync_all().map_err(BundleError::io("fsync", path))?;
        return Ok(result);
    }
    let mut writer = airlift_core::ThreadedWriter::new(file, Some(airlift_core::file_checkpoint()))
        .map_err(BundleError::io("write", path))?;
    let result = copy_hashing(reader, &mut writer, length).map_err(read_error)?;
    writer.finish().map_err(BundleError::io("write", path))?;
    Ok(result)
}

/// Serialises imports (and verifies, which share the quarantine) per home.
struct ImportLock {
    _file: File,
}

impl ImportLock {
    fn acquire(layout: &Layout) -> Result<Self, BundleError> {
        let dir = layout.quarantine_dir();
        fs::create_dir_all(&dir).map_err(BundleError::io("create directory", &dir))?;
        let path = dir.join(".lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(BundleError::io("open", &path))?;
        file.try_lock()
            .map_err(|_| BundleError::Busy { lock: path.clone() })?;
        // Leftovers of a killed run: quarantine is private to the lock holder.
        for entry in fs::read_dir(&dir)
            .map_err(BundleError::io("list", &dir))?
            .flatten()
        {
            if entry.file_name() != ".lock" {
                remove_work(&entry.path());
            }
        }
        Ok(Self { _file: file })
    }
}

fn run(
    form: &BundleForm,
    store: &Store,
    options: &ImportOptions<'_>,
    mode: Mode,
    progress: &dyn Progress,
) -> Result<Checked, BundleError> {
    let work = options.layout.quarantine_dir().join(format!(
        "work-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    let mut pipeline = match Pipeline::new(form.path(), &work, store, options, mode) {
        Ok(pipeline) => pipeline,
        Err(e) => {
            remove_work(&work);
            return Err(e);
        }
    };
    progress.start("verify", None);
    let streamed = for_each_entry(form, &mut |name, size, reader| {
        let counted = pipeline.visit(name, size, reader);
        progress.advance(size);
        counted
    });
    progress.finish();
    let result = streamed.and_then(|()| pipeline.finish());
    if result.is_err() {
        remove_work(&work);
    }
    result
}

struct Pipeline<'a> {
    bundle: PathBuf,
    work: PathBuf,
    store: &'a Store,
    mode: Mode,
    trusted_root: Vec<u8>,
    last_version: Option<u64>,
    last_id: Option<String>,
    time_floor: Option<i64>,
    site_id: Option<String>,
    /// Destination and sequence checks apply to this home's own trust; a
    /// verify against an explicit root (the connected side checking its
    /// media) skips them.
    site_checks: bool,
    last_sequence: Option<u64>,
    /// The id of the last imported bundle that carried a pack statement.
    last_sequenced: Option<String>,
    statement: Option<Vec<u8>>,
    seen: BTreeSet<String>,
    pointer: Option<Vec<u8>>,
    verified: Option<(VerifiedMetadata, Digest, bool)>,
    index_documents: BTreeMap<String, Vec<u8>>,
    quarantined: Vec<(Digest, PathBuf, u64)>,
    bytes: u64,
    trust_dir: PathBuf,
}

/// The largest custody chain read: hand-off statements are a few hundred
/// bytes each, and the file lies beside the bundle, unsigned by TUF.
pub const MAX_CUSTODY_CHAIN: u64 = 16 << 20;

/// Reads a custody chain, refusing one over [`MAX_CUSTODY_CHAIN`] bytes.
fn read_chain(path: &Path) -> io::Result<String> {
    let mut text = String::new();
    File::open(path)?
        .take(MAX_CUSTODY_CHAIN + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CUSTODY_CHAIN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the custody chain is over {MAX_CUSTODY_CHAIN} bytes"),
        ));
    }
    Ok(text)
}

/// The custody policy file in the trust directory.
pub const CUSTODY_POLICY: &str = "custody-policy.json";

/// Where the hand-off statements of `bundle` live: next to it, named after
/// the bundle however it is given (`b` or `b/` for a directory; `x.tar.zst`
/// or `x.tar.zst.toc.json` for a split archive).
pub fn custody_chain_path(bundle: &Path) -> PathBuf {
    let text = bundle.to_string_lossy();
    let trimmed = text.trim_end_matches('/');
    let base = trimmed.strip_suffix(".toc.json").unwrap_or(trimmed);
    let base = if base.is_empty() { "bundle" } else { base };
    PathBuf::from(format!("{base}.custody.jsonl"))
}

impl<'a> Pipeline<'a> {
    fn new(
        bundle: &Path,
        work: &Path,
        store: &'a Store,
        options: &ImportOptions<'_>,
        mode: Mode,
    ) -> Result<Self, BundleError> {
        let root_path = options
            .trusted_root
            .map(Path::to_path_buf)
            .unwrap_or_else(|| options.layout.trusted_root());
        let trusted_root = match fs::read(&root_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(BundleError::NoTrust { path: root_path });
            }
            Err(e) => return Err(BundleError::io("read", &root_path)(e)),
        };
        fs::create_dir_all(work.join("metadata"))
            .map_err(BundleError::io("create directory", work))?;
        fs::create_dir_all(work.join("blobs"))
            .map_err(BundleError::io("create directory", work))?;
        // Verify against a copy of the client state: a rejected bundle must
        // not advance what the importer trusts.
        let state_copy = work.join("tuf-state");
        fs::create_dir_all(&state_copy)
            .map_err(BundleError::io("create directory", &state_copy))?;
        if options.trusted_root.is_none() {
            let live = options.layout.tuf_state_dir();
            let old = options.layout.trust_dir().join("tuf.old");
            if !live.exists() && old.is_dir() {
                // A crash in the middle of promoting state: the old state is
                // the last complete one.
                fs::rename(&old, &live).map_err(BundleError::io("restore", &old))?;
            }
            if live.is_dir() {
                for entry in fs::read_dir(&live).map_err(BundleError::io("list", &live))? {
                    let entry = entry.map_err(BundleError::io("list", &live))?;
                    let target = state_copy.join(entry.file_name());
                    fs::copy(entry.path(), &target)
                        .map_err(BundleError::io("copy", entry.path()))?;
                }
            }
        }
        let parse = |value: Option<String>| value.and_then(|v| v.parse::<u64>().ok());
        Ok(Self {
            bundle: bundle.to_path_buf(),
            work: work.to_path_buf(),
            store,
            mode,
            trusted_root,
            last_version: parse(store.meta.state(state_keys::LAST_BUNDLE_VERSION)?),
            last_id: store.meta.state(state_keys::LAST_BUNDLE_ID)?,
            time_floor: store
                .meta
                .state(state_keys::TIME_FLOOR)?
                .and_then(|v| v.parse::<i64>().ok()),
            site_id: match fs::read_to_string(options.layout.trust_dir().join("site-id")) {
                Ok(text) => Some(text.trim().to_owned()).filter(|s| !s.is_empty()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(BundleError::io(
                        "read",
                        &options.layout.trust_dir().join("site-id"),
                    )(e));
                }
            },
            site_checks: options.trusted_root.is_none(),
            trust_dir: options.layout.trust_dir(),
            last_sequence: store
                .meta
                .state(state_keys::LAST_SEQUENCE)?
                .and_then(|v| v.parse::<u64>().ok()),
            last_sequenced: store.meta.state(state_keys::LAST_SEQUENCED_BUNDLE)?,
            statement: None,
            seen: BTreeSet::new(),
            pointer: None,
            verified: None,
            index_documents: BTreeMap::new(),
            quarantined: Vec::new(),
            bytes: 0,
        })
    }

    fn visit(&mut self, name: &str, size: u64, reader: &mut dyn Read) -> Result<(), BundleError> {
        let kind = format::classify(name)?;
        if !self.seen.insert(name.to_owned()) {
            return Err(BundleError::entry(name, "appears twice"));
        }
        match kind {
            EntryKind::Pointer | EntryKind::Metadata(_) => {
                if self.verified.is_some() {
                    return Err(BundleError::entry(
                        name,
                        "comes after the targets; metadata must come first (reordered archive?)",
                    ));
                }
                let limit = format::metadata_limit(&kind);
                if size > limit {
                    return Err(BundleError::entry(
                        name,
                        format!("is {size} bytes, over the {limit}-byte limit"),
                    ));
                }
                let truncated =
                    || BundleError::entry(name, "is shorter than its header says (truncated)");
                match kind {
                    EntryKind::Pointer => {
                        let mut bytes = Vec::with_capacity(size as usize);
                        let (_, length) = copy_hashing(reader, &mut bytes, limit)
                            .map_err(BundleError::io("read", name))?;
                        if length != size {
                            return Err(truncated());
                        }
                        self.pointer = Some(bytes);
                    }
                    EntryKind::Metadata(file) => {
                        // Streamed to quarantine, never held in memory: until
                        // TUF has verified the role that lists it, this file is
                        // read only up to the length a verified role gives.
                        let path = self.work.join("metadata").join(file);
                        let out =
                            fs::File::create(&path).map_err(BundleError::io("write", &path))?;
                        let mut out = io::BufWriter::new(out);
                        let (_, length) = copy_hashing(reader, &mut out, limit)
                            .map_err(BundleError::io("read", name))?;
                        io::Write::flush(&mut out).map_err(BundleError::io("write", &path))?;
                        if length != size {
                            return Err(truncated());
                        }
                    }
                    EntryKind::Target(_) => {}
                }
                Ok(())
            }
            EntryKind::Target(target) => {
                self.ensure_verified()?;
                self.target(&target, size, reader)
            }
        }
    }

    /// Runs TUF verification once all metadata is in quarantine.
    fn ensure_verified(&mut self) -> Result<(), BundleError> {
        if self.verified.is_some() {
            return Ok(());
        }
        let pointer = self.pointer.as_ref().ok_or_else(|| {
            BundleError::entry(format::POINTER, "is missing or does not come first")
        })?;
        let parsed: serde_json::Value = serde_json::from_slice(pointer)
            .map_err(|e| BundleError::entry(format::POINTER, format!("is not JSON: {e}")))?;
        if parsed["format"] != format::FORMAT {
            return Err(BundleError::entry(
                format::POINTER,
                format!(
                    "has format {}, this airlift reads {}",
                    parsed["format"],
                    format::FORMAT
                ),
            ));
        }
        let metadata_dir = self.work.join("metadata");
        for required in [
            "timestamp.json",
            "snapshot.json",
            "targets.json",
            "1.root.json",
        ] {
            if !metadata_dir.join(required).is_file() {
                return Err(BundleError::entry(
                    &format!("metadata/{required}"),
                    "is missing from the bundle",
                ));
            }
        }
        let timestamp = metadata_dir.join("timestamp.json");
        let timestamp_bytes = fs::read(&timestamp).map_err(BundleError::io("read", &timestamp))?;
        let bundle_id = Digest::of(&timestamp_bytes);
        let already = self.last_id.as_deref() == Some(bundle_id.to_string().as_str());
        self.check_root_files(&metadata_dir)?;
        let verified = airlift_trust::verify_metadata(
            &self.trusted_root,
            &metadata_dir,
            &self.work.join("tuf-state"),
        )
        .map_err(|error| self.explain_refusal(error, &timestamp_bytes, already))?;
        if !already
            && let Some(floor) = self.time_floor
            && verified.expires.as_second() < floor
        {
            return Err(BundleError::ExpiredBeforeFloor {
                expires: airlift_trust::metadata::format_time(verified.expires),
                floor: jiff::Timestamp::from_second(floor)
                    .map(airlift_trust::metadata::format_time)
                    .unwrap_or_else(|_| floor.to_string()),
            });
        }
        if !already
            && let Some(last) = self.last_version
            && verified.version <= last
        {
            return Err(BundleError::Rollback {
                version: verified.version,
                last,
            });
        }
        self.verified = Some((verified, bundle_id, already));
        Ok(())
    }

    /// The bundle's copy of the trusted root's version must be byte-identical
    /// to the trusted root: TUF only reads newer roots, so without this check
    /// a damaged copy of an old root would pass unnoticed.
    fn check_root_files(&self, metadata_dir: &Path) -> Result<(), BundleError> {
        // The chain must be whole: a version after a missing one would never
        // be read by TUF, and a bundle that carries one was tampered with.
        let mut versions: Vec<u64> = fs::read_dir(metadata_dir)
            .map_err(BundleError::io("list", metadata_dir))?
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".root.json"))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .collect();
        versions.sort_unstable();
        for pair in versions.windows(2) {
            if pair[1] != pair[0] + 1 {
                return Err(BundleError::entry(
                    &format!("metadata/{}.root.json", pair[1]),
                    format!(
                        "the root chain skips version {} (it has {} and {}): refused",
                        pair[0] + 1,
                        pair[0],
                        pair[1]
                    ),
                ));
            }
        }
        let trusted_version = serde_json::from_slice::<serde_json::Value>(&self.trusted_root)
            .ok()
            .and_then(|v| v["signed"]["version"].as_u64());
        let Some(version) = trusted_version else {
            return Ok(());
        };
        let name = format!("{version}.root.json");
        match fs::read(metadata_dir.join(&name)) {
            Ok(bytes) if bytes == self.trusted_root => Ok(()),
            Ok(_) => Err(BundleError::entry(
                &format!("metadata/{name}"),
                "differs from the trusted root of the same version (altered, or packed for another site)",
            )),
            // Older bundles may start their chain later; TUF decides.
            Err(_) => Ok(()),
        }
    }

    /// Names the bundle rather than the quarantine copy, and recognises a
    /// rollback that the TUF client refused before our own version check.
    fn explain_refusal(
        &self,
        error: airlift_trust::TrustError,
        timestamp: &[u8],
        already: bool,
    ) -> BundleError {
        let unverified_version = serde_json::from_slice::<serde_json::Value>(timestamp)
            .ok()
            .and_then(|v| v["signed"]["version"].as_u64());
        let tuf_rollback = matches!(
            &error,
            airlift_trust::TrustError::Verification { message, .. }
                if message.contains("previously fetched version")
        );
        if let (Some(version), Some(last)) = (unverified_version, self.last_version)
            && !already
            && version <= last
            && tuf_rollback
        {
            return BundleError::Rollback { version, last };
        }
        match error {
            airlift_trust::TrustError::Verification { message, .. } => {
                BundleError::Trust(airlift_trust::TrustError::Verification {
                    path: self.bundle.join("metadata"),
                    message,
                })
            }
            other => BundleError::Trust(other),
        }
    }

    fn target(
        &mut self,
        target: &str,
        size: u64,
        reader: &mut dyn Read,
    ) -> Result<(), BundleError> {
        let Some((verified, _, _)) = self.verified.as_ref() else {
            return Err(BundleError::entry(target, "arrived before verification"));
        };
        let info: TargetInfo = verified.targets.get(target).cloned().ok_or_else(|| {
            BundleError::entry(
                &format!("targets/{target}"),
                "is not listed in the signed targets metadata",
            )
        })?;
        if size != info.length {
            return Err(BundleError::entry(
                &format!("targets/{target}"),
                format!("is {size} bytes but the signed length is {}", info.length),
            ));
        }
        let mismatch = |actual: Digest, actual_length: u64| BundleError::TargetMismatch {
            name: target.to_owned(),
            expected: info.sha256,
            expected_length: info.length,
            actual,
            actual_length,
        };
        let read_error = |e: io::Error| BundleError::Io {
            action: "read bundle entry",
            path: PathBuf::from(format!("targets/{target}")),
            source: e,
        };
        if target == format::PACK_STATEMENT {
            if info.length > format::MAX_STATEMENT_SIZE {
                return Err(BundleError::entry(
                    target,
                    "pack statement over the size limit",
                ));
            }
            let mut bytes = Vec::with_capacity(info.length as usize);
            let (digest, length) =
                copy_hashing(reader, &mut bytes, info.length).map_err(read_error)?;
            if digest != info.sha256 || length != info.length {
                return Err(mismatch(digest, length));
            }
            self.statement = Some(bytes);
        } else if target.starts_with("index/") {
            if info.length > format::MAX_INDEX_SIZE {
                return Err(BundleError::entry(
                    target,
                    "index document over the size limit",
                ));
            }
            let mut bytes = Vec::with_capacity(info.length as usize);
            let (digest, length) =
                copy_hashing(reader, &mut bytes, info.length).map_err(read_error)?;
            if digest != info.sha256 || length != info.length {
                return Err(mismatch(digest, length));
            }
            self.index_documents.insert(target.to_owned(), bytes);
        } else if self.mode == Mode::Import && self.store.blobs.size(&info.sha256)?.is_none() {
            let path = self.work.join("blobs").join(info.sha256.hex());
            let (digest, length) = write_quarantined(reader, &path, info.length)?;
            if digest != info.sha256 || length != info.length {
                return Err(mismatch(digest, length));
            }
            self.quarantined.push((info.sha256, path, length));
        } else {
            let (digest, length) =
                copy_hashing(reader, &mut io::sink(), info.length).map_err(read_error)?;
            if digest != info.sha256 || length != info.length {
                return Err(mismatch(digest, length));
            }
        }
        self.bytes += info.length;
        Ok(())
    }

    fn finish(mut self) -> Result<Checked, BundleError> {
        self.ensure_verified()?;
        let Some((verified, bundle_id, already)) = self.verified.take() else {
            return Err(BundleError::entry(
                format::POINTER,
                "bundle was not verified",
            ));
        };
        let mut sequence = None;
        if let Some(bytes) = &self.statement {
            let bad = |reason: String| BundleError::BadIndex {
                name: format::PACK_STATEMENT.into(),
                reason,
            };
            let statement: serde_json::Value =
                serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
            let destination = statement
                .get("destination")
                .and_then(|d| d.as_str())
                .ok_or_else(|| bad("no destination".into()))?
                .to_owned();
            let got = statement
                .get("sequence")
                .and_then(|s| s.as_u64())
                .filter(|s| *s >= 1)
                .ok_or_else(|| bad("no sequence number".into()))?;
            if self.site_checks && self.site_id.as_deref() != Some(destination.as_str()) {
                return Err(BundleError::WrongDestination {
                    destination,
                    site: match &self.site_id {
                        Some(site) => format!("{site:?}"),
                        None => "unnamed (name it with `airlift init --site NAME`)".into(),
                    },
                });
            }
            if self.site_checks && !already {
                let expected = self.last_sequence.map_or(1, |last| last + 1);
                if let Some(last) = self.last_sequence
                    && got <= last
                {
                    return Err(BundleError::SequenceReplay {
                        destination,
                        got,
                        last,
                    });
                }
                if got > expected {
                    return Err(BundleError::SequenceGap {
                        destination,
                        expected,
                        got,
                    });
                }
                // Continuity: the bundle must follow the one this site last
                // imported for it, not another connected side's.
                let previous = statement.get("previous").and_then(|p| p.as_str());
                if let (Some(previous), Some(last)) = (previous, &self.last_sequenced)
                    && previous != last
                {
                    return Err(BundleError::Fork {
                        destination,
                        previous: previous.to_owned(),
                        last: last.clone(),
                    });
                }
            }
            sequence = Some(got);
        }
        // The chain of custody: checked against the site's policy when it
        // has one; without one, a chain that is present is still checked in
        // all but who signed it, and a broken one is refused.
        let mut handoffs = Vec::new();
        let mut handoffs_verified = false;
        if self.site_checks && !already {
            let policy_path = self.trust_dir.join(CUSTODY_POLICY);
            let chain_path = custody_chain_path(&self.bundle);
            let subject = |bundle_id_hex| airlift_trust::custody::Subject {
                bundle_id_hex,
                created: self
                    .statement
                    .as_ref()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                    .and_then(|s| s["created"].as_str().and_then(|t| t.parse().ok()))
                    .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
                expires: verified.expires,
                now: jiff::Timestamp::now(),
            };
            match fs::read(&policy_path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => match read_chain(&chain_path) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(BundleError::io("read", &chain_path)(e)),
                    Ok(text) => {
                        handoffs = airlift_trust::custody::inspect_chain(
                            &text,
                            &subject(&bundle_id.hex()),
                        )
                        .map_err(|e| {
                            BundleError::Custody(format!("{}: {e}", chain_path.display()))
                        })?;
                    }
                },
                Err(e) => return Err(BundleError::io("read", &policy_path)(e)),
                Ok(bytes) => {
                    let policy: airlift_trust::custody::Policy = serde_json::from_slice(&bytes)
                        .map_err(|e| {
                            BundleError::Custody(format!("{}: {e}", policy_path.display()))
                        })?;
                    let text = match read_chain(&chain_path) {
                        Ok(text) => text,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {
                            return Err(BundleError::Custody(format!(
                                "this site's custody policy requires hand-off statements, and {} is missing",
                                chain_path.display()
                            )));
                        }
                        Err(e) => return Err(BundleError::io("read", &chain_path)(e)),
                    };
                    handoffs = airlift_trust::custody::verify_chain(
                        &text,
                        &policy,
                        &subject(&bundle_id.hex()),
                    )
                    .map_err(|e| BundleError::Custody(format!("{}: {e}", chain_path.display())))?;
                    handoffs_verified = true;
                }
            }
        }
        // Every signed target must be accounted for.
        for (name, info) in &verified.targets {
            if self.seen.contains(&format!("targets/{name}")) {
                continue;
            }
            let in_store = name.starts_with("blobs/")
                && self.store.blobs.size(&info.sha256)? == Some(info.length);
            if !in_store {
                return Err(BundleError::MissingTarget {
                    name: name.clone(),
                    digest: info.sha256,
                });
            }
        }
        let mut entries = Vec::new();
        let mut keys = BTreeSet::new();
        for (name, bytes) in &self.index_documents {
            let bad = |reason: String| BundleError::BadIndex {
                name: name.clone(),
                reason,
            };
            let document: IndexDocument =
                serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
            if format::index_target(&document.ecosystem) != *name {
                return Err(bad(format!("declares ecosystem {:?}", document.ecosystem)));
            }
            for entry in document.entries {
                if entry.ecosystem != document.ecosystem {
                    return Err(bad(format!(
                        "entry {:?} belongs to {:?}",
                        entry.key, entry.ecosystem
                    )));
                }
                if entry.key.is_empty()
                    || entry.key.len() > 4096
                    || entry.key.chars().any(char::is_control)
                {
                    return Err(bad(format!("entry key {:?} is not acceptable", entry.key)));
                }
                match verified.targets.get(&format::blob_target(&entry.digest)) {
                    Some(info) if info.length == entry.size => {}
                    _ => {
                        return Err(bad(format!(
                            "entry {:?} refers to {} which is not a signed target of that size",
                            entry.key, entry.digest
                        )));
                    }
                }
                if !keys.insert((entry.ecosystem.clone(), entry.key.clone())) {
                    return Err(bad(format!("entry {:?} appears twice", entry.key)));
                }
                entries.push(entry);
            }
        }
        Ok(Checked {
            work: self.work,
            verified,
            bundle_id,
            already_imported: already,
            entries,
            quarantined: self.quarantined,
            bytes: self.bytes,
            time_floor: self.time_floor,
            sequence,
            handoffs,
            handoffs_verified,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_has_one_chain_file_however_it_is_named() {
        let chain = |p: &str| custody_chain_path(Path::new(p));
        assert_eq!(chain("media/b"), chain("media/b/"));
        assert_eq!(chain("media/b"), PathBuf::from("media/b.custody.jsonl"));
        assert_eq!(chain("x.tar.zst"), chain("x.tar.zst.toc.json"));
        assert_eq!(chain("x.tar"), PathBuf::from("x.tar.custody.jsonl"));
    }
}
