//! Renders reports of growing size and prints how long each took and the
//! cost per finding, to show that rendering is linear in the number of
//! findings (plus the n log n sort): the time per finding should stay flat
//! as the count doubles.
//!
//! ```text
//! cargo bench -p airlift-report --bench render -- [FINDINGS]
//! ```
//!
//! FINDINGS (the largest report) defaults to 400,000; the bench renders
//! reports of an eighth, a quarter, a half and all of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use airlift_report::{FindingItem, Report, render_html, to_json};

fn report(findings: usize) -> Report {
    let severities = ["critical", "high", "medium", "low", "unknown"];
    let mut report = Report {
        generated_at: "2026-12-07T04:00:00Z".to_owned(),
        tool_version: "0.1.0".to_owned(),
        ..Report::default()
    };
    report.findings.items = (0..findings)
        .map(|index| FindingItem {
            // Scrambled so that the sort has work to do.
            id: format!(
                "GHSA-{:08x}",
                (index as u64).wrapping_mul(2_654_435_761) % (1 << 32)
            ),
            aliases: vec![format!("CVE-2026-{index}")],
            ecosystem: "npm".to_owned(),
            name: format!("package-{}", index % 997),
            version: "1.2.3".to_owned(),
            severity: severities[index % severities.len()].to_owned(),
            score: Some(7.5),
            fixed: vec!["1.2.4".to_owned()],
            summary: Some("Prototype pollution in <merge> & \"deep\" copy".to_owned()),
            exception: None,
        })
        .collect();
    report
}

fn main() {
    let largest: usize = std::env::args()
        .skip(1)
        .find(|argument| !argument.starts_with('-'))
        .map(|argument| argument.parse().expect("FINDINGS is a number"))
        .unwrap_or(400_000);
    for findings in [largest / 8, largest / 4, largest / 2, largest] {
        let report = report(findings);
        let started = Instant::now();
        let html = render_html(&report);
        let html_time = started.elapsed();
        let started = Instant::now();
        let json = to_json(&report).unwrap();
        let json_time = started.elapsed();
        println!(
            "{findings:>8} findings: html {:>8.1} ms ({:>6.0} ns/finding, {:>6.1} MiB), \
             json {:>8.1} ms ({:>6.1} MiB)",
            html_time.as_secs_f64() * 1e3,
            html_time.as_secs_f64() * 1e9 / findings.max(1) as f64,
            html.len() as f64 / (1024.0 * 1024.0),
            json_time.as_secs_f64() * 1e3,
            json.len() as f64 / (1024.0 * 1024.0),
        );
    }
}
