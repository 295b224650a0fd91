//! Record parsing, range evaluation, version orders, severity, scanning with
//! alias merging, and SARIF, through the crate's public API.

use std::cmp::Ordering;
use std::sync::Arc;

use airlift_advisory::{
    Affected, Error, Event, GoOrder, Level, MAX_RECORD_BYTES, RangeKind, Scanner, SemverOrder,
    Subject, VersionOrder, parse, sarif, severity,
};
use serde_json::json;

/// OSV's name for Rust crates (the public registry's host, not written out).
const RUST: &str = concat!("crates", ".", "io");

/// Dotted numbers (`1.10.2`), compared part by part; missing parts are 0.
/// Stands in for an ecosystem order (PEP 440, dpkg) the caller would give.
struct Dotted;

impl VersionOrder for Dotted {
    fn compare(&self, first: &str, second: &str) -> Ordering {
        let parts = |text: &str| -> Vec<u64> {
            text.split('.')
                .map(|part| part.parse().unwrap_or(0))
                .collect()
        };
        let (left, right) = (parts(first), parts(second));
        for position in 0..left.len().max(right.len()) {
            let ordering = left
                .get(position)
                .unwrap_or(&0)
                .cmp(right.get(position).unwrap_or(&0));
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    }
}

fn record(value: serde_json::Value) -> airlift_advisory::Record {
    parse(value.to_string().as_bytes()).expect("fixture parses")
}

fn affected(ranges: serde_json::Value, versions: serde_json::Value) -> Affected {
    let mut parsed = record(json!({
        "id": "TEST-1", "modified": "2026-01-01T00:00:00Z",
        "affected": [{ "package": {"ecosystem": "PyPI", "name": "x"}, "ranges": ranges, "versions": versions }]
    }));
    parsed.affected.remove(0)
}

fn ecosystem_range(events: serde_json::Value) -> Affected {
    affected(
        json!([{ "type": "ECOSYSTEM", "events": events }]),
        json!([]),
    )
}

#[test]
fn parse_keeps_what_matching_needs_and_drops_details() {
    let parsed = record(json!({
        "schema_version": "1.6.0",
        "id": "GHSA-aaaa-bbbb-cccc",
        "modified": "2026-01-02T00:00:00Z",
        "published": "2025-12-01T00:00:00Z",
        "aliases": ["CVE-2026-0001"],
        "summary": "Bad thing",
        "details": "Long prose that is not kept.",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "references": [{"type": "WEB", "url": "https://example.com/advisory"}],
        "some_future_field": {"nested": [1, 2, 3]},
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": "Requests", "purl": "pkg:pypi/requests"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]},
                {"type": "GIT", "repo": "https://example.com/repo.git", "events": [{"introduced": "abc"}, {"limit": "def"}]},
                {"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"last_affected": "1.2.0"}]},
                {"type": "FUTURE", "events": [{"introduced": "0"}]}
            ],
            "versions": ["1.0", "1.1"],
            "database_specific": {"severity": "HIGH"}
        }],
        "database_specific": {"severity": "MODERATE"}
    }));
    assert_eq!(parsed.id, "GHSA-aaaa-bbbb-cccc");
    assert_eq!(parsed.modified, "2026-01-02T00:00:00Z");
    assert_eq!(parsed.published.as_deref(), Some("2025-12-01T00:00:00Z"));
    assert_eq!(parsed.withdrawn, None);
    assert_eq!(parsed.aliases, ["CVE-2026-0001"]);
    assert_eq!(parsed.summary.as_deref(), Some("Bad thing"));
    assert_eq!(parsed.severity[0].kind, "CVSS_V3");
    let entry = &parsed.affected[0];
    let package = entry.package.as_ref().expect("package");
    assert_eq!(
        (package.ecosystem.as_str(), package.name.as_str()),
        ("PyPI", "Requests")
    );
    assert_eq!(package.purl.as_deref(), Some("pkg:pypi/requests"));
    let kinds: Vec<&RangeKind> = entry.ranges.iter().map(|range| &range.kind).collect();
    assert_eq!(
        kinds,
        [
            &RangeKind::Ecosystem,
            &RangeKind::Git,
            &RangeKind::Semver,
            &RangeKind::Other("FUTURE".into())
        ]
    );
    assert_eq!(entry.ranges[1].events[1], Event::Limit("def".into()));
    assert_eq!(
        entry.ranges[2].events[1],
        Event::LastAffected("1.2.0".into())
    );
    assert_eq!(entry.versions, ["1.0", "1.1"]);
    // Nothing of `details` survives anywhere in the parsed record.
    assert!(!format!("{parsed:?}").contains("Long prose"));
}

#[test]
fn parse_refuses_oversized_and_malformed_records_naming_them() {
    let big = vec![b' '; MAX_RECORD_BYTES + 1];
    let error = parse(&big).expect_err("too large");
    assert!(matches!(error, Error::TooLarge { size, .. } if size == MAX_RECORD_BYTES + 1));

    let error = parse(br#"{"id": "OSV-1", "affected": "not a list"}"#).expect_err("bad shape");
    assert!(error.to_string().contains("OSV-1"), "{error}");

    let error = parse(br#"{"id": "OSV-2", "affected": [{"ranges": [{"type": "SEMVER", "events": [{"introduced": "1", "fixed": "2"}]}]}]}"#)
        .expect_err("two kinds in one event");
    assert!(error.to_string().contains("OSV-2"), "{error}");
    assert!(error.to_string().contains("exactly one"), "{error}");

    let error = parse(
        br#"{"id": "OSV-3", "affected": [{"ranges": [{"type": "SEMVER", "events": [{}]}]}]}"#,
    )
    .expect_err("empty event");
    assert!(error.to_string().contains("OSV-3"), "{error}");

    assert!(parse(b"not json").is_err());
    assert!(parse(br#"{"id": ""}"#).is_err());
    assert!(parse(br#"{"modified": "x"}"#).is_err());
    let deep = format!(
        "{{\"id\":\"OSV-4\",\"database_specific\":{}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(parse(deep.as_bytes()).is_err());
}

#[test]
fn introduced_and_fixed() {
    let entry = ecosystem_range(json!([{"introduced": "1.0"}, {"fixed": "1.5"}]));
    for (version, expected) in [
        ("0.9", false),
        ("1.0", true),
        ("1.4.9", true),
        ("1.5", false),
        ("2.0", false),
    ] {
        assert_eq!(entry.affects(version, &Dotted), expected, "{version}");
    }
}

#[test]
fn introduced_zero_is_below_everything() {
    let entry = affected(
        json!([{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.0"}]}]),
        json!([]),
    );
    // 0.0.0-alpha is below 0.0.0 in SemVer, yet "0" still covers it.
    for (version, expected) in [
        ("0.0.0-alpha", true),
        ("0.0.0", true),
        ("0.9.9", true),
        ("1.0.0-rc.1", true),
        ("1.0.0", false),
    ] {
        assert_eq!(entry.affects(version, &Dotted), expected, "{version}");
    }
    let open = ecosystem_range(json!([{"introduced": "0"}]));
    assert!(open.affects("99.0", &Dotted));
}

#[test]
fn several_intervals_in_one_range_and_unsorted_events() {
    // Events listed out of order: the evaluation sorts them.
    let entry = ecosystem_range(json!([
        {"fixed": "3.2.5"}, {"introduced": "3.0"}, {"fixed": "1.0.2"}, {"introduced": "1.0"}
    ]));
    for (version, expected) in [
        ("0.5", false),
        ("1.0", true),
        ("1.0.1", true),
        ("1.0.2", false),
        ("2.9", false),
        ("3.0", true),
        ("3.2.4", true),
        ("3.2.5", false),
        ("4", false),
    ] {
        assert_eq!(entry.affects(version, &Dotted), expected, "{version}");
    }
}

#[test]
fn events_at_equal_versions_keep_their_listed_order() {
    // The schema sorts events by version; a stable sort keeps a fix and a
    // re-introduction at the same version in the order they are listed, so
    // the later one decides.
    let reintroduced = ecosystem_range(json!([
        {"introduced": "1.0"}, {"fixed": "2.0"}, {"introduced": "2.0"}, {"fixed": "3.0"}
    ]));
    assert!(reintroduced.affects("2.0", &Dotted));
    assert!(!reintroduced.affects("3.0", &Dotted));
    let fixed_last =
        ecosystem_range(json!([{"introduced": "1.0"}, {"introduced": "2.0"}, {"fixed": "2.0.0"}]));
    assert!(
        !fixed_last.affects("2.0", &Dotted),
        "2.0 and 2.0.0 are equal under the order"
    );
}

#[test]
fn last_affected_is_inclusive() {
    let entry = ecosystem_range(json!([{"introduced": "0"}, {"last_affected": "2.1.214"}]));
    assert!(entry.affects("2.1.214", &Dotted));
    assert!(entry.affects("1.0", &Dotted));
    assert!(!entry.affects("2.1.215", &Dotted));
}

#[test]
fn limit_bounds_the_range() {
    let entry = ecosystem_range(json!([{"introduced": "1.0"}, {"limit": "2.0"}]));
    assert!(entry.affects("1.5", &Dotted));
    assert!(!entry.affects("2.0", &Dotted));
    assert!(!entry.affects("3.0", &Dotted));
    assert!(!entry.affects("0.5", &Dotted));
    // Several limits: below any one of them is inside (the schema's BeforeLimits).
    let entry = ecosystem_range(json!([{"introduced": "1.0"}, {"limit": "2.0"}, {"limit": "3.0"}]));
    assert!(entry.affects("2.5", &Dotted));
    assert!(!entry.affects("3.0", &Dotted));
    // A limit with "*" is infinity.
    let entry = ecosystem_range(json!([{"introduced": "1.0"}, {"limit": "*"}]));
    assert!(entry.affects("1000", &Dotted));
    // A fixed event still closes inside the limit.
    let entry = ecosystem_range(json!([{"introduced": "1.0"}, {"fixed": "1.5"}, {"limit": "2.0"}]));
    assert!(!entry.affects("1.7", &Dotted));
}

#[test]
fn versions_list_ranges_or_together_and_git_is_ignored() {
    let entry = affected(
        json!([
            {"type": "GIT", "repo": "https://example.com/r.git", "events": [{"introduced": "0"}]},
            {"type": "ECOSYSTEM", "events": [{"introduced": "5.0"}, {"fixed": "5.1"}]},
            {"type": "ECOSYSTEM", "events": [{"introduced": "7.0"}, {"fixed": "7.2"}]}
        ]),
        json!(["1.0rc1", "2.0"]),
    );
    assert!(
        entry.affects("1.0rc1", &Dotted),
        "listed versions match exactly"
    );
    assert!(entry.affects("2.0", &Dotted));
    assert!(
        !entry.affects("2.0.0", &Dotted),
        "the list is an exact string match"
    );
    assert!(entry.affects("5.0.3", &Dotted));
    assert!(entry.affects("7.1", &Dotted));
    assert!(
        !entry.affects("6.0", &Dotted),
        "GIT ranges are not evaluated"
    );
    assert_eq!(entry.fixed_versions(), ["5.1", "7.2"]);
}

#[test]
fn semver_ranges_use_semver_order_whatever_the_ecosystem_order() {
    // Under Dotted, "1.0.0-rc.1" would read as 1.0.0; SEMVER ranges use precedence.
    let entry = affected(
        json!([{"type": "SEMVER", "events": [{"introduced": "0.9.0"}, {"fixed": "1.0.0"}]}]),
        json!([]),
    );
    assert!(entry.affects("1.0.0-rc.1", &Dotted));
    assert!(entry.affects("v0.9.5", &Dotted), "a leading v is read");
    assert!(
        !entry.affects("1.0.0+build.5", &Dotted),
        "build metadata is ignored"
    );
}

#[test]
fn semver_order_follows_precedence_leniently() {
    let ordered = [
        "0.0.0-0",
        "0.0.0",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0",
        "18446744073709551616.0.0",
    ];
    for (position, left) in ordered.iter().enumerate() {
        for (other, right) in ordered.iter().enumerate() {
            assert_eq!(
                SemverOrder.compare(left, right),
                position.cmp(&other),
                "{left} vs {right}"
            );
        }
    }
    assert_eq!(SemverOrder.compare("v1.2", "1.2.0"), Ordering::Equal);
    assert_eq!(SemverOrder.compare("1", "1.0.0"), Ordering::Equal);
    assert_eq!(SemverOrder.compare("1.0.0+a", "1.0.0+b"), Ordering::Equal);
    assert_eq!(SemverOrder.compare("01.2.3", "1.2.3"), Ordering::Equal);
    // Not a version: below every version, and a total order among themselves.
    assert_eq!(SemverOrder.compare("garbage", "0.0.0-0"), Ordering::Less);
    assert_eq!(SemverOrder.compare("1.2.3.4", "0.0.1"), Ordering::Less);
    assert_eq!(SemverOrder.compare("abc", "abd"), Ordering::Less);
}

#[test]
fn semver_order_agrees_with_the_semver_crate_on_valid_versions() {
    let versions = [
        "0.1.0",
        "0.1.0-alpha",
        "0.1.0-alpha.1",
        "0.1.0-alpha.a",
        "0.1.0-1",
        "0.1.0-10",
        "0.1.0-9",
        "1.0.0",
        "1.0.0-x-y-z.--",
        "1.0.0+20130313144700",
        "1.0.0-beta+exp.sha.5114f85",
        "2.3.4",
        "10.0.0",
        "2.30.0",
        "2.3.40",
    ];
    for left in versions {
        for right in versions {
            let reference = semver::Version::parse(left)
                .expect("valid")
                .cmp_precedence(&semver::Version::parse(right).expect("valid"));
            assert_eq!(
                SemverOrder.compare(left, right),
                reference,
                "{left} vs {right}"
            );
        }
    }
}

#[test]
fn go_order_handles_incompatible_and_pseudo_versions() {
    assert_eq!(
        GoOrder.compare("v2.0.0+incompatible", "2.0.0"),
        Ordering::Equal
    );
    assert_eq!(
        GoOrder.compare("v2.0.1+incompatible", "v2.0.0+incompatible"),
        Ordering::Greater
    );
    // A pseudo-version based on v1.2.3 sorts after it and before v1.2.4.
    let pseudo = "v1.2.4-0.20191109021931-daa7c04131f5";
    assert_eq!(GoOrder.compare(pseudo, "v1.2.3"), Ordering::Greater);
    assert_eq!(GoOrder.compare(pseudo, "v1.2.4"), Ordering::Less);
    assert_eq!(
        GoOrder.compare(pseudo, "v1.2.4-0.20200101000000-aaaaaaaaaaaa"),
        Ordering::Less
    );
    assert_eq!(
        GoOrder.compare("v0.0.0-20191109021931-daa7c04131f5", "v0.0.1"),
        Ordering::Less
    );

    let go_record = record(json!({
        "id": "GO-2026-0001", "modified": "2026-01-01T00:00:00Z",
        "affected": [{
            "package": {"ecosystem": "Go", "name": "example.com/module"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.4"}]}]
        }, {
            "package": {"ecosystem": "Go", "name": "example.com/other"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.0.0"}, {"fixed": "2.1.0"}]}]
        }]
    }));
    let module = &go_record.affected[0];
    assert!(module.affects("v1.2.3", &GoOrder));
    assert!(module.affects("v1.2.4-0.20191109021931-daa7c04131f5", &GoOrder));
    assert!(!module.affects("v1.2.4", &GoOrder));
    let other = &go_record.affected[1];
    assert!(other.affects("v2.0.5+incompatible", &GoOrder));
    assert!(!other.affects("v2.1.0+incompatible", &GoOrder));
    assert!(!other.affects("v1.9.9+incompatible", &GoOrder));
}

fn subject(ecosystem: &str, name: &str, version: &str, reference: &str) -> Subject {
    Subject {
        ecosystem: ecosystem.into(),
        name: name.into(),
        version: version.into(),
        reference: reference.into(),
    }
}

fn orders(ecosystem: &str) -> Option<Arc<dyn VersionOrder>> {
    match ecosystem {
        "PyPI" | "Debian" | "Alpine" => Some(Arc::new(Dotted)),
        "Go" => Some(Arc::new(GoOrder)),
        "npm" | RUST => Some(Arc::new(SemverOrder)),
        _ => None,
    }
}

fn advisory(
    id: &str,
    aliases: &[&str],
    ecosystem: &str,
    name: &str,
    fixed: &str,
) -> serde_json::Value {
    json!({
        "id": id, "modified": "2026-01-01T00:00:00Z", "aliases": aliases,
        "affected": [{
            "package": {"ecosystem": ecosystem, "name": name},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }]
    })
}

#[test]
fn ecosystems_match_by_release_and_pypi_names_are_normalized() {
    let subjects = vec![
        subject("Debian:12", "openssl", "3.0", "deb12"),
        subject("Debian:11", "openssl", "3.0", "deb11"),
        subject("PyPI", "Zope.Interface", "1.0", "py"),
        subject("pypi", "requests", "1.0", "wrong-case-ecosystem"),
        subject("npm", "Left-Pad", "1.0.0", "npm"),
        subject("Maven", "org.example:lib", "1.0", "maven"),
    ];
    let mut scanner = Scanner::new(subjects, orders);
    assert!(scanner.wants("Debian:12", "openssl"));
    assert!(scanner.wants("Debian", "openssl"));
    assert!(!scanner.wants("Debian:13", "openssl"));
    assert!(scanner.wants("PyPI", "zope-interface"));
    assert!(scanner.wants("PyPI", "zope__interface"));
    assert!(!scanner.wants("npm", "left-pad"), "npm names are exact");
    assert!(
        !scanner.wants("Maven", "org.example:lib"),
        "no order for Maven: never matched"
    );

    scanner.add(&record(advisory(
        "DSA-1",
        &[],
        "Debian:12",
        "openssl",
        "3.1",
    )));
    scanner.add(&record(advisory(
        "DEBIAN-CVE-2",
        &[],
        "Debian",
        "openssl",
        "3.1",
    )));
    scanner.add(&record(advisory(
        "PYSEC-1",
        &[],
        "PyPI",
        "zope_interface",
        "2.0",
    )));
    scanner.add(&record(advisory(
        "GHSA-npm",
        &[],
        "npm",
        "left-pad",
        "2.0.0",
    )));
    assert_eq!(scanner.unmatched_ecosystems(), ["Maven", "pypi"]);
    let found: Vec<(String, String)> = scanner
        .finish()
        .into_iter()
        .map(|finding| (finding.subject.reference, finding.id))
        .collect();
    assert_eq!(
        found,
        [
            ("deb11".to_owned(), "DEBIAN-CVE-2".to_owned()),
            ("deb12".to_owned(), "DEBIAN-CVE-2".to_owned()),
            ("deb12".to_owned(), "DSA-1".to_owned()),
            ("py".to_owned(), "PYSEC-1".to_owned()),
        ]
    );
}

#[test]
fn aliases_merge_transitively_per_subject() {
    let subjects = vec![
        subject("PyPI", "jinja2", "2.0", "a"),
        subject("PyPI", "Jinja2", "2.0", "b"),
    ];
    let mut scanner = Scanner::new(subjects, orders);
    let mut ghsa = advisory("GHSA-xxxx", &["CVE-2026-1"], "PyPI", "jinja2", "2.11");
    ghsa["summary"] = json!("GHSA summary");
    ghsa["affected"][0]["database_specific"] = json!({"severity": "MODERATE"});
    let mut pysec = advisory(
        "PYSEC-2026-9",
        &["CVE-2026-1", "GHSA-yyyy"],
        "PyPI",
        "jinja2",
        "2.10.1",
    );
    pysec["severity"] =
        json!([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]);
    // Shares nothing with the first two directly; only through GHSA-yyyy.
    let third = advisory("GHSA-yyyy", &["OSV-77"], "PyPI", "jinja2", "3.0");
    // Unrelated: its own finding.
    let unrelated = advisory("PYSEC-2026-10", &["CVE-2026-2"], "PyPI", "jinja2", "2.5");
    for value in [ghsa, pysec.clone(), third, unrelated, pysec] {
        scanner.add(&record(value));
    }
    let findings = scanner.finish();
    assert_eq!(findings.len(), 4, "{findings:#?}");
    let first = &findings[0];
    assert_eq!(first.subject.reference, "a");
    assert_eq!(first.id, "GHSA-xxxx", "the smallest record id is primary");
    assert_eq!(first.records, ["GHSA-xxxx", "GHSA-yyyy", "PYSEC-2026-9"]);
    assert_eq!(
        first.aliases,
        [
            "CVE-2026-1",
            "GHSA-xxxx",
            "GHSA-yyyy",
            "OSV-77",
            "PYSEC-2026-9"
        ]
    );
    assert_eq!(first.summary.as_deref(), Some("GHSA summary"));
    assert_eq!(first.severity.level, Level::Critical);
    assert_eq!(first.severity.score, Some(9.8));
    assert_eq!(
        first.fixed,
        ["2.10.1", "2.11", "3.0"],
        "sorted with the ecosystem order"
    );
    assert_eq!(findings[1].id, "PYSEC-2026-10");
    assert_eq!(findings[1].subject.reference, "a");
    assert_eq!(findings[2].subject.reference, "b");
    assert_eq!(findings[2].id, "GHSA-xxxx");
}

#[test]
fn withdrawn_records_and_unaffected_versions_give_no_findings() {
    let mut scanner = Scanner::new(vec![subject(RUST, "smallvec", "1.6.0", "lock")], orders);
    let mut withdrawn = advisory("RUSTSEC-2026-0001", &[], RUST, "smallvec", "2.0.0");
    withdrawn["withdrawn"] = json!("2026-02-01T00:00:00Z");
    scanner.add(&record(withdrawn));
    scanner.add(&record(advisory(
        "RUSTSEC-2026-0002",
        &[],
        RUST,
        "smallvec",
        "1.6.0",
    )));
    scanner.add(&record(advisory(
        "RUSTSEC-2026-0003",
        &[],
        RUST,
        "other",
        "9.0.0",
    )));
    assert!(scanner.finish().is_empty());
}

#[test]
fn several_affected_entries_for_one_package_make_one_finding() {
    let mut scanner = Scanner::new(vec![subject("npm", "lodash", "4.17.10", "lock")], orders);
    scanner.add(&record(json!({
        "id": "GHSA-lodash", "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {"package": {"ecosystem": "npm", "name": "lodash"},
             "ranges": [{"type": "SEMVER", "events": [{"introduced": "4.0.0"}, {"fixed": "4.17.12"}]}],
             "database_specific": {"severity": "LOW"}},
            {"package": {"ecosystem": "npm", "name": "lodash"},
             "ranges": [{"type": "SEMVER", "events": [{"introduced": "4.17.0"}, {"fixed": "4.17.11"}]}],
             "database_specific": {"severity": "HIGH"}},
            {"package": {"ecosystem": "npm", "name": "lodash"},
             "ranges": [{"type": "SEMVER", "events": [{"introduced": "3.0.0"}, {"fixed": "3.10.2"}]}]}
        ]
    })));
    let findings = scanner.finish();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].records, ["GHSA-lodash"]);
    assert_eq!(
        findings[0].fixed,
        ["4.17.11", "4.17.12"],
        "3.10.2 is below the version and left out"
    );
    assert_eq!(findings[0].severity.level, Level::High);
}

#[test]
fn go_subjects_match_records_without_the_v() {
    let mut scanner = Scanner::new(
        vec![
            subject("Go", "example.com/module", "v1.2.3", "go.sum"),
            subject("Go", "example.com/legacy", "v2.1.0+incompatible", "go.sum"),
        ],
        orders,
    );
    scanner.add(&record(json!({
        "id": "GO-2026-0002", "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {"package": {"ecosystem": "Go", "name": "example.com/module"},
             "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.4"}]}],
             "ecosystem_specific": {"imports": [{"path": "example.com/module/x"}]}},
            {"package": {"ecosystem": "Go", "name": "example.com/legacy"},
             "ranges": [{"type": "SEMVER", "events": [{"introduced": "2.0.0+incompatible"}, {"fixed": "2.2.0+incompatible"}]}]}
        ]
    })));
    let findings = scanner.finish();
    let names: Vec<&str> = findings
        .iter()
        .map(|finding| finding.subject.name.as_str())
        .collect();
    assert_eq!(names, ["example.com/legacy", "example.com/module"]);
    assert_eq!(findings[1].fixed, ["1.2.4"]);
}

#[test]
fn severity_prefers_cvss_v3_then_v4_then_database_words_and_affected_over_record() {
    let parsed = record(json!({
        "id": "GHSA-sev", "modified": "2026-01-01T00:00:00Z",
        "severity": [
            {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}
        ],
        "affected": [
            {"package": {"ecosystem": "npm", "name": "a"}},
            {"package": {"ecosystem": "npm", "name": "b"},
             "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"}]},
            {"package": {"ecosystem": "npm", "name": "c"},
             "severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],
             "database_specific": {"severity": "LOW"}},
            {"package": {"ecosystem": "npm", "name": "d"},
             "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/garbage"}],
             "ecosystem_specific": {"severity": "low"}},
            {"package": {"ecosystem": "npm", "name": "e"},
             "severity": [{"type": "Ubuntu", "score": "negligible"}]}
        ],
        "database_specific": {"severity": "MODERATE"}
    }));
    let of = |position: usize| severity(&parsed, &parsed.affected[position]);
    let record_level = of(0);
    assert_eq!(
        (record_level.level, record_level.score),
        (Level::Medium, Some(6.1))
    );
    assert_eq!(
        record_level.vector.as_deref(),
        Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N")
    );
    let own = of(1);
    assert_eq!((own.level, own.score), (Level::Medium, Some(5.5)));
    let version_four = of(2);
    assert_eq!(
        (version_four.level, version_four.score),
        (Level::Critical, Some(9.3)),
        "a v4 vector is scored, and beats the database's word"
    );
    assert!(
        version_four
            .vector
            .as_deref()
            .is_some_and(|vector| vector.starts_with("CVSS:4.0/"))
    );
    let malformed = of(3);
    assert_eq!(
        (malformed.level, malformed.score),
        (Level::Low, None),
        "a bad vector falls through to the words"
    );
    assert_eq!(of(4).level, Level::Low);

    let bad_four = record(
        json!({"id": "X-0", "database_specific": {"severity": "HIGH"},
        "severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N"}],
        "affected": [{"package": {"ecosystem": "npm", "name": "a"}}]}),
    );
    let fallback = severity(&bad_four, &bad_four.affected[0]);
    assert_eq!(
        (fallback.level, fallback.score),
        (Level::High, None),
        "a bad v4 vector falls through"
    );

    let bare =
        record(json!({"id": "X-1", "affected": [{"package": {"ecosystem": "npm", "name": "a"}}]}));
    assert_eq!(severity(&bare, &bare.affected[0]).level, Level::Unknown);
    let words = record(
        json!({"id": "X-2", "database_specific": {"severity": "HIGH"},
        "affected": [{"package": {"ecosystem": "npm", "name": "a"}}]}),
    );
    assert_eq!(severity(&words, &words.affected[0]).level, Level::High);
}

#[test]
fn levels_order_print_and_parse() {
    assert!(Level::Unknown < Level::Low && Level::Low < Level::Medium);
    assert!(Level::Medium < Level::High && Level::High < Level::Critical);
    assert_eq!(Level::Critical.to_string(), "critical");
    assert_eq!("MODERATE".parse::<Level>().expect("level"), Level::Medium);
    assert_eq!("Medium".parse::<Level>().expect("level"), Level::Medium);
    assert_eq!("high".parse::<Level>().expect("level"), Level::High);
    assert_eq!("UNKNOWN".parse::<Level>().expect("level"), Level::Unknown);
    assert!(
        matches!("severe".parse::<Level>(), Err(Error::UnknownLevel(word)) if word == "severe")
    );
    assert_eq!(
        serde_json::to_value(Level::High).expect("json"),
        json!("high")
    );
    assert_eq!(
        serde_json::from_value::<Level>(json!("Moderate")).expect("json"),
        Level::Medium
    );
}

#[test]
fn sarif_has_one_rule_per_id_and_a_result_per_finding() {
    let mut scanner = Scanner::new(
        vec![
            subject("npm", "a", "1.0.0", "web/package-lock.json"),
            subject("npm", "a", "1.0.0", "api/package-lock.json"),
            subject("npm", "b", "1.0.0", "api/package-lock.json"),
        ],
        orders,
    );
    let mut critical = advisory("GHSA-crit", &["CVE-2026-5"], "npm", "a", "1.0.1");
    critical["severity"] =
        json!([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]);
    critical["summary"] = json!("Remote code execution");
    scanner.add(&record(critical));
    let mut medium = advisory("GHSA-med", &[], "npm", "b", "2.0.0");
    medium["database_specific"] = json!({"severity": "MODERATE"});
    scanner.add(&record(medium));
    scanner.add(&record(json!({"id": "GHSA-none", "affected": [{"package": {"ecosystem": "npm", "name": "b"}, "versions": ["1.0.0"]}]})));
    let findings = scanner.finish();
    let log = sarif(&findings, "0.1.0");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "airlift");
    assert_eq!(run["tool"]["driver"]["version"], "0.1.0");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let ids: Vec<&str> = rules
        .iter()
        .filter_map(|rule| rule["id"].as_str())
        .collect();
    assert_eq!(ids, ["GHSA-crit", "GHSA-med", "GHSA-none"]);
    assert_eq!(rules[0]["properties"]["security-severity"], "9.8");
    assert_eq!(
        rules[0]["shortDescription"]["text"],
        "Remote code execution"
    );
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    let levels: Vec<(&str, &str, &str)> = results
        .iter()
        .map(|result| {
            (
                result["ruleId"].as_str().unwrap_or_default(),
                result["level"].as_str().unwrap_or_default(),
                result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        [
            ("GHSA-crit", "error", "api/package-lock.json"),
            ("GHSA-med", "warning", "api/package-lock.json"),
            ("GHSA-none", "note", "api/package-lock.json"),
            ("GHSA-crit", "error", "web/package-lock.json"),
        ]
    );
    let text = results[0]["message"]["text"].as_str().expect("message");
    assert!(
        text.contains("a 1.0.0") && text.contains("GHSA-crit") && text.contains("fixed in 1.0.1"),
        "{text}"
    );
    assert!(
        results[2]["message"]["text"]
            .as_str()
            .expect("message")
            .contains("no fixed version")
    );
    assert_eq!(results[3]["ruleIndex"], 0);
}
