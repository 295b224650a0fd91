//! Maven's order against the orderings of Maven 3.9's own tests
//! (`maven-artifact/src/test/java/org/apache/maven/artifact/versioning/ComparableVersionTest.java`
//! at tag maven-3.9.16), ported as data, plus generated versions for
//! totality.

mod orders;

use std::cmp::Ordering;

use airlift_advisory::{MavenOrder, VersionOrder};
use orders::{assert_all_equal, assert_increasing, assert_total_order, generated_versions};

/// `VERSIONS_QUALIFIER`, in increasing order.
#[test]
fn qualifiers_order() {
    assert_increasing(
        &MavenOrder,
        &[
            "1-alpha2snapshot",
            "1-alpha2",
            "1-alpha-123",
            "1-beta-2",
            "1-beta123",
            "1-m2",
            "1-m11",
            "1-rc",
            "1-cr2",
            "1-rc123",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp2",
            "1-sp123",
            "1-abc",
            "1-def",
            "1-pom-1",
            "1-1-snapshot",
            "1-1",
            "1-2",
            "1-123",
        ],
    );
}

/// `VERSIONS_NUMBER`, in increasing order.
#[test]
fn numbers_order() {
    assert_increasing(
        &MavenOrder,
        &[
            "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c", "2.1-1",
            "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2", "11.m11",
            "11", "11.a", "11b", "11c", "11m",
        ],
    );
}

/// `testVersionsEqual`.
#[test]
fn equal_versions() {
    let groups: &[&[&str]] = &[
        &["1", "1.0", "1.0.0", "1-0", "1.0-0"],
        // No separator between number and letters.
        &["1a", "1-a", "1.0-a", "1.0.0-a", "1.0a", "1.0.0a", "1A"],
        &["1x", "1-x", "1.0-x", "1.0.0-x", "1.0x", "1.0.0x", "1X"],
        // Aliases, in any case.
        &[
            "1", "1ga", "1release", "1final", "1Ga", "1GA", "1RELEASE", "1RELeaSE", "1Final",
            "1FinaL", "1FINAL",
        ],
        &["1cr", "1rc", "1Cr", "1Rc", "1cR", "1rC"],
        &["1a1", "1-alpha-1"],
        &["1b2", "1-beta-2"],
        &[
            "1m3",
            "1-milestone-3",
            "1Milestone3",
            "1MileStone3",
            "1MILESTONE3",
        ],
        &["1B", "1b"],
        &["1M", "1m"],
    ];
    for group in groups {
        assert_all_equal(&MavenOrder, group);
    }
}

/// `testVersionComparing`: each pair in increasing order.
#[test]
fn pairs_order() {
    for pair in [
        ["1", "2"],
        ["1.5", "2"],
        ["1", "2.5"],
        ["1.0", "1.1"],
        ["1.1", "1.2"],
        ["1.0.0", "1.1"],
        ["1.0.1", "1.1"],
        ["1.1", "1.2.0"],
        ["1.0-alpha-1", "1.0"],
        ["1.0-alpha-1", "1.0-alpha-2"],
        ["1.0-alpha-1", "1.0-beta-1"],
        ["1.0-beta-1", "1.0-SNAPSHOT"],
        ["1.0-SNAPSHOT", "1.0"],
        ["1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"],
        ["1.0", "1.0-1"],
        ["1.0-1", "1.0-2"],
        ["1.0.0", "1.0-1"],
        ["2.0-1", "2.0.1"],
        ["2.0.1-klm", "2.0.1-lmn"],
        ["2.0.1", "2.0.1-xyz"],
        ["2.0.1", "2.0.1-123"],
        ["2.0.1-xyz", "2.0.1-123"],
    ] {
        assert_increasing(&MavenOrder, &pair);
    }
}

/// MNG-5568 (a letter in the middle), MNG-6572 (numbers past int and
/// long), MNG-6964 (a sub-list compared whole against nothing).
#[test]
fn regressions_order() {
    assert_increasing(&MavenOrder, &["6.1.0rc3", "6.1.0", "6.1H.5-beta"]);
    assert_increasing(
        &MavenOrder,
        &[
            "20190126.230843",
            "1234567890.12345",
            "123456789012345.1H.5-beta",
            "12345678901234567890.1H.5-beta",
        ],
    );
    assert_increasing(&MavenOrder, &["1-0.alpha", "1-0.beta", "1"]);
}

/// `testVersionEqualWithLeadingZeroes` and its zero twin: lengths 1 to 19.
#[test]
fn leading_zeros_are_ignored() {
    let ones: Vec<String> = (0..19)
        .map(|zeros| format!("{}1", "0".repeat(zeros)))
        .collect();
    let zeros: Vec<String> = (1..20).map(|length| "0".repeat(length)).collect();
    for group in [ones, zeros] {
        let group: Vec<&str> = group.iter().map(String::as_str).collect();
        assert_all_equal(&MavenOrder, &group);
    }
}

/// `testLocaleIndependent`.
#[test]
fn case_is_ignored() {
    assert_all_equal(
        &MavenOrder,
        &[
            "1-abcdefghijklmnopqrstuvwxyz",
            "1-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ],
    );
}

/// MNG-7644: "1.0.0.X1" < "1.0.0-X2" and "2-X" == "2.0.X" == "2.0.0.X" for
/// any qualifier X.
#[test]
fn dot_qualifier_is_dash_qualifier() {
    for qualifier in [
        "abc",
        "alpha",
        "a",
        "beta",
        "b",
        "def",
        "milestone",
        "m",
        "RC",
    ] {
        assert_increasing(
            &MavenOrder,
            &[
                &format!("1.0.0.{qualifier}1"),
                &format!("1.0.0-{qualifier}2"),
            ],
        );
        assert_all_equal(
            &MavenOrder,
            &[
                &format!("2-{qualifier}"),
                &format!("2.0.{qualifier}"),
                &format!("2.0.0.{qualifier}"),
            ],
        );
    }
}

/// The qualifier ladder the task states, around one release.
#[test]
fn qualifier_ladder() {
    assert_increasing(
        &MavenOrder,
        &[
            "1.0-alpha",
            "1.0-beta",
            "1.0-milestone",
            "1.0-rc",
            "1.0-snapshot",
            "1.0",
            "1.0-sp",
            "1.0-aaa",
            "1.0-zzz",
            "1.0-1",
            "1.0.1",
        ],
    );
    // "a", "b" and "m" are aliases only before a digit.
    assert_eq!(MavenOrder.compare("1-a", "1-sp"), Ordering::Greater);
    assert_eq!(MavenOrder.compare("1-a1", "1-alpha1"), Ordering::Equal);
}

/// Odd and hostile input: no panic, and long versions (past the inline
/// item buffer) still compare by their items.
#[test]
fn odd_input() {
    for version in ["", "-", ".", "--..--", "ü", "1-ü", "1.\u{1F600}", "٣"] {
        assert_eq!(MavenOrder.compare(version, version), Ordering::Equal);
    }
    assert_all_equal(&MavenOrder, &["", "0", "-", ".", "0.0-0"]);
    let long_low = "1.".repeat(200) + "1";
    let long_high = "1.".repeat(200) + "2";
    assert_increasing(&MavenOrder, &[&long_low, &long_high]);
    let alternating = "a1".repeat(5_000);
    assert_eq!(
        MavenOrder.compare(&alternating, &alternating),
        Ordering::Equal
    );
    // A long run of zeros is scanned once per comparison, not once per
    // item.
    let zeros_then_one = "0.".repeat(100_000) + "1";
    let zeros_then_alpha = "0.".repeat(100_000) + "alpha.1";
    assert_increasing(&MavenOrder, &[&zeros_then_alpha, "", &zeros_then_one]);
    // Java compares unknown qualifiers by UTF-16 units: U+FF21 sorts after
    // a supplementary character, though its code point is lower.
    assert_increasing(&MavenOrder, &["1-\u{1F600}", "1-\u{FF41}"]);
}

#[test]
fn generated_versions_are_totally_ordered() {
    let alphabet = [
        "0", "1", "2", "10", ".", "-", "a", "b", "m", "rc", "cr", "alpha", "snapshot", "ga",
        "final", "sp", "x", "A", "Beta", "",
    ];
    let versions = generated_versions(&alphabet, 260, 16);
    assert_total_order(&MavenOrder, &versions);
}

/// Where Maven's own comparisons form a cycle, the order keeps every
/// comparison with the shorter version as Maven has it.
#[test]
fn maven_cycles_are_broken_by_the_comparison_with_nothing() {
    assert_increasing(&MavenOrder, &["1.0.alpha.1", "1", "1.sp.1"]);
    assert_increasing(&MavenOrder, &["1-x-alpha", "1-x", "1-x.y.z"]);
}
