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

mod pipeline;

use pipeline::run;

/// Where the importer's state lives and what it trusts.
pub struct ImportOptions<'a> {
    /// The airlift home (quarantine, trust state).
    pub layout: &'a Layout,
    /// A root to trust instead of the home's (for `verify --trust` on the connected side).
    pub trusted_root: Option<&'a Path>,
    /// How much an import may remove without being told to.
    pub removals: RemovalPolicy,
    /// Whether an entry is hosted content (published inside this site,
    /// owned by no bundle): an import keeps every hosted entry it finds
    /// and refuses a bundle that brings one.
    pub hosted: Option<Hosted>,
    /// The site's admission check (its import policy on advisories), run
    /// on the verified entries before anything is committed; `plan` shows
    /// its report.
    pub admission: Option<Admission>,
}

/// What an admission check is given: the bundle's verified entries, and a
/// reader of the blobs they name (from the bundle's verified copies or the
/// store), each at most [`ADMISSION_BLOB_LIMIT`] bytes.
pub struct AdmissionInput<'a> {
    /// The bundle's entries, as its signed index documents list them.
    pub entries: &'a [Entry],
    /// The bytes of a blob the entries name.
    pub blob: &'a dyn Fn(&Digest) -> Result<Vec<u8>, String>,
}

/// What an admission check decided: a report (shown by `plan` and
/// `import`, recorded in the audit log) and, when the bundle must be
/// refused, why.
pub struct AdmissionOutcome {
    /// The check's report.
    pub report: serde_json::Value,
    /// Why the bundle is refused, if it is.
    pub refusal: Option<String>,
}

/// The largest blob an admission check can read (an advisory record is at
/// most 4 MiB).
pub const ADMISSION_BLOB_LIMIT: u64 = 4 << 20;

/// The site's admission check (see [`ImportOptions::admission`]).
#[derive(Clone)]
pub struct Admission(
    pub std::sync::Arc<dyn Fn(&AdmissionInput<'_>) -> AdmissionOutcome + Send + Sync>,
);

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Admission(..)")
    }
}

/// Runs the admission check over a checked bundle.
fn admit(checked: &Checked, store: &Store, admission: &Admission) -> AdmissionOutcome {
    let read = |digest: &Digest| -> Result<Vec<u8>, String> {
        use std::io::Read as _;
        let mut bytes = Vec::new();
        if let Some((_, path, _)) = checked.quarantined.iter().find(|(d, _, _)| d == digest) {
            fs::File::open(path)
                .and_then(|f| f.take(ADMISSION_BLOB_LIMIT + 1).read_to_end(&mut bytes))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        } else {
            store
                .blobs
                .open(digest)
                .map_err(|e| format!("blob {digest}: {e}"))?
                .take(ADMISSION_BLOB_LIMIT + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("blob {digest}: {e}"))?;
        }
        if bytes.len() as u64 > ADMISSION_BLOB_LIMIT {
            return Err(format!(
                "blob {digest} is over {ADMISSION_BLOB_LIMIT} bytes"
            ));
        }
        Ok(bytes)
    };
    (admission.0)(&AdmissionInput {
        entries: &checked.entries,
        blob: &read,
    })
}

/// Tells hosted entries (see [`ImportOptions::hosted`]).
#[derive(Clone)]
pub struct Hosted(pub std::sync::Arc<dyn Fn(&Entry) -> bool + Send + Sync>);

impl Hosted {
    /// Whether `entry` is hosted content.
    pub fn matches(&self, entry: &Entry) -> bool {
        (self.0)(entry)
    }
}

impl std::fmt::Debug for Hosted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hosted(..)")
    }
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
    /// Hosted entries served now, which the import keeps.
    pub hosted_kept: u64,
    /// Entries of the bundle that are hosted names here, as
    /// `ecosystem/key`: an import that brings any is refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosted_conflicts: Vec<String>,
    /// The hosted entries themselves, for the commit.
    #[serde(skip)]
    pub kept: Vec<Entry>,
}

/// Compares the entries a bundle brings with those served now, under
/// `policy`.
fn removals(
    store: &Store,
    incoming: &[Entry],
    policy: RemovalPolicy,
    hosted: Option<&Hosted>,
) -> Result<Removals, BundleError> {
    let is_hosted = |entry: &Entry| hosted.is_some_and(|h| h.matches(entry));
    let hosted_conflicts: Vec<String> = incoming
        .iter()
        .filter(|e| is_hosted(e))
        .map(|e| format!("{}/{}", e.ecosystem, e.key))
        .collect();
    let conflict = (!hosted_conflicts.is_empty()).then(|| {
        let shown: Vec<&str> = hosted_conflicts.iter().take(3).map(String::as_str).collect();
        format!(
            "it brings {} entries under names this site hosts ({}{}); a name is either imported or hosted, never both: rename them on one side, or change the site's [[hosted]] rules",
            hosted_conflicts.len(),
            shown.join(", "),
            if hosted_conflicts.len() > shown.len() { ", …" } else { "" }
        )
    });
    let Some(current) = store.meta.current()? else {
        return Ok(Removals {
            removed: 0,
            current: 0,
            local: Vec::new(),
            refused: conflict,
            hosted_kept: 0,
            hosted_conflicts,
            kept: Vec::new(),
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
    let mut kept = Vec::new();
    for entry in &served {
        if incoming.contains(&(entry.ecosystem.as_str(), entry.key.as_str())) {
            continue;
        }
        if is_hosted(entry) {
            kept.push(entry.clone());
            continue;
        }
        removed += 1;
        if !imported.contains(&(entry.ecosystem.clone(), entry.key.clone())) {
            local.push(format!("{}/{}", entry.ecosystem, entry.key));
        }
    }
    let total = served.len() as u64;
    let refused = if conflict.is_some() {
        conflict
    } else if policy.allow {
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
        hosted_kept: kept.len() as u64,
        hosted_conflicts,
        kept,
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
        /// The admission check's report, when the site has one.
        #[serde(skip_serializing_if = "Option::is_none")]
        admission: Option<serde_json::Value>,
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
    /// The admission check's report, when the site has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admission: Option<serde_json::Value>,
    /// Why the admission check would refuse the bundle, if it would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admission_refusal: Option<String>,
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
    let admitted = options
        .admission
        .as_ref()
        .map(|admission| admit(&checked, store, admission));
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
    let removal_check = removals(
        store,
        &checked.entries,
        options.removals,
        options.hosted.as_ref(),
    )?;
    let mut plan = Plan {
        removals: removal_check,
        handoffs: checked.handoffs.clone(),
        handoffs_verified: checked.handoffs_verified,
        admission_refusal: admitted.as_ref().and_then(|a| a.refusal.clone()),
        admission: admitted.map(|a| a.report),
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
    let mut kept = Vec::new();
    if !checked.already_imported {
        let check = removals(
            store,
            &checked.entries,
            options.removals,
            options.hosted.as_ref(),
        );
        let refusal = match check {
            Ok(Removals {
                refused: Some(reason),
                hosted_conflicts,
                ..
            }) if !hosted_conflicts.is_empty() => Some(Err(BundleError::HostedConflict {
                reason,
                conflicts: hosted_conflicts.len() as u64,
            })),
            Ok(Removals {
                refused: Some(reason),
                removed,
                ..
            }) => Some(Err(BundleError::TooManyRemovals { reason, removed })),
            Ok(check) => {
                kept = check.kept;
                None
            }
            Err(e) => Some(Err(e)),
        };
        if let Some(refusal) = refusal {
            remove_work(&checked.work);
            return refusal;
        }
    }
    let mut admitted = None;
    if !checked.already_imported
        && let Some(admission) = &options.admission
    {
        let outcome = admit(&checked, store, admission);
        if let Some(reason) = outcome.refusal {
            remove_work(&checked.work);
            return Err(BundleError::Admission {
                reason,
                report: outcome.report,
            });
        }
        admitted = Some(outcome.report);
    }
    let result = if checked.already_imported {
        repair(&checked, store, options.layout)
    } else {
        commit(&checked, kept, store, options.layout, admitted)
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

/// Commits the bundle's entries and the hosted entries `kept` as the new
/// generation.
fn commit(
    checked: &Checked,
    kept: Vec<Entry>,
    store: &Store,
    layout: &Layout,
    admission: Option<serde_json::Value>,
) -> Result<ImportOutcome, BundleError> {
    let (blobs_added, bytes_added) = adopt_blobs(checked, store)?;
    let now = jiff::Timestamp::now().as_second();
    let mut entries = checked.entries.clone();
    entries.extend(kept);
    let generation = store.meta.commit(NewGeneration {
        source: format!("import {}", checked.bundle_id),
        created_at: now,
        entries,
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
        admission,
    })
}

fn promote_trust_state(checked: &Checked, layout: &Layout) -> Result<(), BundleError> {
    let live = layout.tuf_state_dir();
    let fresh = checked.work.join("tuf-state");
    let old = layout.tuf_state_backup();
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
