//! `airlift drift`: does what this site serves still match what was
//! approved and carried in?
//!
//! Two kinds, both read from the home alone:
//!
//! - **Integrity.** The last imported bundle's TUF metadata, as the import
//!   persisted it, is verified again against the trusted root (signatures
//!   only: an expired bundle is still what was signed). The generation that
//!   import committed must then say exactly what the bundle's signed index
//!   documents say (each ecosystem's document is rebuilt from the index, as
//!   pack writes it, and compared by SHA-256 and length), every entry's
//!   blob must be a signed target, and every blob the current generation
//!   serves is re-hashed (`--no-rehash` skips that). An entry whose bytes
//!   are intact but that no signed bundle lists is drift, and so is an
//!   index edited in the database.
//! - **Provenance.** What the current generation serves that the import did
//!   not bring: entries added or changed since (pushed, published, hosted),
//!   and entries of the bundle removed since; each with who put it there
//!   and when, from the audit log's registry changes.
//!
//! The counts are kept in the index (an access record of kind `drift`,
//! outside every generation), so that `airlift serve` exports them as
//! metrics without doing the work per scrape. Integrity drift exits with 5
//! (damaged); provenance alone is reported, not failed: hosting is a
//! feature.

use std::collections::{BTreeMap, HashMap};

use airlift_store::Entry;

use super::*;
use crate::cli::DriftArgs;

/// The access-record kind and name the last check's counts are kept under
/// (the server reads them for its metrics).
const RECORD_KIND: &str = airlift_server::DRIFT_RECORD.0;
const RECORD_NAME: &str = airlift_server::DRIFT_RECORD.1;

/// What `airlift drift` reports.
#[derive(Serialize)]
pub(crate) struct DriftReport {
    pub(crate) generation: u64,
    pub(crate) integrity: Integrity,
    pub(crate) provenance: Vec<Provenance>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) hosts: Vec<HostPackage>,
    pub(crate) staleness: StalenessReport,
    pub(crate) counts: Counts,
}

/// What the carried staleness record says of the carried packages.
#[derive(Serialize, Default)]
pub(crate) struct StalenessReport {
    /// When the record was collected (none: the generation carries none).
    pub(crate) collected: Option<String>,
    /// Carried packages whose upstream offered a newer version.
    pub(crate) out_of_date: Vec<OutOfDate>,
    /// Advisory findings on carried packages, with what their fix waits for.
    pub(crate) waiting: Vec<Waiting>,
    /// Advisory findings on the generation's packages by level (unknown,
    /// low, medium, high, critical), when it carries a database.
    #[serde(skip)]
    pub(crate) findings: Option<[u64; 5]>,
}

/// A carried package with newer versions upstream.
#[derive(Serialize)]
pub(crate) struct OutOfDate {
    pub(crate) ecosystem: String,
    pub(crate) name: String,
    /// The newest version carried.
    pub(crate) carried: String,
    /// The newest version upstream offered.
    pub(crate) newest: String,
    /// How many upstream versions are newer than the one carried.
    pub(crate) newer: usize,
    /// When the upstream was read.
    pub(crate) as_of: String,
}

/// An advisory finding on a carried package and where its fix is.
#[derive(Serialize)]
pub(crate) struct Waiting {
    pub(crate) ecosystem: String,
    pub(crate) name: String,
    pub(crate) version: String,
    /// The finding's id.
    pub(crate) advisory: String,
    /// The versions the advisory says fix it.
    pub(crate) fixed: Vec<String>,
    /// `fixed-upstream` (a fixed version is upstream, not carried),
    /// `fixed-carried` (a fixed version is carried too), `no-fix-upstream`
    /// (none upstream when it was read), or `not-recorded` (the staleness
    /// record has no such package).
    pub(crate) status: &'static str,
    /// The oldest upstream version at or above the first fix.
    pub(crate) upstream_fix: Option<String>,
    /// When the upstream was read.
    pub(crate) as_of: Option<String>,
    /// One sentence: `fixed upstream in X (not carried)`, `no fix upstream
    /// as of <date>`, ….
    pub(crate) detail: String,
}

#[derive(Serialize, serde::Deserialize, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub integrity: u64,
    pub provenance: u64,
    /// Host packages that are not what the site serves (with --inventory).
    #[serde(default)]
    pub hosts: u64,
    /// Whether hosts were compared (1) or not (0).
    #[serde(default)]
    pub host_check: u64,
    /// Carried packages with newer versions upstream, as the carried
    /// staleness record says.
    #[serde(default)]
    pub stale: u64,
    /// Whether the generation carries a staleness record (1) or not (0).
    #[serde(default)]
    pub staleness_check: u64,
    /// Advisory findings on the generation's packages, by level.
    #[serde(default)]
    pub findings_critical: u64,
    #[serde(default)]
    pub findings_high: u64,
    #[serde(default)]
    pub findings_medium: u64,
    #[serde(default)]
    pub findings_low: u64,
    #[serde(default)]
    pub findings_unknown: u64,
    /// Whether the generation carries an advisory database (1) or not (0).
    #[serde(default)]
    pub finding_check: u64,
    /// Unix time of the check.
    pub checked_at: i64,
}

#[derive(Serialize, Default)]
pub(crate) struct Integrity {
    /// The bundle the comparison is against (none before any import).
    pub(crate) bundle: Option<String>,
    /// Its version.
    pub(crate) version: Option<u64>,
    /// The generation its import committed.
    pub(crate) import_generation: Option<u64>,
    /// Whether its persisted metadata still verifies against the trusted root.
    pub(crate) signed: bool,
    /// Entries of the import generation compared with the signed index.
    pub(crate) entries_checked: u64,
    /// Blobs re-hashed.
    pub(crate) blobs_checked: u64,
    pub(crate) problems: Vec<Problem>,
}

#[derive(Serialize)]
pub(crate) struct Problem {
    /// `metadata`, `index`, `unsigned-blob` or `corrupt-blob`.
    pub(crate) kind: &'static str,
    pub(crate) ecosystem: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) detail: String,
}

#[derive(Serialize)]
pub(crate) struct Provenance {
    /// `added`, `changed` or `removed` since the import.
    pub(crate) change: &'static str,
    pub(crate) ecosystem: String,
    pub(crate) key: String,
    pub(crate) digest: Option<String>,
    /// Whether the name is one of the site's hosted names.
    pub(crate) hosted: bool,
    /// Who, from the audit log (the caller of the registry change).
    pub(crate) by: Option<String>,
    /// When (the audit event's time).
    pub(crate) at: Option<String>,
}

/// A package a host runs that the site does not serve as it is.
#[derive(Serialize)]
pub(crate) struct HostPackage {
    /// The inventory file.
    pub(crate) inventory: String,
    /// Its OSV ecosystem and name (source package for Debian).
    pub(crate) ecosystem: String,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) purl: String,
    /// `not-carried` (the site serves no such package), `version-not-served`
    /// (it serves other versions) or `not-an-ecosystem-here` (the site
    /// carries no packages of that ecosystem).
    pub(crate) status: &'static str,
    /// The versions the site serves, for `version-not-served`.
    pub(crate) served_versions: Vec<String>,
    /// Advisories that affect the host's version (when a database is carried).
    pub(crate) findings: Vec<String>,
}

pub(crate) fn drift(context: &Context, args: DriftArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let mut report = check_drift(context, &store, args.no_rehash)?;
    if !args.inventory.is_empty() {
        let distro = args.distro.as_deref().map(parse_distro).transpose()?;
        report.hosts = hosts(context, &store, &args.inventory, distro.as_ref())?;
        report.counts.hosts = report.hosts.len() as u64;
        report.counts.host_check = 1;
    }
    let text = serde_json::to_string(&report.counts)
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot encode the counts: {e}")))?;
    store
        .meta
        .put_record(RECORD_KIND, RECORD_NAME, Some(&text), false)?;
    context.emit(&report, || human(&report))?;
    if report.counts.integrity > 0 {
        return Err(Failure::new(
            Exit::Damaged,
            format!(
                "{} integrity problems: what this site serves is not what was signed",
                report.counts.integrity
            ),
        )
        .hint("keep the home as it is for investigation; `airlift fsck` and `airlift audit verify` say more"));
    }
    Ok(())
}

/// Integrity and provenance of the current generation (see the module
/// documentation); `no_rehash` skips re-hashing the blobs.
pub(crate) fn check_drift(
    context: &Context,
    store: &airlift_store::Store,
    no_rehash: bool,
) -> Result<DriftReport, Failure> {
    let current = current_generation(store, "import a bundle first")?;
    let hosted = context.hosted()?;
    let is_hosted = |entry: &Entry| hosted.as_ref().is_some_and(|h| h.matches(entry));
    let mut integrity = Integrity::default();
    let bundle = store
        .meta
        .state(airlift_store::state_keys::LAST_BUNDLE_ID)?;
    let mut imported: Vec<Entry> = Vec::new();
    if let Some(bundle) = &bundle {
        integrity.bundle = Some(bundle.clone());
        let generation = store
            .meta
            .generations()?
            .into_iter()
            .rev()
            .find(|g| g.source == format!("import {bundle}"));
        match generation {
            None => integrity.problems.push(Problem {
                kind: "metadata",
                ecosystem: None,
                key: None,
                detail: format!(
                    "no generation of the index is the import of {bundle}, the last bundle the site records"
                ),
            }),
            Some(generation) => {
                integrity.import_generation = Some(generation.id);
                imported = store.meta.entries(generation.id, None)?;
                check_signed(context, &imported, &is_hosted, &mut integrity)?;
            }
        }
    }

    let entries = store.meta.entries(current.id, None)?;
    if !no_rehash {
        rehash(store, &entries, &mut integrity)?;
    }

    let provenance = provenance(context, &imported, &entries, &is_hosted)?;
    let staleness = staleness(context, store, current.id, &entries)?;
    let counts = Counts {
        integrity: integrity.problems.len() as u64,
        provenance: provenance.len() as u64,
        hosts: 0,
        host_check: 0,
        stale: staleness.out_of_date.len() as u64,
        staleness_check: u64::from(staleness.collected.is_some()),
        findings_unknown: staleness.findings.map_or(0, |f| f[0]),
        findings_low: staleness.findings.map_or(0, |f| f[1]),
        findings_medium: staleness.findings.map_or(0, |f| f[2]),
        findings_high: staleness.findings.map_or(0, |f| f[3]),
        findings_critical: staleness.findings.map_or(0, |f| f[4]),
        finding_check: u64::from(staleness.findings.is_some()),
        checked_at: now()?.as_second(),
    };
    Ok(DriftReport {
        generation: current.id,
        integrity,
        provenance,
        hosts: Vec::new(),
        staleness,
        counts,
    })
}

/// What the carried staleness record says of the generation's packages:
/// those with newer versions upstream, and for each advisory finding on
/// them (when a database is carried) whether a fix is upstream.
fn staleness(
    context: &Context,
    store: &airlift_store::Store,
    generation: u64,
    entries: &[Entry],
) -> Result<StalenessReport, Failure> {
    // The findings, counted by level whether or not a staleness record
    // says where their fixes are.
    let findings = match airlift_advisory::Carried::in_generation(store, generation)? {
        Some(database) => {
            let subjects = generation_subjects(context, entries);
            Some(match_subjects(context, store, &database, subjects)?.1)
        }
        None => None,
    };
    let levels = findings.as_ref().map(|findings| {
        let mut levels = [0u64; 5];
        for finding in findings {
            levels[finding.severity.level as usize] += 1;
        }
        levels
    });
    let Some(record) = read_staleness(store, entries)? else {
        return Ok(StalenessReport {
            findings: levels,
            ..StalenessReport::default()
        });
    };
    let mut report = StalenessReport {
        collected: Some(record.collected.clone()),
        findings: levels,
        ..StalenessReport::default()
    };
    // The newest carried version of each name, per ecosystem.
    let mut carried: BTreeMap<(&str, String), String> = BTreeMap::new();
    for ecosystem in context.ecosystems.iter() {
        for entry in entries.iter().filter(|e| e.ecosystem == ecosystem.name()) {
            let Some(package) = ecosystem.package(entry) else {
                continue;
            };
            if package.version.is_empty() {
                continue;
            }
            let slot = carried
                .entry((ecosystem.name(), package.name))
                .or_insert_with(|| package.version.clone());
            if ecosystem.compare_versions(&package.version, slot) == std::cmp::Ordering::Greater {
                *slot = package.version;
            }
        }
    }
    for ((name_of_ecosystem, name), version) in &carried {
        let Some(ecosystem) = context
            .ecosystems
            .iter()
            .find(|e| e.name() == *name_of_ecosystem)
        else {
            continue;
        };
        let Some(upstream) = record.versions(name_of_ecosystem, name) else {
            continue;
        };
        let newer: Vec<&String> = upstream
            .iter()
            .filter(|v| ecosystem.compare_versions(v, version) == std::cmp::Ordering::Greater)
            .collect();
        let Some(newest) = newer
            .iter()
            .copied()
            .max_by(|a, b| ecosystem.compare_versions(a, b))
        else {
            continue;
        };
        report.out_of_date.push(OutOfDate {
            ecosystem: (*name_of_ecosystem).to_owned(),
            name: name.clone(),
            carried: version.clone(),
            newest: newest.clone(),
            newer: newer.len(),
            as_of: record.as_of(name_of_ecosystem).to_owned(),
        });
    }
    // What each finding's fix waits for.
    let Some(findings) = findings else {
        return Ok(report);
    };
    for finding in findings {
        let base = finding
            .subject
            .ecosystem
            .split(':')
            .next()
            .unwrap_or(&finding.subject.ecosystem);
        let Some(ecosystem) = context
            .ecosystems
            .iter()
            .find(|e| e.advisory_ecosystems().contains(&base))
        else {
            continue;
        };
        let name_of_ecosystem = ecosystem.name();
        let at_or_above = |version: &str, floor: &str| {
            ecosystem.compare_versions(version, floor) != std::cmp::Ordering::Less
        };
        // The first fix above the carried version; a later one on another
        // branch is not what an upgrade reaches first.
        let first_fix = finding
            .fixed
            .iter()
            .min_by(|a, b| ecosystem.compare_versions(a, b));
        // The newest carried version, when it is at or above that fix.
        let carried_fix = first_fix.and_then(|fix| {
            carried
                .get(&(name_of_ecosystem, finding.subject.name.clone()))
                .filter(|newest| at_or_above(newest, fix))
                .cloned()
        });
        let upstream = record.versions(name_of_ecosystem, &finding.subject.name);
        let as_of = record.as_of(name_of_ecosystem).to_owned();
        let upstream_fix = match (first_fix, upstream) {
            (Some(fix), Some(upstream)) => upstream
                .iter()
                .filter(|v| at_or_above(v, fix))
                .min_by(|a, b| ecosystem.compare_versions(a, b))
                .cloned(),
            _ => None,
        };
        let (status, detail) = match (&carried_fix, &upstream_fix, upstream) {
            (Some(carried), _, _) => (
                "fixed-carried",
                format!("fixed in {carried}, which is carried"),
            ),
            (None, Some(fix), _) => (
                "fixed-upstream",
                format!("fixed upstream in {fix} (not carried)"),
            ),
            (None, None, Some(_)) => ("no-fix-upstream", format!("no fix upstream as of {as_of}")),
            (None, None, None) => (
                "not-recorded",
                "the staleness record has no upstream versions of this package".to_owned(),
            ),
        };
        report.waiting.push(Waiting {
            ecosystem: name_of_ecosystem.to_owned(),
            name: finding.subject.name,
            version: finding.subject.version,
            advisory: finding.id,
            fixed: finding.fixed,
            status,
            upstream_fix,
            as_of: upstream.map(|_| as_of),
            detail,
        });
    }
    report.waiting.sort_by(|a, b| {
        (&a.ecosystem, &a.name, &a.version, &a.advisory).cmp(&(
            &b.ecosystem,
            &b.name,
            &b.version,
            &b.advisory,
        ))
    });
    Ok(report)
}

/// What hosts run that the site does not serve as it is, with the
/// advisories that affect each such package.
pub(crate) fn hosts(
    context: &Context,
    store: &airlift_store::Store,
    inventories: &[PathBuf],
    distro: Option<&airlift_inventory::Distro>,
) -> Result<Vec<HostPackage>, Failure> {
    let Some(current) = store.meta.current()? else {
        return Ok(Vec::new());
    };
    let entries = store.meta.entries(current.id, None)?;
    // What the site serves, as advisories name it: (ecosystem without its
    // release, name) to versions.
    let mut served: BTreeMap<(String, String), std::collections::BTreeSet<String>> =
        BTreeMap::new();
    for subject in generation_subjects(context, &entries) {
        let base = subject
            .ecosystem
            .split(':')
            .next()
            .unwrap_or(&subject.ecosystem)
            .to_owned();
        served
            .entry((base, subject.name))
            .or_default()
            .insert(subject.version);
    }
    let carried_ecosystems: std::collections::BTreeSet<&str> = context
        .ecosystems
        .iter()
        .flat_map(|e| e.advisory_ecosystems().iter().copied())
        .collect();
    let database = airlift_advisory::Carried::of(entries.iter().cloned());
    let mut out = Vec::new();
    for path in inventories {
        let subjects = inventory_subjects(std::slice::from_ref(path), distro)?;
        let findings = match &database {
            Some(database) => match_subjects(context, store, database, subjects.clone())?.1,
            None => Vec::new(),
        };
        for subject in subjects {
            let base = subject
                .ecosystem
                .split(':')
                .next()
                .unwrap_or(&subject.ecosystem)
                .to_owned();
            let key = (base.clone(), subject.name.clone());
            let (status, served_versions) = if !carried_ecosystems.contains(base.as_str()) {
                ("not-an-ecosystem-here", Vec::new())
            } else {
                match served.get(&key) {
                    None => ("not-carried", Vec::new()),
                    Some(versions) if versions.contains(&subject.version) => continue,
                    Some(versions) => ("version-not-served", versions.iter().cloned().collect()),
                }
            };
            out.push(HostPackage {
                inventory: path.display().to_string(),
                findings: findings
                    .iter()
                    .filter(|f| f.subject == subject)
                    .map(|f| f.id.clone())
                    .collect(),
                ecosystem: subject.ecosystem,
                name: subject.name,
                version: subject.version,
                purl: subject.reference,
                status,
                served_versions,
            });
        }
    }
    Ok(out)
}

/// Verifies the persisted metadata of the last import and compares the
/// generation it committed with it.
fn check_signed(
    context: &Context,
    imported: &[Entry],
    is_hosted: &dyn Fn(&Entry) -> bool,
    integrity: &mut Integrity,
) -> Result<(), Failure> {
    let layout = &context.layout;
    let root = std::fs::read(layout.trusted_root()).map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot read {}: {e}", layout.trusted_root().display()),
        )
    })?;
    let path = layout.tuf_state_dir().join("targets.json");
    let checked = std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| airlift_trust::roles::verify_persisted_targets(&root, &bytes));
    let (version, targets) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            integrity.problems.push(Problem {
                kind: "metadata",
                ecosystem: None,
                key: None,
                detail: format!(
                    "{}, the last import's signed targets, does not verify against the trusted root: {e}",
                    path.display()
                ),
            });
            return Ok(());
        }
    };
    integrity.signed = true;
    integrity.version = Some(version);

    // Each ecosystem's index document, rebuilt as pack writes it.
    let mut by_ecosystem: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for entry in imported.iter().filter(|e| !is_hosted(e)) {
        by_ecosystem
            .entry(entry.ecosystem.as_str())
            .or_default()
            .push(entry);
        integrity.entries_checked += 1;
        let name = format!("blobs/sha256/{}", entry.digest.hex());
        match targets.get(&name) {
            Some(target) if target.length == entry.size => {}
            Some(target) => integrity.problems.push(Problem {
                kind: "unsigned-blob",
                ecosystem: Some(entry.ecosystem.clone()),
                key: Some(entry.key.clone()),
                detail: format!(
                    "the index says {} bytes for blob {}, the signed bundle {}",
                    entry.size, entry.digest, target.length
                ),
            }),
            None => integrity.problems.push(Problem {
                kind: "unsigned-blob",
                ecosystem: Some(entry.ecosystem.clone()),
                key: Some(entry.key.clone()),
                detail: format!("blob {} is not a target of the signed bundle", entry.digest),
            }),
        }
    }
    let mut signed_indexes: BTreeMap<String, &airlift_trust::TargetInfo> = targets
        .iter()
        .filter_map(|(name, info)| {
            let ecosystem = name.strip_prefix("index/")?.strip_suffix(".json")?;
            Some((ecosystem.to_owned(), info))
        })
        .collect();
    for (ecosystem, list) in &by_ecosystem {
        let document = serde_json::to_vec(&serde_json::json!({
            "ecosystem": ecosystem,
            "entries": list,
        }))
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot encode an index: {e}")))?;
        let digest = airlift_core::Digest::of(&document);
        match signed_indexes.remove(*ecosystem) {
            Some(info) if info.sha256 == digest && info.length == document.len() as u64 => {}
            Some(_) => integrity.problems.push(Problem {
                kind: "index",
                ecosystem: Some((*ecosystem).to_owned()),
                key: None,
                detail: format!(
                    "the {ecosystem} entries of the import's generation differ from the bundle's signed index"
                ),
            }),
            None => integrity.problems.push(Problem {
                kind: "index",
                ecosystem: Some((*ecosystem).to_owned()),
                key: None,
                detail: format!(
                    "the import's generation has {} {ecosystem} entries; the signed bundle has no {ecosystem} index",
                    list.len()
                ),
            }),
        }
    }
    for ecosystem in signed_indexes.keys() {
        integrity.problems.push(Problem {
            kind: "index",
            ecosystem: Some(ecosystem.clone()),
            key: None,
            detail: format!(
                "the signed bundle has a {ecosystem} index; the import's generation has no {ecosystem} entry"
            ),
        });
    }
    Ok(())
}

/// Re-hashes every blob the current generation serves, once each.
fn rehash(
    store: &airlift_store::Store,
    entries: &[Entry],
    integrity: &mut Integrity,
) -> Result<(), Failure> {
    let mut seen = std::collections::BTreeSet::new();
    for entry in entries {
        if !seen.insert(entry.digest) {
            continue;
        }
        integrity.blobs_checked += 1;
        let problem = |detail: String| Problem {
            kind: "corrupt-blob",
            ecosystem: Some(entry.ecosystem.clone()),
            key: Some(entry.key.clone()),
            detail,
        };
        let reader = match store.blobs.open(&entry.digest) {
            Ok(reader) => reader,
            Err(e) => {
                integrity.problems.push(problem(format!(
                    "blob {} cannot be read: {e}",
                    entry.digest
                )));
                continue;
            }
        };
        let mut hashing = airlift_core::HashingReader::new(reader);
        if let Err(e) = std::io::copy(&mut hashing, &mut std::io::sink()) {
            integrity.problems.push(problem(format!(
                "blob {} cannot be read: {e}",
                entry.digest
            )));
            continue;
        }
        let (digest, length) = hashing.finish();
        if digest != entry.digest || length != entry.size {
            integrity.problems.push(problem(format!(
                "blob {} holds {length} bytes of SHA-256 {}",
                entry.digest,
                digest.hex()
            )));
        }
    }
    Ok(())
}

/// What the current generation serves that the import did not bring, and
/// what of the import it no longer serves.
fn provenance(
    context: &Context,
    imported: &[Entry],
    entries: &[Entry],
    is_hosted: &dyn Fn(&Entry) -> bool,
) -> Result<Vec<Provenance>, Failure> {
    let before: HashMap<(&str, &str), &Entry> = imported
        .iter()
        .map(|e| ((e.ecosystem.as_str(), e.key.as_str()), e))
        .collect();
    let now_served: HashMap<(&str, &str), &Entry> = entries
        .iter()
        .map(|e| ((e.ecosystem.as_str(), e.key.as_str()), e))
        .collect();
    let mut changes = Vec::new();
    for entry in entries {
        let change = match before.get(&(entry.ecosystem.as_str(), entry.key.as_str())) {
            None => "added",
            Some(old) if old.digest != entry.digest => "changed",
            Some(_) => continue,
        };
        changes.push(Provenance {
            change,
            ecosystem: entry.ecosystem.clone(),
            key: entry.key.clone(),
            digest: Some(entry.digest.to_string()),
            hosted: is_hosted(entry),
            by: None,
            at: None,
        });
    }
    for entry in imported {
        if !now_served.contains_key(&(entry.ecosystem.as_str(), entry.key.as_str())) {
            changes.push(Provenance {
                change: "removed",
                ecosystem: entry.ecosystem.clone(),
                key: entry.key.clone(),
                digest: None,
                hosted: is_hosted(entry),
                by: None,
                at: None,
            });
        }
    }
    if changes.is_empty() {
        return Ok(changes);
    }
    // Who: the newest registry change in the audit log that wrote or removed
    // each key.
    let events = context.audit_log(None).events().map_err(|e| {
        Failure::new(Exit::Failed, format!("cannot read the audit log: {e}"))
            .hint("`airlift audit verify` says more")
    })?;
    let mut who: HashMap<(String, String), (Option<String>, String)> = HashMap::new();
    for event in &events {
        let detail = &event.detail;
        if detail.get("change").is_none() {
            continue;
        }
        let ecosystem = detail
            .get("ecosystem")
            .and_then(|e| e.as_str())
            .unwrap_or("oci")
            .to_owned();
        let caller = detail
            .get("caller")
            .and_then(|c| c.get("principal"))
            .and_then(|u| u.as_str())
            .map(str::to_owned);
        let keys = detail
            .get("upserts")
            .and_then(|u| u.as_array())
            .into_iter()
            .flatten()
            .filter_map(|u| u.get("key")?.as_str())
            .chain(
                detail
                    .get("removals")
                    .and_then(|r| r.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.as_str()),
            );
        for key in keys {
            who.insert(
                (ecosystem.clone(), key.to_owned()),
                (caller.clone(), event.time.clone()),
            );
        }
    }
    for change in &mut changes {
        if let Some((by, at)) = who.get(&(change.ecosystem.clone(), change.key.clone())) {
            change.by = by.clone();
            change.at = Some(at.clone());
        }
    }
    Ok(changes)
}

fn human(report: &DriftReport) -> String {
    let mut out = String::new();
    let integrity = &report.integrity;
    match (&integrity.bundle, integrity.import_generation) {
        (Some(bundle), Some(generation)) => out.push_str(&format!(
            "integrity: generation {generation} against bundle {bundle}{}: {} entries, {} blobs re-hashed, {} problems\n",
            integrity
                .version
                .map(|v| format!(" (version {v})"))
                .unwrap_or_default(),
            integrity.entries_checked,
            integrity.blobs_checked,
            integrity.problems.len()
        )),
        _ => out.push_str(&format!(
            "integrity: no bundle imported here to compare with; {} blobs re-hashed, {} problems\n",
            integrity.blobs_checked,
            integrity.problems.len()
        )),
    }
    for problem in &integrity.problems {
        out.push_str(&format!("  {}: {}\n", problem.kind, problem.detail));
    }
    out.push_str(&format!(
        "provenance: {} entries of generation {} no imported bundle accounts for\n",
        report.provenance.len(),
        report.generation
    ));
    for change in &report.provenance {
        out.push_str(&format!(
            "  {} {}:{}{}{}\n",
            change.change,
            change.ecosystem,
            change.key,
            if change.hosted { " (hosted)" } else { "" },
            match (&change.by, &change.at) {
                (Some(by), Some(at)) => format!(" by {by} at {at}"),
                (None, Some(at)) => format!(" at {at}"),
                _ => String::new(),
            }
        ));
    }
    if !report.hosts.is_empty() {
        out.push_str(&format!(
            "hosts: {} packages not served by this site as they run\n",
            report.hosts.len()
        ));
        for host in &report.hosts {
            out.push_str(&format!(
                "  {} {} {} {} ({}){}{}\n",
                host.status,
                host.ecosystem,
                host.name,
                host.version,
                host.inventory,
                if host.served_versions.is_empty() {
                    String::new()
                } else {
                    format!("; served: {}", host.served_versions.join(", "))
                },
                if host.findings.is_empty() {
                    String::new()
                } else {
                    format!("; affected by {}", host.findings.join(", "))
                }
            ));
        }
    }
    let staleness = &report.staleness;
    match &staleness.collected {
        None => out.push_str("staleness: the generation carries no staleness record\n"),
        Some(collected) => {
            out.push_str(&format!(
                "staleness: {} carried packages have newer versions upstream (collected {collected})\n",
                staleness.out_of_date.len()
            ));
            for stale in &staleness.out_of_date {
                out.push_str(&format!(
                    "  {} {} {}: {} newer upstream, the newest {} (as of {})\n",
                    stale.ecosystem,
                    stale.name,
                    stale.carried,
                    stale.newer,
                    stale.newest,
                    stale.as_of
                ));
            }
            if !staleness.waiting.is_empty() {
                out.push_str(&format!(
                    "fixes: {} advisory findings on carried packages\n",
                    staleness.waiting.len()
                ));
                for waiting in &staleness.waiting {
                    out.push_str(&format!(
                        "  {} {} {} {}: {}\n",
                        waiting.advisory,
                        waiting.ecosystem,
                        waiting.name,
                        waiting.version,
                        waiting.detail
                    ));
                }
            }
        }
    }
    out.trim_end().to_owned()
}
