//! apk's order against pairs from apk-tools' own test data
//! (`test/unit/version.data` at commit
//! fcd4defc18e686cd08cc87d1510e4fe428975e12: a selection of its "a op b"
//! lines and of its valid and invalid versions), plus the ladder the task
//! states and generated versions for totality.

mod orders;

use std::cmp::Ordering;

use airlift_advisory::{ApkOrder, VersionOrder};
use orders::{assert_all_equal, assert_increasing, assert_total_order, generated_versions};

/// A valid version is below this one unless it starts with a larger
/// number; an invalid one is above every valid one.
const HUGE: &str = "99999999999999999999999999999999";

/// Where two versions first differ in the kind of token, the one that goes
/// on is newer unless it goes on with a pre-release suffix; kinds closer
/// to the end of the grammar (`-r`, then `~hash`, then suffixes) make the
/// smaller step. So a packaging release `-r1` sorts below `_p1`, as apk
/// has it.
#[test]
fn suffix_release_and_letter_ladder() {
    assert_increasing(
        &ApkOrder,
        &[
            "1.0_alpha",
            "1.0_alpha1",
            "1.0_beta",
            "1.0_pre",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0-r2",
            "1.0~0abc",
            "1.0~0abc-r1",
            "1.0~1abc",
            "1.0_cvs",
            "1.0_svn",
            "1.0_git",
            "1.0_hg",
            "1.0_p1",
            "1.0_p1-r1",
            "1.0_p2",
            "1.0a",
            "1.0b",
            "1.0.1",
            "1.1",
        ],
    );
    assert_increasing(&ApkOrder, &["1.3.1_rc1-r0", "1.3.1-r0"]);
}

/// "a op b" lines of apk-tools' version.data, as (a, op, b).
const UPSTREAM_PAIRS: &[(&str, char, &str)] = &[
    ("2.34", '>', "0.1.0_alpha"),
    ("0.1.0_alpha", '=', "0.1.0_alpha"),
    ("0.1.0_alpha", '<', "0.1.3_alpha"),
    ("0.1.0_alpha2", '>', "0.1.0_alpha"),
    ("0.1.0_alpha", '<', "2.2.39-r1"),
    ("2.2.39-r1", '>', "1.0.4-r3"),
    ("1.0.4-r3", '<', "1.0.4-r4"),
    ("1.0.4-r4", '<', "1.6"),
    ("1.2.1", '>', "1.2"),
    ("1.1", '>', "1.1_alpha1"),
    ("1.3_alpha2", '<', "1.3_alpha3"),
    ("0.7.0", '<', "0.8_beta1"),
    ("3.10.18-r1", '>', "2.3.0b-r1"),
    ("2.3.0b-r1", '<', "2.3.0b-r2"),
    ("0.12.3", '>', "0.12"),
    ("0.13_beta5", '>', "0.9.12"),
    ("3.1_p16", '<', "3.1_p17"),
    ("3.1_p17", '>', "1.06-r6"),
    ("1.06-r6", '<', "006"),
    ("006", '>', "1.0.0"),
    ("2.01.01_alpha10", '>', "0.94"),
    ("1.39", '>', "1.00_beta2"),
    ("1.02", '<', "1.03-r1"),
    ("4.2.52_p2-r1", '<', "4.2.52_p4-r2"),
    ("1.02.07", '<', "1.02.10-r1"),
    ("1.05-r18", '<', "1.05-r19"),
    ("20040401", '>', "2.0.0_rc3-r1"),
    ("3.0.0-r2", '<', "021109-r3"),
    ("021109-r3", '<', "20060512"),
    ("3.9_pre20060124", '>', "0.01"),
    ("0.10.0", '<', "0.10.1_rc1"),
    ("1.06-r2", '>', "0.15.1b-r2"),
    ("2.1_pre20", '<', "2.1_pre26"),
    ("2.10.1", '>', "02.08.01b"),
    ("2.02.06", '<', "2.02.10"),
    ("1.6d", '>', "1.2.07.8"),
    ("1.2.07.8", '<', "1.2.12.04"),
    ("1.07.5", '>', "1.07"),
    ("0.1_pre20060810", '<', "0.1_pre20060817"),
    ("0.20070118", '<', "0.20070207_rc1"),
    ("4.3_p2-r1", '<', "4.3_p2-r5"),
    ("4.5_p1-r1", '>', "4.5_p1"),
    ("1.2.9.1-r1", '>', "1.2.9.1"),
    ("1.3-r0", '<', "1.3.1-r0"),
    ("1.3_pre1-r1", '<', "1.3.2"),
    ("1.0_p10-r0", '>', "1.0_p9-r0"),
    ("0.1.0_alpha_pre2", '<', "0.1.0_alpha"),
    (
        "1.0.0_pre20191002222144-r0",
        '<',
        "1.0.0_pre20210530193627-r0",
    ),
    ("6.0_pre1", '<', "6.0"),
    ("6.0_p1", '>', "6.0"),
    ("8.2.0", '<', "8.2.001"),
    ("8.2.0015", '<', "8.2.002"),
    ("1.0~1234", '<', "1.0~2345"),
    ("1.0~1234-r1", '<', "1.0~2345-r0"),
    ("1.0~1234-r1", '>', "1.0~1234-r0"),
    // "1.0bc" is invalid; apk and this order both put it above "1.0".
    ("1.0", '<', "1.0bc"),
];

#[test]
fn upstream_pairs() {
    for &(first, operator, second) in UPSTREAM_PAIRS {
        let expected = match operator {
            '<' => Ordering::Less,
            '>' => Ordering::Greater,
            _ => Ordering::Equal,
        };
        assert_eq!(
            ApkOrder.compare(first, second),
            expected,
            "{first} {operator} {second}"
        );
        assert_eq!(
            ApkOrder.compare(second, first),
            expected.reverse(),
            "{second} against {first}"
        );
    }
}

/// version.data's validity lines: valid versions sort below [`HUGE`],
/// invalid ones above.
#[test]
fn upstream_validity() {
    for valid in [
        "1.2",
        "0.1_pre2",
        "0.1_pre2~1234abcd",
        "0.1_p1_pre2",
        "0.1_alpha1_pre2",
        "0.1_git20240101_pre1",
    ] {
        assert_eq!(ApkOrder.compare(valid, HUGE), Ordering::Less, "{valid}");
    }
    for invalid in [
        "",
        "0.1bc",
        "0.1bc1",
        "0.1a1",
        "0.1a.1",
        "0.1_pre2~",
        "0.1_pre2~1234xbcd",
        "0.1_pre2~1234abcd_pre1",
        "0.1_pre2-r1~1234xbcd",
        "0.1_foobar",
        "0.1_foobar1",
        "0.1-pre1.1",
        "0.1-r",
        "0.1-r2_pre1",
        "0.1-r2_p3_pre1",
        "0.1-r2-r3",
        "0.1-r2.1",
        ".1",
        "a",
        "_pre1",
        "-r1",
        "0.1_",
        "0.1_-r0",
        "0.1__alpha",
        "0.1_1_alpha",
    ] {
        assert_eq!(
            ApkOrder.compare(invalid, HUGE),
            Ordering::Greater,
            "{invalid}"
        );
        assert_eq!(ApkOrder.compare(HUGE, invalid), Ordering::Less, "{invalid}");
    }
}

#[test]
fn invalid_versions_sort_after_valid_ones_by_bytes() {
    assert_increasing(&ApkOrder, &["0.1", HUGE, "1.0-R1", "1.0A", "1.0bc", "a"]);
    // apk itself stops at the first invalid token and would call these
    // equal; bytes keep them apart.
    assert_increasing(&ApkOrder, &["1.0!a", "1.0!b"]);
}

#[test]
fn numbers_compare_by_value_at_any_length() {
    assert_all_equal(&ApkOrder, &["1.2", "01.2", "001.2"]);
    assert_increasing(
        &ApkOrder,
        &[
            "1.18446744073709551615",
            "1.18446744073709551616",
            "1.99999999999999999999999",
        ],
    );
    assert_increasing(
        &ApkOrder,
        &["1.0-r9", "1.0-r10", "1.0-r18446744073709551616"],
    );
}

#[test]
fn generated_versions_are_totally_ordered() {
    let alphabet = [
        "0", "1", "2", "01", "10", ".", "a", "z", "_alpha", "_rc", "_p", "_git", "_pre", "_x",
        "~ab", "~1", "-r", "-r0", "-r1", "B", "!",
    ];
    let versions = generated_versions(&alphabet, 300, 42);
    assert_total_order(&ApkOrder, &versions);
}
