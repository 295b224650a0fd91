//! Findings as a SARIF 2.1.0 log, for CI systems that show code-scanning
//! results: one rule per advisory id, one result per finding, located at the
//! subject's reference. Building the JSON only; writing it is the caller's.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::scan::Finding;
use crate::severity::{Level, Severity};

/// SARIF's result level for a severity: critical and high are errors,
/// medium a warning, low and unknown a note.
fn sarif_level(level: Level) -> &'static str {
    match level {
        Level::Critical | Level::High => "error",
        Level::Medium => "warning",
        Level::Low | Level::Unknown => "note",
    }
}

/// The one-line message of a finding: package, version, advisory, fixes.
fn message(finding: &Finding) -> String {
    let subject = &finding.subject;
    let others: Vec<&str> = finding
        .aliases
        .iter()
        .filter(|alias| **alias != finding.id)
        .map(String::as_str)
        .collect();
    let also = if others.is_empty() {
        String::new()
    } else {
        format!(" (also {})", others.join(", "))
    };
    let fixed = if finding.fixed.is_empty() {
        "no fixed version is known".to_owned()
    } else {
        format!("fixed in {}", finding.fixed.join(", "))
    };
    format!(
        "{} {} ({}) is affected by {}{}, severity {}: {}.",
        subject.name,
        subject.version,
        subject.ecosystem,
        finding.id,
        also,
        finding.severity.level,
        fixed
    )
}

/// The SARIF 2.1.0 log of `findings`, naming the tool `airlift` at
/// `tool_version`. Rules are sorted by id; a rule's level is the highest of
/// its findings'. The `security-severity` property (a CVSS score when one
/// was computed) is what code-scanning services sort by.
pub fn sarif(findings: &[Finding], tool_version: &str) -> Value {
    // One rule per id, with the highest severity and the first summary.
    let mut rules: BTreeMap<&str, (Severity, Option<&str>, &[String])> = BTreeMap::new();
    for finding in findings {
        let entry = rules.entry(finding.id.as_str()).or_insert((
            finding.severity.clone(),
            finding.summary.as_deref(),
            &finding.aliases,
        ));
        if finding.severity.compare(&entry.0).is_gt() {
            entry.0 = finding.severity.clone();
        }
        if entry.1.is_none() {
            entry.1 = finding.summary.as_deref();
        }
    }
    let positions: BTreeMap<&str, usize> = rules
        .keys()
        .enumerate()
        .map(|(position, id)| (*id, position))
        .collect();
    let rule_values: Vec<Value> = rules
        .iter()
        .map(|(id, (severity, summary, aliases))| {
            let mut properties = json!({
                "tags": ["security", "vulnerability"],
                "aliases": aliases,
                "severity": severity.level.as_str(),
            });
            if let Some(score) = severity.score {
                properties["security-severity"] = json!(format!("{score:.1}"));
            }
            if let Some(vector) = &severity.vector {
                properties["vector"] = json!(vector);
            }
            json!({
                "id": id,
                "name": id,
                "shortDescription": { "text": summary.unwrap_or(id) },
                "fullDescription": { "text": summary.unwrap_or(id) },
                "help": { "text": format!("Advisory {id}; also known as: {}.", aliases.join(", ")) },
                "defaultConfiguration": { "level": sarif_level(severity.level) },
                "properties": properties,
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|finding| {
            json!({
                "ruleId": finding.id,
                "ruleIndex": positions.get(finding.id.as_str()).copied().unwrap_or_default(),
                "level": sarif_level(finding.severity.level),
                "message": { "text": message(finding) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": finding.subject.reference }
                    }
                }],
                "partialFingerprints": {
                    "packageAdvisory": format!(
                        "{}/{}@{}/{}",
                        finding.subject.ecosystem, finding.subject.name, finding.subject.version, finding.id
                    )
                },
                "properties": {
                    "ecosystem": finding.subject.ecosystem,
                    "package": finding.subject.name,
                    "version": finding.subject.version,
                    "fixed": finding.fixed,
                    "records": finding.records,
                },
            })
        })
        .collect();
    json!({
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "airlift",
                    "version": tool_version,
                    "rules": rule_values,
                }
            },
            "results": results,
        }]
    })
}
