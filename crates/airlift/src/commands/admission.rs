//! The site's admission check on advisories, run by `plan` and `import`
//! on a verified bundle before anything is committed.
//!
//! The bundle's packages are matched against the advisory database it
//! carries (or, when it carries none, the one the site has), the site's
//! current packages against the site's current database, and the
//! difference is the report: findings the bundle **introduces** (a
//! package version the site does not serve yet, or an advisory the new
//! database adds) and findings it **fixes**. With an import policy,
//! `<home>/import-policy.toml`, a bundle that introduces a finding at or
//! above `refuse` on a package version it brings is refused, unless an
//! exception in force names the advisory (any of its ids) and, if it says
//! so, the package. Findings on packages the site already serves are
//! reported, never refused: refusing the bundle would keep the old
//! database and hide them. Exceptions used are listed in the report, which
//! the import's audit event records. A policy may also refuse a database
//! older than `max_age_days`.

use std::collections::{BTreeMap, BTreeSet};

use airlift_advisory::{Carried, Finding, Level};
use airlift_bundle::{Admission, AdmissionInput, AdmissionOutcome};
use serde::Deserialize;

use super::*;

/// `<home>/import-policy.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportPolicy {
    /// The advisory rules.
    #[serde(default)]
    advisories: AdvisoryRules,
    /// Findings admitted after review.
    #[serde(default, rename = "exception")]
    exceptions: Vec<Exception>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvisoryRules {
    /// Refuse a bundle that brings a finding at or above this level.
    refuse: Option<Level>,
    /// Refuse a bundle whose advisory database is older than this.
    max_age_days: Option<u32>,
}

/// One finding admitted after review.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Exception {
    /// An advisory id or alias (`GHSA-…`, `CVE-…`).
    advisory: String,
    /// `<OSV ecosystem>/<name>` (`PyPI/requests`); any package when absent.
    package: Option<String>,
    /// Why it is acceptable.
    justification: String,
    /// The last day it holds (`2027-03-31`).
    expires: jiff::civil::Date,
    /// Who approved it.
    approved_by: String,
}

/// The policy file of the home, if there is one.
fn load(context: &Context) -> Result<Option<ImportPolicy>, Failure> {
    let path = context.layout.home().join("import-policy.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::new(
                Exit::Failed,
                format!("cannot read {}: {e}", path.display()),
            ));
        }
    };
    let policy: ImportPolicy =
        toml::from_str(&text).map_err(|e| Failure::input(format!("{}: {e}", path.display())))?;
    for exception in &policy.exceptions {
        if exception.justification.trim().is_empty() || exception.approved_by.trim().is_empty() {
            return Err(Failure::input(format!(
                "{}: the exception for {} needs a justification and approved_by",
                path.display(),
                exception.advisory
            )));
        }
    }
    Ok(Some(policy))
}

/// One finding as the report lists it.
#[derive(Serialize, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Listed {
    ecosystem: String,
    name: String,
    version: String,
    id: String,
    level: Level,
    /// Whether the bundle brings this package version (not served yet).
    new_package: bool,
}

/// The check, when the site has an import policy or anything to report
/// (always: a plan shows findings even without a policy).
pub(crate) fn admission(context: &Context) -> Result<Option<Admission>, Failure> {
    let policy = load(context)?;
    let ecosystems = context.ecosystems.clone();
    let store = context.store()?;
    let now = now()?;
    Ok(Some(Admission(Arc::new(
        move |input: &AdmissionInput<'_>| check(&ecosystems, &store, policy.as_ref(), now, input),
    ))))
}

pub(crate) fn check(
    ecosystems: &Arc<Registry>,
    store: &airlift_store::Store,
    policy: Option<&ImportPolicy>,
    now: jiff::Timestamp,
    input: &AdmissionInput<'_>,
) -> AdmissionOutcome {
    let fail = |reason: String| AdmissionOutcome {
        report: serde_json::json!({"error": reason}),
        refusal: policy.is_some().then(|| {
            format!(
                "the import policy cannot be checked ({reason}); refused, as a policy fails closed"
            )
        }),
    };
    let current: Vec<airlift_store::Entry> = match store.meta.current() {
        Ok(Some(generation)) => match store.meta.entries(generation.id, None) {
            Ok(entries) => entries,
            Err(e) => return fail(e.to_string()),
        },
        Ok(None) => Vec::new(),
        Err(e) => return fail(e.to_string()),
    };
    let incoming = Carried::of(input.entries.iter().cloned());
    let site = Carried::of(current.iter().cloned());
    if incoming.is_none() && site.is_none() {
        return AdmissionOutcome {
            report: serde_json::json!({"database": null}),
            refusal: policy
                .filter(|p| p.advisories.refuse.is_some() || p.advisories.max_age_days.is_some())
                .map(|_| {
                    "neither the bundle nor the site carries an advisory database, and the import policy needs one".to_owned()
                }),
        };
    }
    // The bundle's records come from its verified copies or the store.
    let mut from_bundle = bundle_records(input);
    let new_subjects = subjects_of(ecosystems, input.entries);
    let old_subjects = subjects_of(ecosystems, &current);
    let served: BTreeSet<(String, String, String)> = old_subjects
        .iter()
        .map(|s| (s.ecosystem.clone(), s.name.clone(), s.version.clone()))
        .collect();
    let mut scanner = scanner_for(ecosystems, new_subjects);
    let (database, fed) = match &incoming {
        Some(database) => (database, database.feed_with(&mut from_bundle, &mut scanner)),
        None => match &site {
            Some(database) => (database, database.feed(store, &mut scanner)),
            None => return fail("no database".into()),
        },
    };
    if let Err(e) = fed {
        return fail(e.to_string());
    }
    let new_findings = scanner.finish();
    let old_findings = match &site {
        Some(site) => {
            let mut scanner = scanner_for(ecosystems, old_subjects);
            match site.feed(store, &mut scanner) {
                Ok(_) => scanner.finish(),
                Err(e) => return fail(e.to_string()),
            }
        }
        None => Vec::new(),
    };
    let key = |f: &Finding| {
        (
            f.subject.ecosystem.clone(),
            f.subject.name.clone(),
            f.subject.version.clone(),
            f.id.clone(),
        )
    };
    let listed = |f: &Finding| Listed {
        ecosystem: f.subject.ecosystem.clone(),
        name: f.subject.name.clone(),
        version: f.subject.version.clone(),
        id: f.id.clone(),
        level: f.severity.level,
        new_package: !served.contains(&(
            f.subject.ecosystem.clone(),
            f.subject.name.clone(),
            f.subject.version.clone(),
        )),
    };
    let old_keys: BTreeSet<_> = old_findings.iter().map(key).collect();
    let new_keys: BTreeSet<_> = new_findings.iter().map(key).collect();
    let introduced: Vec<&Finding> = new_findings
        .iter()
        .filter(|f| !old_keys.contains(&key(f)))
        .collect();
    let fixed: Vec<Listed> = old_findings
        .iter()
        .filter(|f| !new_keys.contains(&key(f)))
        .map(listed)
        .collect();

    let age_days = database.age(now).map(|s| s / 86_400);
    let mut refusals: Vec<String> = Vec::new();
    let mut used: Vec<serde_json::Value> = Vec::new();
    if let Some(policy) = policy {
        if let (Some(limit), Some(age)) = (policy.advisories.max_age_days, age_days)
            && age > i64::from(limit)
        {
            refusals.push(format!(
                "its advisory database is {age} days old, over the policy's max_age_days {limit}"
            ));
        }
        if let Some(threshold) = policy.advisories.refuse {
            let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
            for finding in &introduced {
                let entry = listed(finding);
                if !entry.new_package || finding.severity.level < threshold {
                    continue;
                }
                let package = format!("{}/{}", finding.subject.ecosystem, finding.subject.name);
                let base = format!(
                    "{}/{}",
                    finding
                        .subject
                        .ecosystem
                        .split(':')
                        .next()
                        .unwrap_or(&finding.subject.ecosystem),
                    finding.subject.name
                );
                let exception = policy.exceptions.iter().find(|e| {
                    finding.aliases.contains(&e.advisory)
                        && e.package
                            .as_ref()
                            .is_none_or(|p| *p == package || *p == base)
                        && e.expires >= today
                });
                match exception {
                    Some(exception) => used.push(serde_json::json!({
                        "advisory": exception.advisory,
                        "package": package,
                        "version": finding.subject.version,
                        "finding": finding.id,
                        "justification": exception.justification,
                        "expires": exception.expires.to_string(),
                        "approved_by": exception.approved_by,
                    })),
                    None => refusals.push(format!(
                        "{} {} {} brings {} ({})",
                        finding.subject.ecosystem,
                        finding.subject.name,
                        finding.subject.version,
                        finding.id,
                        finding.severity.level
                    )),
                }
            }
        }
    }
    let mut levels: BTreeMap<Level, usize> = BTreeMap::new();
    for finding in &introduced {
        *levels.entry(finding.severity.level).or_default() += 1;
    }
    let report = serde_json::json!({
        "database": {
            "records": database.records.len(),
            "built": database.built.map(|b| b.to_string()),
            "age_days": age_days,
            "from": if incoming.is_some() { "bundle" } else { "site" },
        },
        "introduced": introduced.iter().map(|f| listed(f)).collect::<Vec<_>>(),
        "fixed": fixed,
        "exceptions_used": used,
        "policy": policy.map(|p| serde_json::json!({
            "refuse": p.advisories.refuse,
            "max_age_days": p.advisories.max_age_days,
        })),
    });
    AdmissionOutcome {
        report,
        refusal: (!refusals.is_empty()).then(|| {
            let shown: Vec<&str> = refusals.iter().take(5).map(String::as_str).collect();
            format!(
                "the import policy refuses {} finding(s): {}{}",
                refusals.len(),
                shown.join("; "),
                if refusals.len() > shown.len() {
                    "; …"
                } else {
                    ""
                }
            )
        }),
    }
}

/// Reads a verified bundle's advisory records (from its verified copies,
/// or the store for what a delta leaves out), for `Carried::feed_with`.
pub(crate) fn bundle_records<'a>(
    input: &'a AdmissionInput<'_>,
) -> impl FnMut(
    &airlift_store::Entry,
) -> Result<airlift_advisory::Record, airlift_advisory::DatabaseError>
+ 'a {
    move |entry: &airlift_store::Entry| {
        (input.blob)(&entry.digest)
            .map_err(|reason| airlift_advisory::DatabaseError::Record {
                key: entry.key.clone(),
                digest: entry.digest.to_string(),
                reason,
            })
            .and_then(|bytes| airlift_advisory::parse_record(entry, &bytes))
    }
}
