//! The auditor's report: one [`Report`] of what the site carries and how it
//! got there, rendered as a self-contained HTML page ([`render_html`]) and
//! as JSON ([`to_json`]) with the same data.
//!
//! `airlift report --out DIR` gathers the values (imported bundles with
//! their signers, approvals and custody hand-offs; the audit log's
//! verification; SBOM totals; findings and exceptions; drift) and writes
//! `DIR/report.html` and `DIR/report.json`. This crate reads nothing and
//! writes nothing: it defines the data model (`model`) and turns it into
//! text (`html`). The page is opened inside the air gap and kept as
//! evidence, so it loads nothing from anywhere (no scripts, stylesheets,
//! images or fonts other than one inline `<style>`), escapes every string
//! from the data, reads well printed and without CSS, and is the same bytes
//! for the same report.

mod html;
mod model;

pub use html::{escape_into, render_html};
pub use model::{
    Approval, AuditInfo, BundleInfo, Checkpoint, DatabaseInfo, DriftInfo, DriftItem, ExceptionInfo,
    FindingItem, FindingsInfo, GenerationInfo, Handoff, LevelCount, Report, SbomTotals, Signer,
    WantedItem,
};

/// What can go wrong making a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The report could not be serialised as JSON.
    #[error("serialising the report generated at {generated_at:?} as JSON: {source}")]
    Json {
        /// The report's `generated_at`, to say which report failed.
        generated_at: String,
        /// What serde_json reported.
        source: serde_json::Error,
    },
}

/// The report as pretty-printed JSON, ending in a newline.
///
/// Field order follows the model's declaration order, so the same report
/// gives the same bytes. A score that is not a finite number is written as
/// `null`, as JSON has no such numbers.
pub fn to_json(report: &Report) -> Result<String, Error> {
    let mut json = serde_json::to_string_pretty(report).map_err(|source| Error::Json {
        generated_at: report.generated_at.clone(),
        source,
    })?;
    json.push('\n');
    Ok(json)
}
