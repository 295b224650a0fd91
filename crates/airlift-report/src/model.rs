//! The report's data model: what an auditor is shown, as plain data.
//!
//! The CLI gathers these values from the store, the audit log, the SBOMs,
//! the scanner and drift detection; this module only describes them. Every
//! type serialises with serde so that `report.json` carries exactly what
//! `report.html` shows. Times are RFC 3339 strings, kept as the caller
//! wrote them, so that the report repeats its sources byte for byte instead
//! of reformatting them.

use serde::{Deserialize, Serialize};

/// Everything one report states, in the order the HTML page shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// When the report was made (RFC 3339).
    pub generated_at: String,
    /// The site's name, when the site has one (`airlift init --site`).
    pub site: Option<String>,
    /// The version of airlift that made the report.
    pub tool_version: String,
    /// The generation being served, when there is one.
    pub generation: Option<GenerationInfo>,
    /// The bundles imported, newest first.
    pub bundles: Vec<BundleInfo>,
    /// The audit log's verification result.
    pub audit: AuditInfo,
    /// How many packages the site carries, in total and per ecosystem.
    pub sbom: SbomTotals,
    /// The advisory database and the findings against the carried packages.
    pub findings: FindingsInfo,
    /// Every exception to the import policy, used or not, in force or not.
    pub exceptions: Vec<ExceptionInfo>,
    /// Drift of every kind.
    pub drift: DriftInfo,
}

/// The generation of the index being served.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationInfo {
    /// The generation's number in the index.
    pub id: u64,
    /// When the generation was made (RFC 3339).
    pub created_at: String,
    /// What made it: a bundle import, a collect, a registry push.
    pub source: String,
}

/// One imported bundle and its chain of custody.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BundleInfo {
    /// The bundle's identifier.
    pub bundle_id: String,
    /// The version of the bundle's signed metadata.
    pub version: u64,
    /// When the bundle was imported (RFC 3339).
    pub imported_at: String,
    /// When the bundle's signed metadata expires (RFC 3339), if it does.
    pub expires: Option<String>,
    /// The keys that signed the bundle.
    pub signers: Vec<Signer>,
    /// The approvals recorded for the bundle.
    pub approvals: Vec<Approval>,
    /// The hand-offs of the bundle from one custodian to the next.
    pub handoffs: Vec<Handoff>,
    /// How many index entries the import added.
    pub entries_added: u64,
    /// How many index entries the import changed.
    pub entries_changed: u64,
    /// How many index entries the import removed.
    pub entries_removed: u64,
}

/// A key that signed a bundle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Signer {
    /// The role the key signed for (`root`, `targets`, `snapshot`, ...).
    pub role: String,
    /// The key's identifier.
    pub keyid: String,
    /// The key holder's name, when the site knows it.
    pub name: Option<String>,
}

/// An approval of a bundle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// Who approved.
    pub approver: String,
    /// When the approval was signed (RFC 3339), when it is known.
    pub signed_at: Option<String>,
}

/// One hand-off of a bundle between custodians.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    /// The custodian who handed the bundle over.
    pub from: String,
    /// The custodian who received it.
    pub to: String,
    /// When (RFC 3339).
    pub at: String,
    /// A note recorded with the hand-off.
    pub note: Option<String>,
    /// Whether the hand-off's record was verified (its signature checked).
    pub verified: bool,
}

/// The audit log's verification result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditInfo {
    /// Whether the log verified against its checkpoint and witness.
    pub verified: bool,
    /// How many entries the log holds.
    pub entries: u64,
    /// The latest signed checkpoint, when there is one.
    pub checkpoint: Option<Checkpoint>,
    /// Every problem verification reported, one sentence each.
    pub problems: Vec<String>,
}

/// A signed tree head of the audit log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The tree size the checkpoint signs.
    pub size: u64,
    /// The tree's root hash, as the checkpoint writes it.
    pub root: String,
}

/// Package counts from the site's SBOM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SbomTotals {
    /// How many packages the site carries in all.
    pub packages: u64,
    /// How many per ecosystem: `(ecosystem name, packages)`, serialised as
    /// two-element arrays.
    pub per_ecosystem: Vec<(String, u64)>,
}

/// The advisory database and the findings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingsInfo {
    /// The advisory database scanned against, when there is one.
    pub database: Option<DatabaseInfo>,
    /// How many findings there are at each severity level.
    pub levels: Vec<LevelCount>,
    /// Every finding. The HTML sorts them by severity then id; the JSON
    /// keeps the caller's order.
    pub items: Vec<FindingItem>,
}

/// The advisory database that was scanned against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    /// How many advisory records it holds.
    pub records: u64,
    /// When it was built upstream (RFC 3339), when that is known.
    pub built: Option<String>,
    /// Its age in days at the time of the report, when that is known.
    pub age_days: Option<i64>,
}

/// How many findings share one severity level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelCount {
    /// The level: `critical`, `high`, `medium`, `low` or `unknown`.
    pub level: String,
    /// How many findings are at that level.
    pub count: u64,
}

/// One advisory matched against one carried package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingItem {
    /// The advisory's identifier.
    pub id: String,
    /// The advisory's other identifiers (CVE, GHSA, ...), merged into this
    /// finding.
    pub aliases: Vec<String>,
    /// The package's ecosystem.
    pub ecosystem: String,
    /// The package's name.
    pub name: String,
    /// The package's version.
    pub version: String,
    /// The severity level: `critical`, `high`, `medium`, `low` or
    /// `unknown`.
    pub severity: String,
    /// The severity score (CVSS base score), when there is one. A score
    /// that is not a finite number serialises as `null`.
    pub score: Option<f64>,
    /// The versions that fix the advisory.
    pub fixed: Vec<String>,
    /// The advisory's summary.
    pub summary: Option<String>,
    /// The exception that covers this finding, when one does.
    pub exception: Option<ExceptionInfo>,
}

/// An exception to the import policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExceptionInfo {
    /// The advisory it excepts.
    pub advisory: String,
    /// The package it is limited to, if any; otherwise every package.
    pub package: Option<String>,
    /// Why the exception was granted.
    pub justification: String,
    /// When it stops applying (RFC 3339 date or time).
    pub expires: String,
    /// Who approved it.
    pub approved_by: String,
    /// Whether an import used it.
    pub used: bool,
    /// Whether it has expired at the time of the report.
    pub expired: bool,
}

/// Drift of every kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftInfo {
    /// Served content that does not match the signed metadata of the
    /// bundles that built the current generation.
    pub integrity: Vec<DriftItem>,
    /// Served content that no imported signed bundle accounts for.
    pub provenance: Vec<DriftItem>,
    /// Carried packages with newer versions or fixes upstream.
    pub staleness: Vec<DriftItem>,
    /// Names clients asked for that the site does not carry.
    pub consumption_wanted: Vec<WantedItem>,
    /// Carried packages nobody fetched.
    pub consumption_unused: Vec<DriftItem>,
    /// Packages on hosts that did not come from this site, or versions it
    /// no longer serves.
    pub hosts: Vec<DriftItem>,
    /// The host inventories compared (empty: none was given, and the hosts
    /// section says so rather than "none found").
    #[serde(default)]
    pub hosts_compared: Vec<String>,
}

/// One item of drift.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftItem {
    /// The ecosystem of the package or content.
    pub ecosystem: String,
    /// What drifted: a package name and version, an index key, a digest.
    pub key: String,
    /// How it drifted, one sentence.
    pub detail: String,
}

/// A name clients asked for that the site does not carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WantedItem {
    /// The ecosystem asked.
    pub ecosystem: String,
    /// The name asked for.
    pub name: String,
    /// How many requests asked for it.
    pub requests: u64,
}
