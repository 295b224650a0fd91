//! `airlift scan`: the packages of the current generation (or of host
//! inventories) matched against the OSV database the generation carries,
//! with no network.
//!
//! Package identity and version order come from each ecosystem through the
//! contract (`advisory_names`, `advisory_ecosystems`, `compare_versions`);
//! only Go's module versions, Maven's and Alpine's, which no ecosystem here
//! serves yet (they come from host inventories and images), are ordered by
//! the advisory crate itself. Findings merge advisories that
//! alias each other. The result prints as text, `--json`, or SARIF
//! (`--sarif FILE`) for CI; `--fail-on LEVEL` exits with
//! [`Exit::Findings`] when a finding is at or above it. It only reads, so
//! it is not recorded in the audit log.

use std::collections::BTreeMap;

use airlift_advisory::{Carried, Finding, Level, Scanner, Subject, VersionOrder};

use super::*;
use crate::cli::ScanArgs;

/// The most bytes a host inventory file may have.
const MAX_INVENTORY_BYTES: u64 = 256 << 20;

/// An ecosystem's version order, for the matcher.
struct ByEcosystem(Arc<dyn airlift_ecosystem::Ecosystem>);

impl VersionOrder for ByEcosystem {
    fn compare(&self, a: &str, b: &str) -> std::cmp::Ordering {
        self.0.compare_versions(a, b)
    }
}

/// What `airlift scan` reports.
#[derive(Serialize)]
struct Report {
    /// The image scanned (`repo@sha256:…`), with `--image`.
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    /// Files of the image that could not be read, and layers never carried.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    skipped: Vec<String>,
    database: Database,
    /// Packages scanned, per OSV ecosystem.
    scanned: BTreeMap<String, usize>,
    /// OSV ecosystems of scanned packages that no version order here knows.
    unmatched_ecosystems: Vec<String>,
    /// Findings at each level, the highest first.
    levels: Vec<LevelCount>,
    findings: Vec<Finding>,
}

#[derive(Serialize)]
struct LevelCount {
    level: Level,
    count: usize,
}

#[derive(Serialize)]
struct Database {
    records: usize,
    /// Records parsed because they name a scanned package.
    read: usize,
    built: Option<String>,
    age_days: Option<i64>,
}

/// What was matched: the database, the packages, the findings.
struct Matched {
    database: Database,
    scanned: BTreeMap<String, usize>,
    unmatched_ecosystems: Vec<String>,
    findings: Vec<Finding>,
    image: Option<String>,
    skipped: Vec<String>,
}

/// Packages scanned, per OSV ecosystem.
fn count_scanned(subjects: &[Subject]) -> BTreeMap<String, usize> {
    let mut scanned: BTreeMap<String, usize> = BTreeMap::new();
    for subject in subjects {
        *scanned.entry(subject.ecosystem.clone()).or_default() += 1;
    }
    scanned
}

/// Refuses a database older than `--max-age` days.
fn check_age(max_age: Option<u32>, age_days: Option<i64>) -> Result<(), Failure> {
    if let (Some(limit), Some(age)) = (max_age, age_days)
        && age > i64::from(limit)
    {
        return Err(Failure::new(
            Exit::Refused,
            format!("the advisory database is {age} days old, over --max-age {limit}"),
        )
        .hint("carry a newer database, or raise --max-age"));
    }
    Ok(())
}

/// The bundle's packages matched against the database it carries, or the
/// site's when it carries none, inside the bundle's verification: its
/// records are read from its verified copies.
fn match_bundle(context: &Context, bundle: &Path) -> Result<Matched, Failure> {
    let store = context.store()?;
    let ecosystems = context.ecosystems.clone();
    let now = now()?;
    let (bundle_id, matched) = read_verified_bundle(context, bundle, move |input| {
        let subjects = subjects_of(&ecosystems, input.entries);
        let scanned = count_scanned(&subjects);
        let mut scanner = scanner_for(&ecosystems, subjects);
        let damaged = |e: airlift_advisory::DatabaseError| {
            Failure::new(Exit::Damaged, e.to_string()).hint("run airlift fsck")
        };
        let (database, read) = match Carried::of(input.entries.iter().cloned()) {
            Some(database) => {
                let mut from_bundle = bundle_records(input);
                let read = database
                    .feed_with(&mut from_bundle, &mut scanner)
                    .map_err(|e| Failure::input(format!("the bundle's advisories: {e}")))?;
                (database, read)
            }
            None => {
                let site = match store.meta.current()? {
                    Some(generation) => Carried::in_generation(&store, generation.id)?,
                    None => None,
                };
                let Some(database) = site else {
                    return Err(Failure::new(
                        Exit::Failed,
                        "neither the bundle nor this site carries an advisory database",
                    )
                    .hint("declare [advisories] in airlift.toml on the connected side"));
                };
                let read = database.feed(&store, &mut scanner).map_err(damaged)?;
                (database, read)
            }
        };
        let unmatched_ecosystems = scanner.unmatched_ecosystems();
        Ok(Matched {
            database: Database {
                records: database.records.len(),
                read,
                built: database.built.map(|b| b.to_string()),
                age_days: database.age(now).map(|seconds| seconds / 86_400),
            },
            scanned,
            unmatched_ecosystems,
            findings: scanner.finish(),
            image: None,
            skipped: Vec::new(),
        })
    })?;
    tracing::debug!("scanned bundle {bundle_id}");
    Ok(matched)
}

/// Verifies `bundle` as `plan` does (nothing is committed) and hands its
/// verified entries, with a reader of its blobs (its verified copies, or
/// the store's for what a delta leaves out), to `read`: its id and what
/// `read` gave.
pub(crate) fn read_verified_bundle<T: Send + 'static>(
    context: &Context,
    bundle: &Path,
    read: impl Fn(&airlift_bundle::AdmissionInput<'_>) -> Result<T, Failure> + Send + Sync + 'static,
) -> Result<(String, T), Failure> {
    let store = context.store()?;
    let slot: Arc<std::sync::Mutex<Option<Result<T, Failure>>>> = Arc::default();
    let sink = slot.clone();
    let mut options = import_options(
        context,
        None,
        airlift_bundle::RemovalPolicy {
            allow: true,
            max_percent: 100,
        },
    )?;
    options.admission = Some(airlift_bundle::Admission(Arc::new(move |input| {
        let result = read(input);
        *sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(result);
        airlift_bundle::AdmissionOutcome {
            report: serde_json::Value::Null,
            refusal: None,
        }
    })));
    let plan = airlift_bundle::plan(bundle, &store, &options, &context.bar())?;
    let result = slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .ok_or_else(|| {
            Failure::new(
                Exit::Failed,
                format!("bundle {} was verified but not read", plan.bundle_id),
            )
        })??;
    Ok((plan.bundle_id.to_string(), result))
}

pub(crate) fn scan(context: &Context, args: ScanArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let matched = match &args.bundle {
        Some(bundle) => {
            let matched = match_bundle(context, bundle)?;
            check_age(args.max_age, matched.database.age_days)?;
            matched
        }
        None => match_site(context, &store, &args)?,
    };
    let Matched {
        database,
        scanned,
        unmatched_ecosystems,
        findings,
        image,
        skipped,
    } = matched;
    let mut counted: BTreeMap<Level, usize> = BTreeMap::new();
    for finding in &findings {
        *counted.entry(finding.severity.level).or_default() += 1;
    }
    let levels: Vec<LevelCount> = counted
        .into_iter()
        .rev()
        .map(|(level, count)| LevelCount { level, count })
        .collect();
    if let Some(path) = &args.sarif {
        let mut text = serde_json::to_string_pretty(&airlift_advisory::sarif(
            &findings,
            env!("CARGO_PKG_VERSION"),
        ))
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot encode SARIF: {e}")))?;
        text.push('\n');
        write_output(path, text.as_bytes())?;
    }
    let report = Report {
        image,
        skipped,
        database,
        scanned,
        unmatched_ecosystems,
        levels,
        findings,
    };
    context.emit(&report, || human(&report))?;
    if let Some(threshold) = args.fail_on {
        let worst = report.findings.iter().map(|f| f.severity.level).max();
        if worst.is_some_and(|worst| worst >= threshold) {
            return Err(Failure::new(
                Exit::Findings,
                format!(
                    "{} findings, the worst {}, at or above --fail-on {threshold}",
                    report.findings.len(),
                    worst.unwrap_or(Level::Unknown)
                ),
            ));
        }
    }
    Ok(())
}

/// The generation's packages, a host's inventories or an image matched
/// against the database the generation carries.
fn match_site(
    context: &Context,
    store: &airlift_store::Store,
    args: &ScanArgs,
) -> Result<Matched, Failure> {
    let generation = current_generation(
        store,
        "collect or import a bundle that declares [advisories] first",
    )?;
    // The database is read one entry at a time; only the ecosystems whose
    // packages advisories name are loaded whole.
    let database = Carried::in_generation(store, generation.id)?;
    let mut entries = Vec::new();
    if args.inventory.is_empty() && args.image.is_none() {
        for ecosystem in context.ecosystems.iter() {
            if !ecosystem.advisory_ecosystems().is_empty() {
                entries.extend(store.meta.entries(generation.id, Some(ecosystem.name()))?);
            }
        }
    }
    let Some(database) = database else {
        return Err(Failure::new(
            Exit::Failed,
            format!("generation {} carries no advisory database", generation.id),
        )
        .hint(
            "declare [advisories] in airlift.toml on the connected side and carry the next bundle",
        ));
    };
    let now = now()?;
    let age_days = database.age(now).map(|seconds| seconds / 86_400);
    check_age(args.max_age, age_days)?;

    let distro = args.distro.as_deref().map(parse_distro).transpose()?;
    let mut image = None;
    let mut skipped = Vec::new();
    let subjects = if let Some(reference) = &args.image {
        let (subjects, described, notes) =
            image_subjects(context, reference, args.platform.as_deref())?;
        image = Some(described);
        skipped = notes;
        subjects
    } else if args.inventory.is_empty() {
        generation_subjects(context, &entries)
    } else {
        inventory_subjects(&args.inventory, distro.as_ref())?
    };
    let scanned = count_scanned(&subjects);
    let (read, findings, unmatched_ecosystems) =
        match_subjects(context, store, &database, subjects)?;
    Ok(Matched {
        database: Database {
            records: database.records.len(),
            read,
            built: database.built.map(|b| b.to_string()),
            age_days,
        },
        scanned,
        unmatched_ecosystems,
        findings,
        image,
        skipped,
    })
}

/// Matches `subjects` against the carried `database`: the records read,
/// the findings, and the OSV ecosystems no version order here knows.
pub(crate) fn match_subjects(
    context: &Context,
    store: &airlift_store::Store,
    database: &Carried,
    subjects: Vec<Subject>,
) -> Result<(usize, Vec<Finding>, Vec<String>), Failure> {
    let mut scanner = scanner_for(&context.ecosystems, subjects);
    let read = database
        .feed(store, &mut scanner)
        .map_err(|e| Failure::new(Exit::Damaged, e.to_string()).hint("run airlift fsck"))?;
    let unmatched = scanner.unmatched_ecosystems();
    Ok((read, scanner.finish(), unmatched))
}

/// A scanner of `subjects` with each OSV ecosystem's version order: the
/// registered ecosystems', and the ones OSV defines that none serves.
pub(crate) fn scanner_for(ecosystems: &Arc<Registry>, subjects: Vec<Subject>) -> Scanner {
    let ecosystems = ecosystems.clone();
    Scanner::new(subjects, move |name: &str| {
        // The orders OSV ecosystems have that no registered ecosystem serves.
        match name {
            "Go" => return Some(Arc::new(airlift_advisory::GoOrder) as Arc<dyn VersionOrder>),
            "Maven" => return Some(Arc::new(airlift_advisory::MavenOrder) as Arc<dyn VersionOrder>),
            "Alpine" => return Some(Arc::new(airlift_advisory::ApkOrder) as Arc<dyn VersionOrder>),
            _ => {}
        }
        ecosystems
            .iter()
            .find(|e| e.advisory_ecosystems().contains(&name))
            .map(|e| Arc::new(ByEcosystem(e.clone())) as Arc<dyn VersionOrder>)
    })
}

/// Every package of the generation, as advisories name it, once.
pub(crate) fn generation_subjects(
    context: &Context,
    entries: &[airlift_store::Entry],
) -> Vec<Subject> {
    subjects_of(&context.ecosystems, entries)
}

/// Every package among `entries`, as advisories name it, once.
pub(crate) fn subjects_of(ecosystems: &Registry, entries: &[airlift_store::Entry]) -> Vec<Subject> {
    let mut subjects: BTreeMap<airlift_ecosystem::AdvisoryName, String> = BTreeMap::new();
    for ecosystem in ecosystems.iter() {
        if ecosystem.advisory_ecosystems().is_empty() {
            continue;
        }
        let own: Vec<airlift_store::Entry> = entries
            .iter()
            .filter(|e| e.ecosystem == ecosystem.name())
            .cloned()
            .collect();
        for (position, name) in ecosystem.advisory_names(&own) {
            let reference = ecosystem
                .package(&own[position])
                .map(|p| p.purl)
                .unwrap_or_else(|| format!("{}:{}", own[position].ecosystem, own[position].key));
            subjects.entry(name).or_insert(reference);
        }
    }
    subjects
        .into_iter()
        .map(|(name, reference)| Subject {
            ecosystem: name.ecosystem,
            name: name.name,
            version: name.version,
            reference,
        })
        .collect()
}

/// The packages of host inventories (dpkg status, an apk database,
/// `pip inspect` or `pip freeze`, `npm ls --json`, `package-lock.json`,
/// `Cargo.lock`, `go.mod`, a CycloneDX SBOM), as advisories name them; a
/// dpkg or apk database copied from a host names no distribution, so
/// `distro` says which it is.
pub(crate) fn inventory_subjects(
    paths: &[PathBuf],
    distro: Option<&airlift_inventory::Distro>,
) -> Result<Vec<Subject>, Failure> {
    let mut subjects = Vec::new();
    let mut seen = Seen::new();
    for path in paths {
        let bytes = read_bounded(path, MAX_INVENTORY_BYTES)?;
        let mut inventory = airlift_inventory::read_inventory(&bytes, &path.display().to_string())
            .map_err(|e| Failure::input(e.to_string()))?;
        if let Some(distro) = distro {
            inventory.assume_distro(distro);
        }
        add_subjects(&mut subjects, &mut seen, inventory.packages);
    }
    Ok(subjects)
}

/// The (OSV ecosystem, name, version) triples already among the subjects.
pub(crate) type Seen = std::collections::BTreeSet<(String, String, String)>;

/// Adds `packages` as advisories name them to `subjects`, each once: a
/// package of no OSV ecosystem has no advisories to match.
pub(crate) fn add_subjects(
    subjects: &mut Vec<Subject>,
    seen: &mut Seen,
    packages: Vec<airlift_inventory::Installed>,
) {
    for package in packages {
        let Some(ecosystem) = package.osv_ecosystem.clone() else {
            continue;
        };
        let (name, version) = package.advisory_name();
        if seen.insert((ecosystem.clone(), name.clone(), version.clone())) {
            subjects.push(Subject {
                ecosystem,
                name,
                version,
                reference: package.purl,
            });
        }
    }
}

/// `--distro debian:12` as the inventory crate's distribution.
pub(crate) fn parse_distro(text: &str) -> Result<airlift_inventory::Distro, Failure> {
    match text.split_once(':') {
        Some((id, version)) if !id.is_empty() && !version.is_empty() => {
            Ok(airlift_inventory::Distro {
                id: id.to_ascii_lowercase(),
                version_id: version.to_owned(),
                id_like: Vec::new(),
            })
        }
        _ => Err(Failure::input(format!(
            "--distro {text:?} is not ID:VERSION (debian:12, ubuntu:24.04, alpine:3.20)"
        ))),
    }
}

/// A file's bytes, refused when over `limit`.
fn read_bounded(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, Failure> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() as u64 > limit {
        return Err(Failure::input(format!(
            "{} is over the {limit} bytes an inventory may have",
            path.display()
        )));
    }
    Ok(bytes)
}

fn human(report: &Report) -> String {
    let mut out = String::new();
    if let Some(image) = &report.image {
        out.push_str(&format!("image {image}\n"));
    }
    let database = &report.database;
    out.push_str(&format!(
        "advisory database: {} records, built {}{}\n",
        database.records,
        database.built.as_deref().unwrap_or("at an unknown time"),
        database
            .age_days
            .map(|d| format!(" ({d} days ago)"))
            .unwrap_or_default()
    ));
    let scanned: usize = report.scanned.values().sum();
    out.push_str(&format!(
        "scanned {scanned} packages ({})\n",
        report
            .scanned
            .iter()
            .map(|(e, n)| format!("{e} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if !report.unmatched_ecosystems.is_empty() {
        out.push_str(&format!(
            "note: no version order for {}: those packages were not matched\n",
            report.unmatched_ecosystems.join(", ")
        ));
    }
    for finding in &report.findings {
        let others: Vec<&str> = finding
            .aliases
            .iter()
            .map(String::as_str)
            .filter(|a| *a != finding.id)
            .collect();
        out.push_str(&format!(
            "{:<8} {}{} {} {} {}{}\n",
            finding.severity.level.to_string().to_uppercase(),
            finding.id,
            if others.is_empty() {
                String::new()
            } else {
                format!(" ({})", others.join(", "))
            },
            finding.subject.ecosystem,
            finding.subject.name,
            finding.subject.version,
            if finding.fixed.is_empty() {
                ", no fix".to_owned()
            } else {
                format!(", fixed in {}", finding.fixed.join(", "))
            }
        ));
    }
    out.push_str(&format!(
        "{} findings{}",
        report.findings.len(),
        if report.levels.is_empty() {
            String::new()
        } else {
            format!(
                ": {}",
                report
                    .levels
                    .iter()
                    .map(|l| format!("{} {}", l.count, l.level))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    ));
    out
}
