//! `airlift report --out DIR`: one self-contained HTML page and the same
//! data as JSON, for an auditor inside the gap (`crates/airlift-report`
//! renders them).
//!
//! It gathers, from the home alone: the generation served; the bundles
//! imported (from the audit log's `import` events, newest first, with
//! their hand-offs, and the signers of the last one from its persisted
//! signed targets); the audit log's verification and latest checkpoint;
//! the packages per ecosystem (as `airlift sbom` counts them); the
//! advisory database and the findings against the generation (as `airlift
//! scan`); and drift (as `airlift drift`: integrity and provenance, and
//! the names clients asked for that the site does not carry and the
//! carried ones nobody fetched, as `receipt export` counts them). It
//! changes nothing and is not recorded in the audit log.

use std::collections::BTreeMap;

use airlift_report::{
    AuditInfo, BundleInfo, Checkpoint, DatabaseInfo, DriftInfo, DriftItem, FindingItem,
    FindingsInfo, GenerationInfo, Handoff, LevelCount, Report, SbomTotals, Signer, WantedItem,
};

use super::*;
use crate::cli::ReportArgs;

/// The most imports the report lists.
const MAX_BUNDLES: usize = 50;

/// What `airlift report` prints.
#[derive(Serialize)]
struct Summary {
    html: PathBuf,
    json: PathBuf,
    bundles: usize,
    packages: u64,
    findings: usize,
    audit_verified: bool,
    drift_integrity: u64,
    drift_provenance: u64,
}

pub(crate) fn report(context: &Context, args: ReportArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let now = now()?;
    let generated_at = jiff::Timestamp::from_second(now.as_second())
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot read the clock: {e}")))?;
    let current = store.meta.current()?;
    let entries = match &current {
        Some(generation) => store.meta.entries(generation.id, None)?,
        None => Vec::new(),
    };
    let mut report = Report {
        generated_at: generated_at.to_string(),
        site: context.layout.site_id().ok().flatten(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        generation: current.as_ref().map(|g| GenerationInfo {
            id: g.id,
            created_at: jiff::Timestamp::from_second(g.created_at)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            source: g.source.clone(),
        }),
        ..Report::default()
    };

    // The audit log: verified first, then read for the imports.
    let log = context.audit_log(None);
    report.audit = match log.verify(&[]) {
        Ok(verified) => AuditInfo {
            verified: true,
            entries: verified.entries,
            checkpoint: Some(Checkpoint {
                size: verified.entries,
                root: verified.root,
            }),
            problems: Vec::new(),
        },
        Err(e) => AuditInfo {
            verified: false,
            entries: 0,
            checkpoint: None,
            problems: vec![e.to_string()],
        },
    };
    let events = log.events().unwrap_or_default();
    report.bundles = bundles(context, &store, &events);

    // Packages per ecosystem, as `airlift sbom` lists them.
    let mut per_ecosystem: BTreeMap<String, u64> = BTreeMap::new();
    for entry in &entries {
        if let Some(ecosystem) = context
            .ecosystems
            .iter()
            .find(|e| e.name() == entry.ecosystem)
            && ecosystem.package(entry).is_some()
        {
            *per_ecosystem.entry(entry.ecosystem.clone()).or_default() += 1;
        }
    }
    report.sbom = SbomTotals {
        packages: per_ecosystem.values().sum(),
        per_ecosystem: per_ecosystem.into_iter().collect(),
    };

    // Findings, when the generation carries a database.
    if let Some(database) = airlift_advisory::Carried::of(entries.iter().cloned()) {
        let subjects = generation_subjects(context, &entries);
        let (_, findings, _) = match_subjects(context, &store, &database, subjects)?;
        let mut levels: BTreeMap<airlift_advisory::Level, u64> = BTreeMap::new();
        for finding in &findings {
            *levels.entry(finding.severity.level).or_default() += 1;
        }
        report.findings = FindingsInfo {
            database: Some(DatabaseInfo {
                records: database.records.len() as u64,
                built: database.built.map(|b| b.to_string()),
                age_days: database.age(now).map(|s| s / 86_400),
            }),
            levels: levels
                .into_iter()
                .rev()
                .map(|(level, count)| LevelCount {
                    level: level.to_string(),
                    count,
                })
                .collect(),
            items: findings
                .into_iter()
                .map(|f| FindingItem {
                    id: f.id,
                    aliases: f.aliases,
                    ecosystem: f.subject.ecosystem,
                    name: f.subject.name,
                    version: f.subject.version,
                    severity: f.severity.level.to_string(),
                    score: f.severity.score,
                    fixed: f.fixed,
                    summary: f.summary,
                    exception: None,
                })
                .collect(),
        };
    }

    // Drift, when there is a generation to check.
    let mut drift_counts = (0, 0);
    if current.is_some() {
        let drift = check_drift(context, &store, args.no_rehash)?;
        drift_counts = (drift.counts.integrity, drift.counts.provenance);
        report.drift = DriftInfo {
            integrity: drift
                .integrity
                .problems
                .into_iter()
                .map(|p| DriftItem {
                    ecosystem: p.ecosystem.unwrap_or_default(),
                    key: p.key.unwrap_or_default(),
                    detail: format!("{}: {}", p.kind, p.detail),
                })
                .collect(),
            provenance: drift
                .provenance
                .into_iter()
                .map(|p| DriftItem {
                    ecosystem: p.ecosystem,
                    key: p.key,
                    detail: format!(
                        "{}{}{}{}",
                        p.change,
                        if p.hosted { " (hosted)" } else { "" },
                        p.by.map(|b| format!(" by {b}")).unwrap_or_default(),
                        p.at.map(|a| format!(" at {a}")).unwrap_or_default()
                    ),
                })
                .collect(),
            staleness: drift
                .staleness
                .out_of_date
                .iter()
                .map(|stale| DriftItem {
                    ecosystem: stale.ecosystem.clone(),
                    key: format!("{} {}", stale.name, stale.carried),
                    detail: format!(
                        "{} newer upstream, the newest {} (as of {})",
                        stale.newer, stale.newest, stale.as_of
                    ),
                })
                .chain(drift.staleness.waiting.iter().map(|waiting| DriftItem {
                    ecosystem: waiting.ecosystem.clone(),
                    key: format!("{} {}", waiting.name, waiting.version),
                    detail: format!("{}: {}", waiting.advisory, waiting.detail),
                }))
                .collect(),
            ..DriftInfo::default()
        };
    }

    // What hosts run that the site does not serve as it is, as `drift
    // --inventory` compares them.
    if !args.inventory.is_empty() {
        let distro = args.distro.as_deref().map(parse_distro).transpose()?;
        report.drift.hosts_compared = args
            .inventory
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        report.drift.hosts = hosts(context, &store, &args.inventory, distro.as_ref())?
            .into_iter()
            .map(|host| DriftItem {
                ecosystem: host.ecosystem,
                key: format!("{} {}", host.name, host.version),
                detail: format!(
                    "{} on {}{}{}",
                    match host.status {
                        "not-carried" => "not carried by this site".to_owned(),
                        "version-not-served" => format!(
                            "this version is not served (the site serves {})",
                            host.served_versions.join(", ")
                        ),
                        _ => "an ecosystem this site does not carry".to_owned(),
                    },
                    host.inventory,
                    if host.findings.is_empty() {
                        ""
                    } else {
                        "; advisories: "
                    },
                    host.findings.join(", ")
                ),
            })
            .collect();
    }

    // What clients asked for and did not get, and what nobody fetched, as
    // `receipt export` carries them out.
    if current.is_some() {
        let consumption = consumption(context, &store)?;
        report.drift.consumption_wanted = consumption
            .wanted
            .into_iter()
            .map(|w| WantedItem {
                ecosystem: w.ecosystem,
                name: w.name,
                requests: w.requests,
            })
            .collect();
        report.drift.consumption_unused = consumption
            .unused
            .into_iter()
            .map(|u| DriftItem {
                ecosystem: u.ecosystem,
                key: u.name,
                detail: format!(
                    "not fetched since {}",
                    consumption.since.as_deref().unwrap_or("counting began")
                ),
            })
            .collect();
    }

    std::fs::create_dir_all(&args.out).map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot create {}: {e}", args.out.display()),
        )
    })?;
    let html = args.out.join("report.html");
    let json = args.out.join("report.json");
    let text = airlift_report::to_json(&report)
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot encode the report: {e}")))?;
    for (path, bytes) in [
        (&json, text.into_bytes()),
        (&html, airlift_report::render_html(&report).into_bytes()),
    ] {
        write_output(path, &bytes)?;
    }
    let summary = Summary {
        html,
        json,
        bundles: report.bundles.len(),
        packages: report.sbom.packages,
        findings: report.findings.items.len(),
        audit_verified: report.audit.verified,
        drift_integrity: drift_counts.0,
        drift_provenance: drift_counts.1,
    };
    context.emit(&summary, || {
        format!(
            "wrote {} and {}: {} bundles, {} packages, {} findings, audit log {}, drift: {} integrity problems, {} entries no bundle accounts for",
            summary.html.display(),
            summary.json.display(),
            summary.bundles,
            summary.packages,
            summary.findings,
            if summary.audit_verified { "intact" } else { "NOT intact" },
            summary.drift_integrity,
            summary.drift_provenance
        )
    })
}

/// The imports the audit log records, newest first, with the counts of
/// their generations' changes and, for the last one, its signers.
fn bundles(
    context: &Context,
    store: &airlift_store::Store,
    events: &[airlift_audit::Event],
) -> Vec<BundleInfo> {
    let generations = store.meta.generations().unwrap_or_default();
    let mut bundles: Vec<BundleInfo> = Vec::new();
    for event in events.iter().rev().filter(|e| e.event == "import") {
        let outcome = &event.detail["outcome"];
        if outcome["status"] != "imported" {
            continue;
        }
        let bundle_id = outcome["bundle_id"].as_str().unwrap_or_default().to_owned();
        let handoffs = outcome["handoffs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| Handoff {
                from: h["from"].as_str().unwrap_or_default().to_owned(),
                to: h["to"].as_str().unwrap_or_default().to_owned(),
                at: h["time"].as_str().unwrap_or_default().to_owned(),
                note: h["note"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned),
                verified: outcome["handoffs_verified"].as_bool().unwrap_or(false),
            })
            .collect();
        let (added, changed, removed) = outcome["generation"]["id"]
            .as_u64()
            .and_then(|id| changes(store, &generations, id))
            .unwrap_or_default();
        bundles.push(BundleInfo {
            bundle_id,
            version: outcome["version"].as_u64().unwrap_or(0),
            imported_at: event.time.clone(),
            expires: None,
            signers: Vec::new(),
            approvals: Vec::new(),
            handoffs,
            entries_added: added,
            entries_changed: changed,
            entries_removed: removed,
        });
        if bundles.len() == MAX_BUNDLES {
            break;
        }
    }
    // The last import's signers: the keys whose signatures its persisted
    // targets carry, named by the trusted root.
    if let Some(last) = bundles.first_mut() {
        let layout = &context.layout;
        if let (Ok(root), Ok(targets)) = (
            std::fs::read(layout.trusted_root()),
            std::fs::read(layout.tuf_state_dir().join("targets.json")),
        ) && let (Ok(info), Ok(file)) = (
            airlift_trust::RootInfo::parse(&root),
            serde_json::from_slice::<serde_json::Value>(&targets),
        ) && let Ok(tally) = airlift_trust::roles::tally(&info, "targets", &file)
        {
            last.signers = tally
                .signed_by
                .iter()
                .map(|keyid| Signer {
                    role: "targets".into(),
                    keyid: keyid.clone(),
                    name: Some(info.describe(keyid)),
                })
                .collect();
            last.expires = file["signed"]["expires"].as_str().map(str::to_owned);
        }
    }
    bundles
}

/// Entries added, changed and removed by generation `id` against the one
/// before it, while both are kept.
fn changes(
    store: &airlift_store::Store,
    generations: &[airlift_store::Generation],
    id: u64,
) -> Option<(u64, u64, u64)> {
    let position = generations.iter().position(|g| g.id == id)?;
    let after = store.meta.entries(id, None).ok()?;
    let before = match position.checked_sub(1) {
        Some(previous) => store.meta.entries(generations[previous].id, None).ok()?,
        None => Vec::new(),
    };
    let old: std::collections::HashMap<(&str, &str), &airlift_core::Digest> = before
        .iter()
        .map(|e| ((e.ecosystem.as_str(), e.key.as_str()), &e.digest))
        .collect();
    let (mut added, mut changed) = (0, 0);
    let mut seen = 0;
    for entry in &after {
        match old.get(&(entry.ecosystem.as_str(), entry.key.as_str())) {
            None => added += 1,
            Some(digest) => {
                seen += 1;
                if **digest != entry.digest {
                    changed += 1;
                }
            }
        }
    }
    Some((added, changed, before.len() as u64 - seen))
}
