//! The report's HTML and JSON, checked from the outside: escaping of hostile
//! strings, the page loading nothing, sections in order with a table of
//! contents that resolves, the audit verdict, the empty report, the order
//! of findings, determinism, and the JSON round trip.

#![allow(clippy::unwrap_used)]

use airlift_report::{
    Approval, AuditInfo, BundleInfo, Checkpoint, DatabaseInfo, DriftInfo, DriftItem, ExceptionInfo,
    FindingItem, FindingsInfo, GenerationInfo, Handoff, LevelCount, Report, SbomTotals, Signer,
    WantedItem, render_html, to_json,
};

const SECTION_IDS: [&str; 7] = [
    "summary",
    "bundles",
    "audit",
    "inventory",
    "vulnerabilities",
    "exceptions",
    "drift",
];

const DRIFT_IDS: [&str; 5] = [
    "drift-integrity",
    "drift-provenance",
    "drift-staleness",
    "drift-consumption",
    "drift-hosts",
];

fn exception(advisory: &str, used: bool, expired: bool) -> ExceptionInfo {
    ExceptionInfo {
        advisory: advisory.to_owned(),
        package: Some("requests".to_owned()),
        justification: "Not reachable: the vulnerable function is never called.".to_owned(),
        expires: "2027-01-31".to_owned(),
        approved_by: "Dana Auditor".to_owned(),
        used,
        expired,
    }
}

fn finding(id: &str, severity: &str, name: &str) -> FindingItem {
    FindingItem {
        id: id.to_owned(),
        aliases: vec![
            format!("CVE-2026-{}", id.len()),
            "GHSA-aaaa-bbbb-cccc".to_owned(),
        ],
        ecosystem: "PyPI".to_owned(),
        name: name.to_owned(),
        version: "2.31.0".to_owned(),
        severity: severity.to_owned(),
        score: Some(7.5),
        fixed: vec!["2.32.0".to_owned()],
        summary: Some("Leaks a header on redirect".to_owned()),
        exception: None,
    }
}

fn drift_item(key: &str) -> DriftItem {
    DriftItem {
        ecosystem: "npm".to_owned(),
        key: key.to_owned(),
        detail: "served but listed by no signed bundle".to_owned(),
    }
}

/// A report with something in every list.
fn sample() -> Report {
    let mut excepted = finding("PYSEC-2026-1", "high", "requests");
    excepted.exception = Some(exception("PYSEC-2026-1", true, false));
    Report {
        generated_at: "2026-12-07T04:00:00Z".to_owned(),
        site: Some("plant-7".to_owned()),
        tool_version: "0.1.0".to_owned(),
        generation: Some(GenerationInfo {
            id: 42,
            created_at: "2026-12-06T10:00:00Z".to_owned(),
            source: "import of bundle b-0002".to_owned(),
        }),
        bundles: vec![
            BundleInfo {
                bundle_id: "b-0002".to_owned(),
                version: 2,
                imported_at: "2026-12-06T10:00:00Z".to_owned(),
                expires: Some("2027-12-06T10:00:00Z".to_owned()),
                signers: vec![Signer {
                    role: "targets".to_owned(),
                    keyid: "ab12cd34".to_owned(),
                    name: Some("Release key".to_owned()),
                }],
                approvals: vec![Approval {
                    approver: "Sam Approver".to_owned(),
                    signed_at: Some("2026-12-05T09:00:00Z".to_owned()),
                }],
                handoffs: vec![
                    Handoff {
                        from: "connected desk".to_owned(),
                        to: "courier".to_owned(),
                        at: "2026-12-05T12:00:00Z".to_owned(),
                        note: Some("sealed bag 991".to_owned()),
                        verified: true,
                    },
                    Handoff {
                        from: "courier".to_owned(),
                        to: "gap desk".to_owned(),
                        at: "2026-12-06T08:00:00Z".to_owned(),
                        note: None,
                        verified: false,
                    },
                ],
                entries_added: 10,
                entries_changed: 2,
                entries_removed: 1,
            },
            BundleInfo {
                bundle_id: "b-0001".to_owned(),
                version: 1,
                imported_at: "2026-11-01T10:00:00Z".to_owned(),
                expires: None,
                signers: vec![],
                approvals: vec![],
                handoffs: vec![],
                entries_added: 100,
                entries_changed: 0,
                entries_removed: 0,
            },
        ],
        audit: AuditInfo {
            verified: true,
            entries: 1234,
            checkpoint: Some(Checkpoint {
                size: 1234,
                root: "q2Zm9uZGF0aW9uIHJvb3Q=".to_owned(),
            }),
            problems: vec![],
        },
        sbom: SbomTotals {
            packages: 30,
            per_ecosystem: vec![("PyPI".to_owned(), 20), ("npm".to_owned(), 10)],
        },
        findings: FindingsInfo {
            database: Some(DatabaseInfo {
                records: 200_000,
                built: Some("2026-12-05T00:00:00Z".to_owned()),
                age_days: Some(2),
            }),
            levels: vec![
                LevelCount {
                    level: "high".to_owned(),
                    count: 1,
                },
                LevelCount {
                    level: "critical".to_owned(),
                    count: 1,
                },
            ],
            items: vec![
                excepted,
                finding("RUSTSEC-2026-0001", "critical", "openssl"),
            ],
        },
        exceptions: vec![
            exception("PYSEC-2026-1", true, false),
            exception("GHSA-old", false, true),
        ],
        drift: DriftInfo {
            integrity: vec![drift_item("left-pad@1.3.0")],
            provenance: vec![drift_item("internal-tool@0.1.0")],
            staleness: vec![drift_item("lodash@4.17.20")],
            consumption_wanted: vec![WantedItem {
                ecosystem: "npm".to_owned(),
                name: "react".to_owned(),
                requests: 17,
            }],
            consumption_unused: vec![drift_item("is-odd@3.0.1")],
            hosts: vec![drift_item("express@4.0.0")],
            hosts_compared: vec!["host.json".to_owned()],
        },
    }
}

/// Every tag of the page, from `<` to the next `>`. Data is escaped, so
/// every `<` in the page opens a tag this crate wrote.
fn tags(html: &str) -> Vec<&str> {
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("every tag closes") + start;
        tags.push(&rest[start..=end]);
        rest = &rest[end + 1..];
    }
    tags
}

/// The values of one attribute over every tag.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!(" {attribute}=\"");
    let mut values = Vec::new();
    for tag in tags(html) {
        for (at, _) in tag.match_indices(needle.as_str()) {
            let value = &tag[at + needle.len()..];
            values.push(&value[..value.find('"').expect("attribute value closes")]);
        }
    }
    values
}

/// The text of one top-level section.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section id=\"{id}\""))
        .unwrap_or_else(|| panic!("section {id} missing"));
    let position = SECTION_IDS.iter().position(|known| *known == id).unwrap();
    let end = match SECTION_IDS.get(position + 1) {
        Some(next) => html.find(&format!("<section id=\"{next}\"")).unwrap(),
        None => html.find("</main>").unwrap(),
    };
    &html[start..end]
}

/// The ids of the findings' rows, in page order.
fn finding_order(html: &str) -> Vec<String> {
    let table = section(html, "vulnerabilities");
    let body = &table[table.find("class=\"findings\"").unwrap()..];
    body.split("<tr>")
        .skip(2) // before the header row, the header row
        .map(|row| {
            let start = row.find("<td class=\"identifier\">").unwrap() + 23;
            let end = start + row[start..].find(['<']).unwrap();
            row[start..end].to_owned()
        })
        .collect()
}

const HOSTILE: &str = "<script>alert(1)</script>\"'&amp;</style><img src=x onerror=alert(2)>";

fn hostile_report() -> Report {
    let hostile = || HOSTILE.to_owned();
    let mut report = sample();
    report.generated_at = hostile();
    report.site = Some(hostile());
    report.tool_version = hostile();
    report.generation.as_mut().unwrap().source = hostile();
    let bundle = &mut report.bundles[0];
    bundle.bundle_id = hostile();
    bundle.signers[0].keyid = hostile();
    bundle.signers[0].name = Some(hostile());
    bundle.approvals[0].approver = hostile();
    bundle.handoffs[0].note = Some(hostile());
    bundle.handoffs[1].from = hostile();
    report.audit.problems = vec![hostile()];
    report.audit.checkpoint.as_mut().unwrap().root = hostile();
    report.sbom.per_ecosystem.push((hostile(), 1));
    report.findings.levels.push(LevelCount {
        level: hostile(),
        count: 1,
    });
    let item = &mut report.findings.items[1];
    item.id = hostile();
    item.aliases = vec![hostile()];
    item.name = hostile();
    item.severity = hostile();
    item.fixed = vec![hostile()];
    item.summary = Some(hostile());
    report.findings.items[0]
        .exception
        .as_mut()
        .unwrap()
        .justification = hostile();
    report.exceptions[1].approved_by = hostile();
    report.drift.provenance[0].key = hostile();
    report.drift.consumption_wanted[0].name = hostile();
    report.drift.hosts[0].detail = hostile();
    report
}

#[test]
fn hostile_strings_are_escaped_everywhere() {
    let html = render_html(&hostile_report());
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "a raw <script in the page");
    assert!(!lower.contains("<img"), "a raw <img in the page");
    assert_eq!(
        lower.matches("</style").count(),
        1,
        "only the page's own </style>"
    );
    assert_eq!(lower.matches("<style").count(), 1, "one inline style block");
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;amp;&lt;/style&gt;\
                   &lt;img src=x onerror=alert(2)&gt;";
    // Every field above, some in several places (the title, captions).
    assert!(
        html.matches(escaped).count() >= 30,
        "{}",
        html.matches(escaped).count()
    );
    // No tag other than the page's own: every tag's name is one this crate writes.
    let allowed = [
        "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3",
        "h4", "p", "strong", "nav", "ol", "li", "a", "main", "section", "table", "caption",
        "thead", "tbody", "tfoot", "tr", "th", "td", "span", "br",
    ];
    for tag in tags(&html) {
        let name = tag
            .trim_start_matches(['<', '/'])
            .split([' ', '>'])
            .next()
            .unwrap();
        assert!(allowed.contains(&name), "unexpected tag {tag}");
        // No data string is placed in an attribute at all.
        assert!(!tag.contains("alert"), "data in the attributes of {tag}");
    }
}

#[test]
fn deceptive_characters_are_made_visible() {
    let mut report = sample();
    report.findings.items[0].name = "req\u{202E}stseuq\u{200B}x\u{0}y".to_owned();
    let html = render_html(&report);
    assert!(html.contains("req\u{FFFD}stseuq\u{FFFD}x\u{FFFD}y"));
    assert!(!html.contains('\u{202E}') && !html.contains('\u{200B}') && !html.contains('\0'));
    // The JSON keeps the exact string.
    let json = to_json(&report).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back.findings.items[0].name, report.findings.items[0].name);
}

#[test]
fn the_page_loads_nothing() {
    let mut report = hostile_report();
    report.drift.hosts[0].detail =
        "see https://evil.example.com/x.js and http://example.com/".to_owned();
    let html = render_html(&report);
    for tag in tags(&html) {
        let lower = tag.to_ascii_lowercase();
        for forbidden in [
            "http:", "https:", "//", " src=", "<link", "<script", "<img", "<iframe", "<object",
            "<embed", "url(",
        ] {
            assert!(!lower.contains(forbidden), "{forbidden} in tag {tag}");
        }
    }
    for href in attribute_values(&html, "href") {
        assert!(href.starts_with('#'), "a link out of the page: {href}");
    }
    let style_start = html.find("<style>").unwrap();
    let style = &html[style_start..html.find("</style>").unwrap()];
    for forbidden in ["url(", "@import", "@font-face", "http"] {
        assert!(!style.contains(forbidden), "{forbidden} in the style");
    }
    assert!(
        html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';")
    );
}

#[test]
fn sections_come_in_order_with_ids_and_headings() {
    let html = render_html(&sample());
    let headings = [
        "Summary",
        "Bundles and custody",
        "Audit log",
        "Software inventory",
        "Vulnerabilities",
        "Exceptions",
        "Drift",
    ];
    let mut previous = 0;
    for (index, (id, heading)) in SECTION_IDS.iter().zip(headings).enumerate() {
        let opening = format!(
            "<section id=\"{id}\" aria-labelledby=\"{id}-title\">\n<h2 id=\"{id}-title\">{}. {heading}</h2>",
            index + 1
        );
        let at = html
            .find(&opening)
            .unwrap_or_else(|| panic!("no {opening}"));
        assert!(at > previous, "section {id} out of order");
        previous = at;
    }
    let drift = section(&html, "drift");
    let mut previous = 0;
    for id in DRIFT_IDS {
        let at = drift.find(&format!("<section id=\"{id}\"")).unwrap();
        assert!(at > previous, "drift section {id} out of order");
        previous = at;
    }
    // The table of contents comes before every section.
    assert!(html.find("<nav").unwrap() < html.find("<section").unwrap());
}

#[test]
fn contents_links_resolve_to_unique_ids() {
    for report in [sample(), Report::default(), hostile_report()] {
        let html = render_html(&report);
        let ids = attribute_values(&html, "id");
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "duplicate ids: {ids:?}");
        let nav = &html[html.find("<nav").unwrap()..html.find("</nav>").unwrap()];
        let links = attribute_values(nav, "href");
        for id in SECTION_IDS.iter().chain(DRIFT_IDS.iter()) {
            assert!(
                links.contains(&format!("#{id}").as_str()),
                "contents miss {id}"
            );
        }
        for link in attribute_values(&html, "href") {
            let target = link.strip_prefix('#').unwrap();
            assert!(ids.contains(&target), "link {link} goes nowhere");
        }
        for labelled in attribute_values(&html, "aria-labelledby") {
            assert!(
                ids.contains(&labelled),
                "aria-labelledby {labelled} names nothing"
            );
        }
    }
    let html = render_html(&sample());
    assert!(html.contains("<a href=\"#bundle-1\">Bundle b-0002, version 2</a>"));
    assert!(html.contains("<a href=\"#bundle-2\">Bundle b-0001, version 1</a>"));
}

#[test]
fn audit_status_is_pass_only_when_verified_without_problems() {
    let html = render_html(&sample());
    assert!(html.contains("<strong class=\"pass\">PASS</strong>"));
    assert!(!html.contains("FAIL"));

    let mut unverified = sample();
    unverified.audit.verified = false;
    unverified.audit.problems = vec!["entry 17 was edited".to_owned()];
    let html = render_html(&unverified);
    assert!(html.contains("<strong class=\"fail\">FAIL</strong>: the log did not verify"));
    assert!(!html.contains("PASS"));
    assert!(section(&html, "audit").contains("<li>entry 17 was edited</li>"));

    let mut with_problems = sample();
    with_problems.audit.problems = vec!["the witness is missing".to_owned()];
    let html = render_html(&with_problems);
    assert!(html.contains("<strong class=\"fail\">FAIL</strong>: the log verified, but problems"));
    assert!(!html.contains("PASS"));
    // The verdict is in the summary and in the audit section.
    assert!(section(&html, "summary").contains("FAIL"));
    assert!(section(&html, "audit").contains("FAIL"));
}

#[test]
fn an_empty_report_says_none_in_every_section() {
    let html = render_html(&Report::default());
    for id in SECTION_IDS {
        let text = section(&html, id);
        assert!(
            text.contains("class=\"empty\""),
            "section {id} does not say it is empty"
        );
        assert!(
            text.to_ascii_lowercase().contains("none"),
            "section {id} does not say none"
        );
    }
    let drift = section(&html, "drift");
    for id in DRIFT_IDS {
        let start = drift.find(&format!("<section id=\"{id}\"")).unwrap();
        let end = start + drift[start..].find("</section>").unwrap();
        // Hosts were not compared at all: the section says so.
        let expected = if id == "drift-hosts" {
            "No host inventory was compared"
        } else {
            "None found."
        };
        assert!(
            drift[start..end].contains(expected),
            "{id} does not say {expected:?}"
        );
    }
    // Consumption has two lists, each empty.
    assert_eq!(drift.matches("None found.").count(), 5);
    assert!(html.contains("<strong class=\"fail\">FAIL</strong>"));
    assert!(!html.contains("class=\"findings\""));
}

#[test]
fn findings_are_sorted_by_severity_then_id_with_labels() {
    let mut report = sample();
    report.findings.items = vec![
        finding("B-low", "low", "a"),
        finding("Z-crit", "CRITICAL", "a"),
        finding("A-unknown", "unknown", "a"),
        finding("A-odd", "severe-ish", "a"),
        finding("M-mod", "moderate", "a"),
        finding("C-high", "high", "a"),
        finding("A-med", "Medium", "a"),
        finding("A-crit", "critical", "a"),
        finding("A-empty", "", "a"),
    ];
    let html = render_html(&report);
    assert_eq!(
        finding_order(&html),
        [
            "A-crit",
            "Z-crit",
            "C-high",
            "A-med",
            "M-mod",
            "B-low",
            "A-empty",
            "A-unknown",
            "A-odd"
        ]
    );
    // The severity is a word in its cell, not only a colour.
    for label in ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN", "SEVERE-ISH"] {
        assert!(
            html.contains(&format!("\">{label}</td>")),
            "no {label} label"
        );
    }
    assert!(html.contains("<td class=\"severity severity-critical\">CRITICAL</td>"));
    // The caller's order does not change the page.
    let mut reversed = report.clone();
    reversed.findings.items.reverse();
    assert_eq!(render_html(&reversed), html);
}

#[test]
fn sections_show_their_data() {
    let html = render_html(&sample());
    let summary = section(&html, "summary");
    assert!(
        summary.contains("<td>42, created 2026-12-06T10:00:00Z, from import of bundle b-0002</td>")
    );
    assert!(summary.contains("<th scope=\"row\">Bundles imported</th><td class=\"number\">2</td>"));
    assert!(
        summary.contains("<th scope=\"row\">Packages carried</th><td class=\"number\">30</td>")
    );
    assert!(summary.contains(
        "<th scope=\"row\">Custody hand-offs not verified</th><td class=\"number\">1</td>"
    ));
    // Levels by severity, critical first.
    assert!(summary.find(">CRITICAL</th>").unwrap() < summary.find(">HIGH</th>").unwrap());

    let bundles = section(&html, "bundles");
    assert!(bundles.find("b-0002").unwrap() < bundles.find("b-0001").unwrap());
    assert!(bundles.contains("<tr><td>courier</td><td>gap desk</td><td>2026-12-06T08:00:00Z</td><td class=\"no\"><strong>No</strong></td>"));
    assert!(bundles.contains("<td>sealed bag 991</td>"));
    assert!(bundles.contains("<td>Yes</td>"));
    assert!(bundles.contains("Signers: none recorded."));
    assert!(bundles.contains("<td>Sam Approver</td>"));

    let audit = section(&html, "audit");
    assert!(
        audit.contains(
            "Tree size 1234, root <span class=\"identifier\">q2Zm9uZGF0aW9uIHJvb3Q=</span>"
        )
    );

    let inventory = section(&html, "inventory");
    assert!(inventory.contains("<th scope=\"row\">PyPI</th><td class=\"number\">20</td>"));
    assert!(
        inventory.contains("<th scope=\"row\">All ecosystems</th><td class=\"number\">30</td>")
    );

    let vulnerabilities = section(&html, "vulnerabilities");
    assert!(vulnerabilities.contains("<td class=\"number\">2 days</td>"));
    assert!(vulnerabilities.contains("<td class=\"number\">200000</td>"));
    assert!(vulnerabilities.contains(
        "<strong>Excepted</strong> until 2027-01-31, approved by Dana Auditor: Not reachable"
    ));
    assert!(vulnerabilities.contains("<td class=\"number\">7.5</td>"));

    let exceptions = section(&html, "exceptions");
    assert!(exceptions.contains("<td class=\"fail\"><strong>Yes, expired</strong></td>"));
    assert_eq!(
        exceptions.matches("<tr><td class=\"identifier\">").count(),
        2
    );

    let drift = section(&html, "drift");
    for key in [
        "left-pad@1.3.0",
        "internal-tool@0.1.0",
        "lodash@4.17.20",
        "is-odd@3.0.1",
        "express@4.0.0",
    ] {
        assert!(drift.contains(key), "{key} missing from drift");
    }
    assert!(drift.contains("<td>react</td><td class=\"number\">17</td>"));
}

#[test]
fn tables_are_accessible() {
    let html = render_html(&sample());
    assert!(
        html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">")
    );
    assert_eq!(
        html.matches("<table").count(),
        html.matches("<caption>").count()
    );
    assert!(html.matches("<table").count() > 10);
    assert!(!html.contains("<th>"), "a header cell without scope");
    assert_eq!(
        html.matches("<th ").count(),
        html.matches("<th scope=\"row\"").count() + html.matches("<th scope=\"col\"").count()
    );
}

#[test]
fn the_same_report_gives_the_same_bytes() {
    let report = hostile_report();
    let first = render_html(&report);
    assert_eq!(first, render_html(&report.clone()));
    assert_eq!(to_json(&report).unwrap(), to_json(&report.clone()).unwrap());
}

#[test]
fn json_round_trips() {
    for report in [sample(), Report::default(), hostile_report()] {
        let json = to_json(&report).unwrap();
        assert!(json.ends_with("}\n"));
        assert!(json.contains("\n  \"generated_at\""), "not pretty: {json}");
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }
    // Per-ecosystem totals are two-element arrays.
    let json = to_json(&sample()).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        value["sbom"]["per_ecosystem"][0],
        serde_json::json!(["PyPI", 20])
    );
}

#[test]
fn a_large_report_renders_every_finding() {
    let mut report = sample();
    let severities = ["critical", "high", "medium", "low", "unknown"];
    report.findings.items = (0..100_000)
        .map(|index| finding(&format!("ID-{index:06}"), severities[index % 5], "package"))
        .collect();
    let html = render_html(&report);
    let vulnerabilities = section(&html, "vulnerabilities");
    assert_eq!(
        vulnerabilities.matches("<tr><td class=\"severity ").count(),
        100_000
    );
    let order = finding_order(&html);
    assert_eq!(order.first().map(String::as_str), Some("ID-000000"));
    assert_eq!(order.last().map(String::as_str), Some("ID-099999"));
}

#[test]
fn every_element_is_closed_in_order() {
    for report in [sample(), Report::default(), hostile_report()] {
        let html = render_html(&report);
        let mut open: Vec<&str> = Vec::new();
        for tag in tags(&html) {
            let name = tag
                .trim_start_matches(['<', '/'])
                .split([' ', '>'])
                .next()
                .unwrap();
            if matches!(name, "!DOCTYPE" | "meta" | "br") {
                continue;
            }
            if tag.starts_with("</") {
                assert_eq!(open.pop(), Some(name), "{tag} closes the wrong element");
            } else {
                open.push(name);
            }
        }
        assert!(open.is_empty(), "left open: {open:?}");
    }
}
