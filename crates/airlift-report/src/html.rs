//! The report as one self-contained HTML page.
//!
//! The page is evidence opened inside the air gap, so it references nothing
//! outside itself: no scripts, no stylesheets, no images, no fonts, no
//! links but its own `#section` anchors, and a Content-Security-Policy that
//! would block them if one slipped in. One inline `<style>` makes it easier
//! to read on screen and breaks pages between sections when printed; the
//! markup alone (headings, a table of contents, tables with captions and
//! header scopes) reads well without it. Every string from the data goes
//! through [`escape_into`], and no data string is ever placed in a tag's
//! attributes: ids and classes come from fixed names and counters.
//!
//! The page is built into one `String` reserved up front, with `push_str`
//! and in-place formatting, so its cost is linear in the report's size; the
//! only step above linear is sorting the findings (n log n).

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::model::{BundleInfo, DriftItem, ExceptionInfo, FindingItem, Report, WantedItem};

/// The top-level sections, in page order: `(id, heading)`. The table of
/// contents and the sections are both written from this list, so a link
/// cannot point at a section that is not there.
const SECTIONS: [(&str, &str); 7] = [
    ("summary", "Summary"),
    ("bundles", "Bundles and custody"),
    ("audit", "Audit log"),
    ("inventory", "Software inventory"),
    ("vulnerabilities", "Vulnerabilities"),
    ("exceptions", "Exceptions"),
    ("drift", "Drift"),
];

/// The drift subsections, in page order: `(id, heading)`.
const DRIFT_SECTIONS: [(&str, &str); 5] = [
    ("drift-integrity", "Integrity"),
    ("drift-provenance", "Provenance"),
    ("drift-staleness", "Staleness"),
    ("drift-consumption", "Consumption"),
    ("drift-hosts", "Hosts"),
];

/// The whole page that shows `report`: the same report gives the same
/// bytes.
///
/// Invisible and reordering characters in the data (control characters
/// other than tab and line breaks, bidirectional overrides and isolates,
/// zero-width characters) are shown as U+FFFD, so that a name cannot
/// display as another; `report.json` keeps the exact strings.
pub fn render_html(report: &Report) -> String {
    let mut page = Page::with_capacity(estimated_size(report));
    page.head(report);
    page.raw("<body>\n<header>\n<h1>airlift compliance report</h1>\n<p>");
    page.site_line(report);
    page.raw("</p>\n");
    page.contents(report);
    page.raw("</header>\n<main>\n");
    page.summary(report);
    page.bundles(report);
    page.audit(report);
    page.inventory(report);
    page.vulnerabilities(report);
    page.exceptions(report);
    page.drift(report);
    page.raw("</main>\n</body>\n</html>\n");
    page.out
}

/// A guess at the page's size, so that the string grows rarely: a fixed
/// part for the frame and the style, plus a share per item. Being wrong only
/// costs a reallocation.
fn estimated_size(report: &Report) -> usize {
    let drift = &report.drift;
    let drift_items = drift.integrity.len()
        + drift.provenance.len()
        + drift.staleness.len()
        + drift.consumption_wanted.len()
        + drift.consumption_unused.len()
        + drift.hosts.len();
    let custody: usize = report
        .bundles
        .iter()
        .map(|bundle| bundle.signers.len() + bundle.approvals.len() + bundle.handoffs.len())
        .sum();
    16 * 1024
        + report.findings.items.len() * 640
        + report.exceptions.len() * 400
        + report.bundles.len() * 2048
        + custody * 200
        + drift_items * 200
        + report.audit.problems.len() * 200
        + report.sbom.per_ecosystem.len() * 100
}

/// The page being written.
struct Page {
    out: String,
}

impl Page {
    fn with_capacity(capacity: usize) -> Self {
        Page {
            out: String::with_capacity(capacity),
        }
    }

    /// Markup written by this module, never data.
    fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
    }

    /// A string from the data, escaped.
    fn text(&mut self, text: &str) {
        escape_into(&mut self.out, text);
    }

    fn number(&mut self, number: impl std::fmt::Display) {
        // Writing into a String cannot fail.
        let _ = write!(self.out, "{number}");
    }

    fn cell(&mut self, text: &str) {
        self.raw("<td>");
        self.text(text);
        self.raw("</td>");
    }

    fn cell_or(&mut self, text: Option<&str>, absent: &str) {
        match text {
            Some(text) => self.cell(text),
            None => {
                self.raw("<td class=\"absent\">");
                self.raw(absent);
                self.raw("</td>");
            }
        }
    }

    fn number_cell(&mut self, number: impl std::fmt::Display) {
        self.raw("<td class=\"number\">");
        self.number(number);
        self.raw("</td>");
    }

    fn yes_no_cell(&mut self, value: bool) {
        self.raw(if value {
            "<td>Yes</td>"
        } else {
            "<td class=\"no\"><strong>No</strong></td>"
        });
    }

    /// A row of a two-column table whose first column names the row.
    fn row_start(&mut self, label: &str) {
        self.raw("<tr><th scope=\"row\">");
        self.raw(label);
        self.raw("</th>");
    }

    /// The end of a table's caption, which the caller opened and filled
    /// (escaping any data in it), and the column headers.
    fn columns(&mut self, columns: &[&str]) {
        self.raw("</caption>\n<thead><tr>");
        for column in columns {
            self.raw("<th scope=\"col\">");
            self.raw(column);
            self.raw("</th>");
        }
        self.raw("</tr></thead>\n<tbody>\n");
    }

    fn table_end(&mut self) {
        self.raw("</tbody>\n</table>\n");
    }

    fn empty(&mut self, message: &str) {
        self.raw("<p class=\"empty\">");
        self.raw(message);
        self.raw("</p>\n");
    }

    fn section_start(&mut self, index: usize) {
        let (id, heading) = SECTIONS[index];
        self.raw("<section id=\"");
        self.raw(id);
        self.raw("\" aria-labelledby=\"");
        self.raw(id);
        self.raw("-title\">\n<h2 id=\"");
        self.raw(id);
        self.raw("-title\">");
        self.number(index + 1);
        self.raw(". ");
        self.raw(heading);
        self.raw("</h2>\n");
    }

    fn section_end(&mut self) {
        self.raw("</section>\n");
    }

    fn head(&mut self, report: &Report) {
        self.raw(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>airlift compliance report",
        );
        if let Some(site) = &report.site {
            self.raw(": ");
            self.text(site);
        }
        if !report.generated_at.is_empty() {
            self.raw(", ");
            self.text(&report.generated_at);
        }
        self.raw("</title>\n<style>\n");
        self.raw(STYLE);
        self.raw("</style>\n</head>\n");
    }

    fn site_line(&mut self, report: &Report) {
        match &report.site {
            Some(site) => {
                self.raw("Site <strong>");
                self.text(site);
                self.raw("</strong>. ");
            }
            None => self.raw("Site not named. "),
        }
        self.raw("Generated at ");
        self.text(&report.generated_at);
        self.raw(" by airlift ");
        self.text(&report.tool_version);
        self.raw(".");
    }

    fn contents(&mut self, report: &Report) {
        self.raw("<nav aria-labelledby=\"contents\">\n<h2 id=\"contents\">Contents</h2>\n<ol>\n");
        for (id, heading) in SECTIONS {
            self.raw("<li><a href=\"#");
            self.raw(id);
            self.raw("\">");
            self.raw(heading);
            self.raw("</a>");
            if id == "bundles" && !report.bundles.is_empty() {
                self.raw("\n<ol>\n");
                for (index, bundle) in report.bundles.iter().enumerate() {
                    self.raw("<li><a href=\"#bundle-");
                    self.number(index + 1);
                    self.raw("\">");
                    self.bundle_title(bundle);
                    self.raw("</a></li>\n");
                }
                self.raw("</ol>\n");
            }
            if id == "drift" {
                self.raw("\n<ol>\n");
                for (id, heading) in DRIFT_SECTIONS {
                    self.raw("<li><a href=\"#");
                    self.raw(id);
                    self.raw("\">");
                    self.raw(heading);
                    self.raw("</a></li>\n");
                }
                self.raw("</ol>\n");
            }
            self.raw("</li>\n");
        }
        self.raw("</ol>\n</nav>\n");
    }

    /// The audit verdict: PASS only when the log verified and verification
    /// reported no problem, so that a problem is never shown beside a PASS.
    fn verdict(&mut self, report: &Report) {
        if audit_passes(report) {
            self.raw("<strong class=\"pass\">PASS</strong>");
        } else {
            self.raw("<strong class=\"fail\">FAIL</strong>");
        }
    }

    fn summary(&mut self, report: &Report) {
        self.section_start(0);
        self.raw("<table>\n<caption>The site at a glance</caption>\n<tbody>\n");
        self.row_start("Audit log");
        self.raw("<td>");
        self.verdict(report);
        self.raw(if audit_passes(report) {
            ": the log verified and no problem was reported."
        } else if report.audit.verified {
            ": the log verified, but problems were reported (see the audit log section)."
        } else {
            ": the log did not verify (see the audit log section)."
        });
        self.raw("</td></tr>\n");
        self.row_start("Site");
        self.cell_or(report.site.as_deref(), "None (not named)");
        self.raw("</tr>\n");
        self.row_start("Generated at");
        self.cell(&report.generated_at);
        self.raw("</tr>\n");
        self.row_start("airlift version");
        self.cell(&report.tool_version);
        self.raw("</tr>\n");
        self.row_start("Generation served");
        match &report.generation {
            Some(generation) => {
                self.raw("<td>");
                self.number(generation.id);
                self.raw(", created ");
                self.text(&generation.created_at);
                self.raw(", from ");
                self.text(&generation.source);
                self.raw("</td>");
            }
            None => self.raw("<td class=\"absent\">None</td>"),
        }
        self.raw("</tr>\n");
        self.row_start("Bundles imported");
        self.number_cell(report.bundles.len());
        self.raw("</tr>\n");
        let unverified: usize = report
            .bundles
            .iter()
            .map(|bundle| {
                bundle
                    .handoffs
                    .iter()
                    .filter(|handoff| !handoff.verified)
                    .count()
            })
            .sum();
        self.row_start("Custody hand-offs not verified");
        self.number_cell(unverified);
        self.raw("</tr>\n");
        self.row_start("Packages carried");
        self.number_cell(report.sbom.packages);
        self.raw("</tr>\n");
        self.row_start("Findings");
        self.number_cell(report.findings.items.len());
        self.raw("</tr>\n");
        let used = report
            .exceptions
            .iter()
            .filter(|exception| exception.used)
            .count();
        let expired = report
            .exceptions
            .iter()
            .filter(|exception| exception.expired)
            .count();
        self.row_start("Exceptions");
        self.raw("<td>");
        self.number(report.exceptions.len());
        self.raw(" (");
        self.number(used);
        self.raw(" used, ");
        self.number(expired);
        self.raw(" expired)</td></tr>\n");
        let drift = &report.drift;
        let counts = [
            drift.integrity.len(),
            drift.provenance.len(),
            drift.staleness.len(),
            drift.consumption_wanted.len() + drift.consumption_unused.len(),
            drift.hosts.len(),
        ];
        for ((_, heading), count) in DRIFT_SECTIONS.iter().zip(counts) {
            self.raw("<tr><th scope=\"row\">Drift: ");
            self.raw(&heading.to_ascii_lowercase());
            self.raw("</th>");
            self.number_cell(count);
            self.raw("</tr>\n");
        }
        self.table_end();

        if report.findings.levels.is_empty() {
            self.empty("Findings by severity: none.");
        } else {
            let mut levels: Vec<_> = report.findings.levels.iter().collect();
            // Stable, so levels of the same rank keep the caller's order.
            levels.sort_by_key(|level| severity_rank(&level.level));
            self.raw("<table>\n<caption>Findings by severity");
            self.columns(&["Severity", "Findings"]);
            for level in levels {
                self.raw("<tr>");
                self.severity_cell(&level.level, "th scope=\"row\"", "th");
                self.number_cell(level.count);
                self.raw("</tr>\n");
            }
            self.table_end();
        }
        self.section_end();
    }

    fn bundle_title(&mut self, bundle: &BundleInfo) {
        self.raw("Bundle ");
        self.text(&bundle.bundle_id);
        self.raw(", version ");
        self.number(bundle.version);
    }

    fn bundles(&mut self, report: &Report) {
        self.section_start(1);
        if report.bundles.is_empty() {
            self.empty("Bundles imported: none.");
        } else {
            self.raw("<p>Newest first.</p>\n");
        }
        for (index, bundle) in report.bundles.iter().enumerate() {
            self.bundle(index + 1, bundle);
        }
        self.section_end();
    }

    fn bundle(&mut self, number: usize, bundle: &BundleInfo) {
        self.raw("<section class=\"bundle\" id=\"bundle-");
        self.number(number);
        self.raw("\" aria-labelledby=\"bundle-");
        self.number(number);
        self.raw("-title\">\n<h3 id=\"bundle-");
        self.number(number);
        self.raw("-title\">");
        self.bundle_title(bundle);
        self.raw("</h3>\n<table>\n<caption>Import of bundle ");
        self.text(&bundle.bundle_id);
        self.raw("</caption>\n<tbody>\n");
        self.row_start("Bundle");
        self.cell(&bundle.bundle_id);
        self.raw("</tr>\n");
        self.row_start("Metadata version");
        self.number_cell(bundle.version);
        self.raw("</tr>\n");
        self.row_start("Imported at");
        self.cell(&bundle.imported_at);
        self.raw("</tr>\n");
        self.row_start("Expires");
        self.cell_or(bundle.expires.as_deref(), "Never");
        self.raw("</tr>\n");
        self.row_start("Entries added");
        self.number_cell(bundle.entries_added);
        self.raw("</tr>\n");
        self.row_start("Entries changed");
        self.number_cell(bundle.entries_changed);
        self.raw("</tr>\n");
        self.row_start("Entries removed");
        self.number_cell(bundle.entries_removed);
        self.raw("</tr>\n");
        self.table_end();

        if bundle.signers.is_empty() {
            self.empty("Signers: none recorded.");
        } else {
            self.raw("<table>\n<caption>Signers of bundle ");
            self.text(&bundle.bundle_id);
            self.columns(&["Role", "Key id", "Name"]);
            for signer in &bundle.signers {
                self.raw("<tr>");
                self.cell(&signer.role);
                self.raw("<td class=\"identifier\">");
                self.text(&signer.keyid);
                self.raw("</td>");
                self.cell_or(signer.name.as_deref(), "Not known");
                self.raw("</tr>\n");
            }
            self.table_end();
        }

        if bundle.approvals.is_empty() {
            self.empty("Approvals: none recorded.");
        } else {
            self.raw("<table>\n<caption>Approvals of bundle ");
            self.text(&bundle.bundle_id);
            self.columns(&["Approver", "Signed at"]);
            for approval in &bundle.approvals {
                self.raw("<tr>");
                self.cell(&approval.approver);
                self.cell_or(approval.signed_at.as_deref(), "Not recorded");
                self.raw("</tr>\n");
            }
            self.table_end();
        }

        if bundle.handoffs.is_empty() {
            self.empty("Custody hand-offs: none recorded.");
        } else {
            self.raw("<table>\n<caption>Custody hand-offs of bundle ");
            self.text(&bundle.bundle_id);
            self.columns(&["From", "To", "At", "Verified", "Note"]);
            for handoff in &bundle.handoffs {
                self.raw("<tr>");
                self.cell(&handoff.from);
                self.cell(&handoff.to);
                self.cell(&handoff.at);
                self.yes_no_cell(handoff.verified);
                self.cell_or(handoff.note.as_deref(), "None");
                self.raw("</tr>\n");
            }
            self.table_end();
        }
        self.raw("</section>\n");
    }

    fn audit(&mut self, report: &Report) {
        let audit = &report.audit;
        self.section_start(2);
        self.raw("<table>\n<caption>Verification of the audit log</caption>\n<tbody>\n");
        self.row_start("Status");
        self.raw("<td>");
        self.verdict(report);
        self.raw("</td></tr>\n");
        self.row_start("Verified");
        self.yes_no_cell(audit.verified);
        self.raw("</tr>\n");
        self.row_start("Entries");
        self.number_cell(audit.entries);
        self.raw("</tr>\n");
        self.row_start("Latest checkpoint");
        match &audit.checkpoint {
            Some(checkpoint) => {
                self.raw("<td>Tree size ");
                self.number(checkpoint.size);
                self.raw(", root <span class=\"identifier\">");
                self.text(&checkpoint.root);
                self.raw("</span></td>");
            }
            None => self.raw("<td class=\"absent\">None</td>"),
        }
        self.raw("</tr>\n");
        self.table_end();
        if audit.problems.is_empty() {
            self.empty("Problems: none reported.");
        } else {
            self.raw("<h3>Problems reported</h3>\n<ol class=\"problems\">\n");
            for problem in &audit.problems {
                self.raw("<li>");
                self.text(problem);
                self.raw("</li>\n");
            }
            self.raw("</ol>\n");
        }
        self.section_end();
    }

    fn inventory(&mut self, report: &Report) {
        let sbom = &report.sbom;
        self.section_start(3);
        if sbom.per_ecosystem.is_empty() {
            self.empty("Packages per ecosystem: none recorded.");
            self.raw("<p>Packages carried in all: ");
            self.number(sbom.packages);
            self.raw(".</p>\n");
        } else {
            self.raw("<table>\n<caption>Packages carried, per ecosystem");
            self.columns(&["Ecosystem", "Packages"]);
            for (ecosystem, packages) in &sbom.per_ecosystem {
                self.raw("<tr><th scope=\"row\">");
                self.text(ecosystem);
                self.raw("</th>");
                self.number_cell(packages);
                self.raw("</tr>\n");
            }
            self.raw("</tbody>\n<tfoot><tr><th scope=\"row\">All ecosystems</th>");
            self.number_cell(sbom.packages);
            self.raw("</tr></tfoot>\n</table>\n");
        }
        self.section_end();
    }

    fn vulnerabilities(&mut self, report: &Report) {
        let findings = &report.findings;
        self.section_start(4);
        match &findings.database {
            Some(database) => {
                self.raw("<table>\n<caption>Advisory database</caption>\n<tbody>\n");
                self.row_start("Records");
                self.number_cell(database.records);
                self.raw("</tr>\n");
                self.row_start("Built");
                self.cell_or(database.built.as_deref(), "Not known");
                self.raw("</tr>\n");
                self.row_start("Age");
                match database.age_days {
                    Some(1) => self.raw("<td class=\"number\">1 day</td>"),
                    Some(days) => {
                        self.raw("<td class=\"number\">");
                        self.number(days);
                        self.raw(" days</td>");
                    }
                    None => self.raw("<td class=\"absent\">Not known</td>"),
                }
                self.raw("</tr>\n");
                self.table_end();
            }
            None => self.empty("Advisory database: none imported, so nothing was scanned."),
        }

        if findings.items.is_empty() {
            self.empty("Findings: none.");
            self.section_end();
            return;
        }
        // Rank each finding once, then sort references: the items are not
        // copied, and the comparison does not re-derive the rank.
        let mut sorted: Vec<(u8, &FindingItem)> = findings
            .items
            .iter()
            .map(|item| (severity_rank(&item.severity), item))
            .collect();
        sorted.sort_by(|(left_rank, left), (right_rank, right)| {
            left_rank
                .cmp(right_rank)
                .then_with(|| left.id.cmp(&right.id))
                .then_with(|| compare_package(left, right))
        });
        self.raw("<table class=\"findings\">\n<caption>Findings (");
        self.number(sorted.len());
        self.raw("), by severity from critical to unknown, then advisory id");
        self.columns(&[
            "Severity",
            "Advisory",
            "Package",
            "Version",
            "Score",
            "Fixed in",
            "Summary",
            "Exception",
        ]);
        for (_, item) in sorted {
            self.finding(item);
        }
        self.table_end();
        self.section_end();
    }

    fn finding(&mut self, item: &FindingItem) {
        self.raw("<tr>");
        self.severity_cell(&item.severity, "td", "td");
        self.raw("<td class=\"identifier\">");
        self.text(&item.id);
        if !item.aliases.is_empty() {
            self.raw("<br><span class=\"aliases\">also ");
            self.joined(&item.aliases);
            self.raw("</span>");
        }
        self.raw("</td><td>");
        self.text(&item.ecosystem);
        self.raw(": ");
        self.text(&item.name);
        self.raw("</td>");
        self.cell(&item.version);
        match item.score {
            Some(score) if score.is_finite() => {
                self.raw("<td class=\"number\">");
                self.score(score);
                self.raw("</td>");
            }
            _ => self.raw("<td class=\"absent\">None</td>"),
        }
        if item.fixed.is_empty() {
            self.raw("<td class=\"absent\">No fix</td>");
        } else {
            self.raw("<td>");
            self.joined(&item.fixed);
            self.raw("</td>");
        }
        self.cell_or(item.summary.as_deref(), "None");
        match &item.exception {
            Some(exception) => {
                self.raw("<td>");
                self.exception_inline(exception);
                self.raw("</td>");
            }
            None => self.raw("<td class=\"absent\">None</td>"),
        }
        self.raw("</tr>\n");
    }

    /// A score with one decimal, as CVSS base scores are written. Through
    /// integers in tenths for scores in range, as `{:.1}` takes a slow exact
    /// path for many values.
    fn score(&mut self, score: f64) {
        let tenths = (score * 10.0).round();
        if tenths.abs() < 1e15 {
            // In range of i64 exactly, checked above.
            let tenths = tenths as i64;
            let sign = if tenths < 0 { "-" } else { "" };
            let tenths = tenths.unsigned_abs();
            let _ = write!(self.out, "{sign}{}.{}", tenths / 10, tenths % 10);
        } else {
            let _ = write!(self.out, "{score:.1}");
        }
    }

    fn joined(&mut self, texts: &[String]) {
        for (index, text) in texts.iter().enumerate() {
            if index > 0 {
                self.raw(", ");
            }
            self.text(text);
        }
    }

    /// The severity as a word, so that it does not rest on colour alone;
    /// the class (from a fixed set, never the data) adds the colour.
    fn severity_cell(&mut self, severity: &str, open: &str, close: &str) {
        let rank = severity_rank(severity);
        self.raw("<");
        self.raw(open);
        self.raw(" class=\"severity ");
        self.raw(SEVERITY_CLASSES[usize::from(rank)]);
        self.raw("\">");
        match SEVERITY_LABELS.get(usize::from(rank)) {
            Some(label) => self.raw(label),
            // A level this page does not know is shown as written.
            None if !severity.trim().is_empty() => self.text(&severity.to_uppercase()),
            None => self.raw("UNKNOWN"),
        }
        self.raw("</");
        self.raw(close);
        self.raw(">");
    }

    fn exception_inline(&mut self, exception: &ExceptionInfo) {
        self.raw(if exception.expired {
            "<strong class=\"fail\">Excepted, expired</strong>"
        } else {
            "<strong>Excepted</strong>"
        });
        self.raw(" until ");
        self.text(&exception.expires);
        self.raw(", approved by ");
        self.text(&exception.approved_by);
        self.raw(": ");
        self.text(&exception.justification);
    }

    fn exceptions(&mut self, report: &Report) {
        self.section_start(5);
        if report.exceptions.is_empty() {
            self.empty("Exceptions: none.");
            self.section_end();
            return;
        }
        self.raw("<table>\n<caption>Exceptions to the import policy (");
        self.number(report.exceptions.len());
        self.raw(")");
        self.columns(&[
            "Advisory",
            "Package",
            "Justification",
            "Expires",
            "Approved by",
            "Used",
            "Expired",
        ]);
        for exception in &report.exceptions {
            self.raw("<tr><td class=\"identifier\">");
            self.text(&exception.advisory);
            self.raw("</td>");
            self.cell_or(exception.package.as_deref(), "Any package");
            self.cell(&exception.justification);
            self.cell(&exception.expires);
            self.cell(&exception.approved_by);
            self.raw(if exception.used {
                "<td>Yes</td>"
            } else {
                "<td>No</td>"
            });
            self.raw(if exception.expired {
                "<td class=\"fail\"><strong>Yes, expired</strong></td>"
            } else {
                "<td>No</td>"
            });
            self.raw("</tr>\n");
        }
        self.table_end();
        self.section_end();
    }

    fn drift(&mut self, report: &Report) {
        let drift = &report.drift;
        self.section_start(6);
        self.drift_kind(
            0,
            "Served content that does not match the signed metadata of the bundles \
             that built the current generation.",
            &drift.integrity,
        );
        self.drift_kind(
            1,
            "Served content that no imported signed bundle accounts for.",
            &drift.provenance,
        );
        self.drift_kind(
            2,
            "Carried packages with newer versions or fixed advisories upstream.",
            &drift.staleness,
        );
        self.drift_start(3);
        self.raw(
            "<p>What clients asked for that the site does not carry, and what it \
             carries that nobody fetched.</p>\n<h4>Wanted</h4>\n",
        );
        if drift.consumption_wanted.is_empty() {
            self.empty("None found.");
        } else {
            self.wanted_table(&drift.consumption_wanted);
        }
        self.raw("<h4>Unused</h4>\n");
        self.drift_items(
            "Consumption: carried, never fetched",
            &drift.consumption_unused,
        );
        self.raw("</section>\n");
        if drift.hosts_compared.is_empty() {
            self.drift_start(4);
            self.empty(
                "No host inventory was compared (airlift report --inventory FILE \
                 compares what a host runs with what the site serves).",
            );
            self.raw("</section>\n");
        } else {
            self.drift_kind(
                4,
                "Packages on hosts that did not come from this site, or versions it no \
                 longer serves.",
                &drift.hosts,
            );
        }
        self.section_end();
    }

    fn drift_start(&mut self, index: usize) {
        let (id, heading) = DRIFT_SECTIONS[index];
        self.raw("<section id=\"");
        self.raw(id);
        self.raw("\" aria-labelledby=\"");
        self.raw(id);
        self.raw("-title\">\n<h3 id=\"");
        self.raw(id);
        self.raw("-title\">");
        self.raw(heading);
        self.raw("</h3>\n");
    }

    fn drift_kind(&mut self, index: usize, explanation: &str, items: &[DriftItem]) {
        self.drift_start(index);
        self.raw("<p>");
        self.raw(explanation);
        self.raw("</p>\n");
        self.drift_items(DRIFT_SECTIONS[index].1, items);
        self.raw("</section>\n");
    }

    fn drift_items(&mut self, caption: &str, items: &[DriftItem]) {
        if items.is_empty() {
            self.empty("None found.");
            return;
        }
        self.raw("<table>\n<caption>");
        self.raw(caption);
        self.raw(" (");
        self.number(items.len());
        self.raw(")");
        self.columns(&["Ecosystem", "Key", "Detail"]);
        for item in items {
            self.raw("<tr>");
            self.cell(&item.ecosystem);
            self.raw("<td class=\"identifier\">");
            self.text(&item.key);
            self.raw("</td>");
            self.cell(&item.detail);
            self.raw("</tr>\n");
        }
        self.table_end();
    }

    fn wanted_table(&mut self, items: &[WantedItem]) {
        self.raw("<table>\n<caption>Consumption: asked for, not carried (");
        self.number(items.len());
        self.raw(")");
        self.columns(&["Ecosystem", "Name", "Requests"]);
        for item in items {
            self.raw("<tr>");
            self.cell(&item.ecosystem);
            self.cell(&item.name);
            self.number_cell(item.requests);
            self.raw("</tr>\n");
        }
        self.table_end();
    }
}

/// PASS only when the log verified and no problem was reported.
fn audit_passes(report: &Report) -> bool {
    report.audit.verified && report.audit.problems.is_empty()
}

/// The labels of the known severity levels, by rank.
const SEVERITY_LABELS: [&str; 5] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"];

/// The class of each rank; a rank past the labels (a level this page does
/// not know) is drawn as unknown.
const SEVERITY_CLASSES: [&str; 6] = [
    "severity-critical",
    "severity-high",
    "severity-medium",
    "severity-low",
    "severity-unknown",
    "severity-unknown",
];

/// The order findings are shown in: critical, high, medium (also called
/// moderate), low, unknown (also an empty level), then any other word.
fn severity_rank(severity: &str) -> u8 {
    // ASCII whitespace only: the known words are ASCII, and `trim` checks
    // every Unicode space, which showed in profiles of large reports.
    let severity = severity.trim_ascii();
    let is = |word: &str| severity.eq_ignore_ascii_case(word);
    if is("critical") {
        0
    } else if is("high") {
        1
    } else if is("medium") || is("moderate") {
        2
    } else if is("low") {
        3
    } else if is("unknown") || severity.is_empty() {
        4
    } else {
        5
    }
}

/// Ties between findings of one advisory and rank, broken by package so
/// that the order does not depend on the caller's.
fn compare_package(left: &FindingItem, right: &FindingItem) -> Ordering {
    left.ecosystem
        .cmp(&right.ecosystem)
        .then_with(|| left.name.cmp(&right.name))
        .then_with(|| left.version.cmp(&right.version))
        .then_with(|| left.severity.cmp(&right.severity))
}

/// Appends `text` to `out` escaped for HTML text and attribute values
/// alike: `&`, `<`, `>`, `"` and `'` become character references, and
/// characters that are invisible or reorder text become U+FFFD.
///
/// The scan is over bytes: an ASCII byte is checked against the five
/// characters and the controls, and only the lead bytes of the few
/// non-ASCII characters [`is_deceptive`] names are decoded. Runs of
/// ordinary text are copied as one slice, so escaping is one pass.
pub fn escape_into(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut copied = 0;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let (replacement, length) = match byte {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' => ("&quot;", 1),
            b'\'' => ("&#39;", 1),
            b'\t' | b'\n' | b'\r' => {
                index += 1;
                continue;
            }
            0x00..=0x1F | 0x7F => ("\u{FFFD}", 1),
            // The lead bytes of C1 controls (U+0080..U+009F), U+061C, the
            // U+2000 block and U+FEFF; every other byte is left as it is.
            0xC2 | 0xD8 | 0xE2 | 0xEF => match text[index..].chars().next() {
                Some(character) if is_deceptive(character) => ("\u{FFFD}", character.len_utf8()),
                _ => {
                    index += 1;
                    continue;
                }
            },
            _ => {
                index += 1;
                continue;
            }
        };
        out.push_str(&text[copied..index]);
        out.push_str(replacement);
        index += length;
        copied = index;
    }
    out.push_str(&text[copied..]);
}

/// Characters that would hide or reorder what the auditor reads: control
/// characters other than tab and line breaks, bidirectional marks,
/// embeddings, overrides and isolates, and zero-width characters. Evidence
/// should show a package name as the bytes differ, not as another name.
fn is_deceptive(character: char) -> bool {
    (character.is_control() && !matches!(character, '\t' | '\n' | '\r'))
        || matches!(
            character,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// The one inline style. Light backgrounds only, text contrast of at least
/// 7:1 on its background, and page breaks between top-level sections when
/// printed; it loads nothing (no `url()`, no `@import`, local fonts only).
const STYLE: &str = "\
:root { color-scheme: light; }
body { font-family: system-ui, sans-serif; color: #1a1a1a; background: #ffffff; \
max-width: 80rem; margin: 0 auto; padding: 1rem; line-height: 1.45; }
h1, h2, h3, h4 { line-height: 1.2; }
h2 { border-bottom: 2px solid #1a1a1a; padding-bottom: 0.2rem; margin-top: 2.5rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1.25rem; }
caption { text-align: left; font-weight: bold; padding: 0.25rem 0; }
th, td { border: 1px solid #6b6b6b; padding: 0.25rem 0.5rem; text-align: left; \
vertical-align: top; overflow-wrap: anywhere; }
thead th { background: #ececec; }
tbody th { font-weight: 600; }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.identifier { font-family: ui-monospace, monospace; }
.aliases { font-size: 0.9em; }
.absent, .empty { font-style: italic; color: #404040; }
.pass { color: #0a5a1c; }
.fail, td.no { color: #9b0000; }
.severity { font-weight: bold; white-space: nowrap; }
.severity-critical { background: #fbdcdc; color: #5c0000; }
.severity-high { background: #fde6d2; color: #5a2400; }
.severity-medium { background: #fbf1c9; color: #4a3a00; }
.severity-low { background: #e3eefb; color: #0d2f5c; }
.severity-unknown { background: #efefef; color: #262626; }
a { color: #0b3d91; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  main > section { break-before: page; page-break-before: always; }
  a { color: #000000; text-decoration: none; }
  thead { display: table-header-group; }
  tr, caption { break-inside: avoid; page-break-inside: avoid; }
  h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
}
";

#[cfg(test)]
mod tests {
    use super::{Page, escape_into, severity_rank};

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        escape_into(&mut out, text);
        out
    }

    #[test]
    fn escapes_the_five_characters_for_text_and_attributes() {
        assert_eq!(escaped("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
        assert_eq!(escaped("&amp;"), "&amp;amp;");
        assert_eq!(escaped(""), "");
        assert_eq!(escaped("plain ünïcödé"), "plain ünïcödé");
        // Tab and line breaks stay; other controls and bidi overrides do not.
        assert_eq!(escaped("a\tb\nc\rd"), "a\tb\nc\rd");
        assert_eq!(
            escaped("\u{0}\u{7}\u{7f}\u{85}\u{202E}\u{2066}\u{200B}\u{FEFF}x"),
            "\u{FFFD}".repeat(8) + "x"
        );
    }

    #[test]
    fn scores_have_one_decimal() {
        let mut page = Page::with_capacity(0);
        for score in [7.5, 10.0, 0.0, 9.849, 9.85, -0.5, 1e20] {
            page.score(score);
            page.raw(" ");
        }
        assert_eq!(
            page.out,
            "7.5 10.0 0.0 9.8 9.9 -0.5 100000000000000000000.0 "
        );
    }

    #[test]
    fn ranks_severities_from_critical_to_unknown() {
        let ranks: Vec<u8> = [
            "Critical", "HIGH", "moderate", "medium", "low", "unknown", "", "other",
        ]
        .iter()
        .map(|severity| severity_rank(severity))
        .collect();
        assert_eq!(ranks, [0, 1, 2, 2, 3, 4, 4, 5]);
    }
}
