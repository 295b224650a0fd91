//! CVSS scores. Version 3.0 and 3.1 vectors are scored with the base
//! equations of the FIRST specification (CVSS v3.1 section 7.1, with the
//! `Roundup` of its appendix A, which v3.1 defined to give v3.0's intended
//! results without floating-point surprises, so both versions use it).
//! Version 4.0 vectors are scored with the v4.0 specification's MacroVector
//! algorithm and its lookup table of MacroVector scores, following the
//! specification's reference calculator step for step (including its
//! floating-point order and its rounding). Both are rated with the
//! specifications' qualitative bands ([`level`]).
//!
//! A vector is checked whole: its prefix, every metric known and given once,
//! every value allowed for its metric, every base metric present. For v3,
//! temporal and environmental metrics are accepted and do not change the
//! base score.

use crate::error::Error;
use crate::severity::Level;

/// The longest vector read; a complete v3.1 vector with every environmental
/// metric is about 150 characters.
const MAX_VECTOR_LENGTH: usize = 512;

/// Metrics of a v3.x vector and their allowed values. Base metrics first.
const METRICS: &[(&str, &[&str])] = &[
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "R"]),
    ("S", &["U", "C"]),
    ("C", &["H", "L", "N"]),
    ("I", &["H", "L", "N"]),
    ("A", &["H", "L", "N"]),
    ("E", &["X", "U", "P", "F", "H"]),
    ("RL", &["X", "O", "T", "W", "U"]),
    ("RC", &["X", "U", "R", "C"]),
    ("CR", &["X", "L", "M", "H"]),
    ("IR", &["X", "L", "M", "H"]),
    ("AR", &["X", "L", "M", "H"]),
    ("MAV", &["X", "N", "A", "L", "P"]),
    ("MAC", &["X", "L", "H"]),
    ("MPR", &["X", "N", "L", "H"]),
    ("MUI", &["X", "N", "R"]),
    ("MS", &["X", "U", "C"]),
    ("MC", &["X", "N", "L", "H"]),
    ("MI", &["X", "N", "L", "H"]),
    ("MA", &["X", "N", "L", "H"]),
];

/// How many of [`METRICS`] are base metrics (all required).
const BASE_METRICS: usize = 8;

/// The base score (0.0 to 10.0, one decimal) of a `CVSS:3.0/` or
/// `CVSS:3.1/` vector.
pub fn v3_base_score(vector: &str) -> Result<f64, Error> {
    let fail = |reason: &str| Error::Cvss {
        vector: vector.chars().take(MAX_VECTOR_LENGTH).collect(),
        reason: reason.to_owned(),
    };
    if vector.len() > MAX_VECTOR_LENGTH {
        return Err(fail("longer than any CVSS v3 vector"));
    }
    let metrics_text = vector
        .strip_prefix("CVSS:3.1/")
        .or_else(|| vector.strip_prefix("CVSS:3.0/"))
        .ok_or_else(|| fail("does not start with CVSS:3.0/ or CVSS:3.1/"))?;
    let values = read_metrics(metrics_text, METRICS, &fail)?;
    let mut base = [""; BASE_METRICS];
    for (slot, (value, (name, _))) in base.iter_mut().zip(values.iter().zip(METRICS)) {
        *slot = value.ok_or_else(|| fail(&format!("base metric {name} is missing")))?;
    }
    let [
        attack_vector,
        attack_complexity,
        privileges,
        interaction,
        scope,
        confidentiality,
        integrity,
        availability,
    ] = base;
    let changed = scope == "C";
    let attack_vector: f64 = match attack_vector {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        _ => 0.2,
    };
    let attack_complexity = if attack_complexity == "L" { 0.77 } else { 0.44 };
    let privileges = match (privileges, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        (_, false) => 0.27,
        (_, true) => 0.5,
    };
    let interaction = if interaction == "N" { 0.85 } else { 0.62 };
    let impact_weight = |value: &str| -> f64 {
        match value {
            "H" => 0.56,
            "L" => 0.22,
            _ => 0.0,
        }
    };
    let impact_subscore = 1.0
        - (1.0 - impact_weight(confidentiality))
            * (1.0 - impact_weight(integrity))
            * (1.0 - impact_weight(availability));
    let impact = if changed {
        7.52 * (impact_subscore - 0.029) - 3.25 * (impact_subscore - 0.02).powi(15)
    } else {
        6.42 * impact_subscore
    };
    let exploitability = 8.22 * attack_vector * attack_complexity * privileges * interaction;
    if impact <= 0.0 {
        return Ok(0.0);
    }
    Ok(if changed {
        roundup((1.08 * (impact + exploitability)).min(10.0))
    } else {
        roundup((impact + exploitability).min(10.0))
    })
}

/// Metrics of a v4.0 vector and their allowed values: the eleven base
/// metrics (all required), then threat, environmental and supplemental ones.
const V4_METRICS: &[(&str, &[&str])] = &[
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("AT", &["N", "P"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "P", "A"]),
    ("VC", &["H", "L", "N"]),
    ("VI", &["H", "L", "N"]),
    ("VA", &["H", "L", "N"]),
    ("SC", &["H", "L", "N"]),
    ("SI", &["H", "L", "N"]),
    ("SA", &["H", "L", "N"]),
    ("E", &["X", "A", "P", "U"]),
    ("CR", &["X", "H", "M", "L"]),
    ("IR", &["X", "H", "M", "L"]),
    ("AR", &["X", "H", "M", "L"]),
    ("MAV", &["X", "N", "A", "L", "P"]),
    ("MAC", &["X", "L", "H"]),
    ("MAT", &["X", "N", "P"]),
    ("MPR", &["X", "N", "L", "H"]),
    ("MUI", &["X", "N", "P", "A"]),
    ("MVC", &["X", "H", "L", "N"]),
    ("MVI", &["X", "H", "L", "N"]),
    ("MVA", &["X", "H", "L", "N"]),
    ("MSC", &["X", "H", "L", "N"]),
    ("MSI", &["X", "S", "H", "L", "N"]),
    ("MSA", &["X", "S", "H", "L", "N"]),
    ("S", &["X", "N", "P"]),
    ("AU", &["X", "N", "Y"]),
    ("R", &["X", "A", "U", "I"]),
    ("V", &["X", "D", "C"]),
    ("RE", &["X", "L", "M", "H"]),
    ("U", &["X", "Clear", "Green", "Amber", "Red"]),
];

/// How many of [`V4_METRICS`] are base metrics (all required).
const V4_BASE_METRICS: usize = 11;

/// Marks a MacroVector that does not exist (EQ3 = 2 only comes with EQ6 = 1).
const NONE: f64 = -1.0;

/// The score of every MacroVector, the data of the CVSS v4.0 specification
/// (FIRST, section 8.2, its published lookup table). Rows are EQ1, EQ2, EQ3,
/// EQ4 in order (row = ((EQ1·2 + EQ2)·3 + EQ3)·3 + EQ4); columns are
/// (EQ5, EQ6) = 00, 01, 10, 11, 20, 21.
#[rustfmt::skip]
const MACROVECTOR_SCORES: [[f64; 6]; 54] = [
    // EQ1 = 0, EQ2 = 0
    [10.0, 9.9, 9.8, 9.5, 9.5, 9.2], [10.0, 9.6, 9.3, 8.7, 9.1, 8.1], [9.3, 9.0, 8.9, 8.0, 8.1, 6.8],
    [9.8, 9.5, 9.5, 9.2, 9.0, 8.4], [9.3, 9.2, 8.9, 8.1, 8.1, 6.5], [8.8, 8.0, 7.8, 7.0, 6.9, 4.8],
    [NONE, 9.2, NONE, 8.2, NONE, 7.2], [NONE, 7.9, NONE, 6.9, NONE, 5.0], [NONE, 6.9, NONE, 5.5, NONE, 2.7],
    // EQ1 = 0, EQ2 = 1
    [9.9, 9.7, 9.5, 9.2, 9.2, 8.5], [9.5, 9.1, 9.0, 8.3, 8.4, 7.1], [9.2, 8.1, 8.2, 7.1, 7.2, 5.3],
    [9.5, 9.3, 9.2, 8.5, 8.5, 7.3], [9.2, 8.2, 8.0, 7.2, 7.0, 5.9], [8.4, 7.0, 7.1, 5.2, 5.0, 3.0],
    [NONE, 8.6, NONE, 7.5, NONE, 5.2], [NONE, 7.1, NONE, 5.2, NONE, 2.9], [NONE, 6.3, NONE, 2.9, NONE, 1.7],
    // EQ1 = 1, EQ2 = 0
    [9.8, 9.5, 9.4, 8.7, 9.1, 8.1], [9.4, 8.9, 8.6, 7.4, 7.7, 6.4], [8.7, 7.5, 7.4, 6.3, 6.3, 4.9],
    [9.4, 8.9, 8.8, 7.7, 7.6, 6.7], [8.6, 7.6, 7.4, 5.8, 5.9, 5.0], [7.2, 5.7, 5.7, 5.2, 5.2, 2.5],
    [NONE, 8.3, NONE, 7.0, NONE, 5.4], [NONE, 6.5, NONE, 5.8, NONE, 2.6], [NONE, 5.3, NONE, 2.1, NONE, 1.3],
    // EQ1 = 1, EQ2 = 1
    [9.5, 9.0, 8.8, 7.6, 7.6, 7.0], [9.0, 7.7, 7.5, 6.2, 6.1, 5.3], [7.7, 6.6, 6.8, 5.9, 5.2, 3.0],
    [8.9, 7.8, 7.6, 6.7, 6.2, 5.8], [7.4, 5.9, 5.7, 5.7, 4.7, 2.3], [6.1, 5.2, 5.7, 2.9, 2.4, 1.6],
    [NONE, 7.1, NONE, 5.9, NONE, 3.0], [NONE, 5.8, NONE, 2.6, NONE, 1.5], [NONE, 2.3, NONE, 1.3, NONE, 0.6],
    // EQ1 = 2, EQ2 = 0
    [9.3, 8.7, 8.6, 7.2, 7.5, 5.8], [8.6, 7.4, 7.4, 6.1, 5.6, 3.4], [7.0, 5.4, 5.2, 4.0, 4.0, 2.2],
    [8.5, 7.5, 7.4, 5.5, 6.2, 5.1], [7.2, 5.7, 5.5, 4.1, 4.6, 1.9], [5.3, 3.6, 3.4, 1.9, 1.9, 0.8],
    [NONE, 6.4, NONE, 5.1, NONE, 2.0], [NONE, 4.7, NONE, 2.1, NONE, 1.1], [NONE, 2.4, NONE, 0.9, NONE, 0.4],
    // EQ1 = 2, EQ2 = 1
    [8.8, 7.5, 7.3, 5.3, 6.0, 5.0], [7.3, 5.5, 5.9, 4.0, 4.1, 2.0], [5.4, 4.3, 4.5, 2.2, 2.0, 1.1],
    [7.5, 5.5, 5.8, 4.5, 4.0, 2.1], [6.1, 5.1, 4.8, 1.8, 2.0, 0.9], [4.6, 1.8, 1.7, 0.7, 0.8, 0.2],
    [NONE, 5.3, NONE, 2.4, NONE, 1.4], [NONE, 2.4, NONE, 1.2, NONE, 0.5], [NONE, 1.0, NONE, 0.3, NONE, 0.1],
];

/// The score of a MacroVector (EQ1..EQ6), if it exists.
fn macrovector_score(eq: [usize; 6]) -> Option<f64> {
    let [eq1, eq2, eq3, eq4, eq5, eq6] = eq;
    if eq1 > 2 || eq2 > 1 || eq3 > 2 || eq4 > 2 || eq5 > 2 || eq6 > 1 {
        return None;
    }
    let score = MACROVECTOR_SCORES[((eq1 * 2 + eq2) * 3 + eq3) * 3 + eq4][eq5 * 2 + eq6];
    (score >= 0.0).then_some(score)
}

/// Part of a highest-severity vector: the metric values one EQ level fixes.
type Partial = &'static [(&'static str, &'static str)];

/// The highest-severity vectors of each EQ level (the specification's
/// "max composed" vectors).
const EQ1_MAXES: [&[Partial]; 3] = [
    &[&[("AV", "N"), ("PR", "N"), ("UI", "N")]],
    &[
        &[("AV", "A"), ("PR", "N"), ("UI", "N")],
        &[("AV", "N"), ("PR", "L"), ("UI", "N")],
        &[("AV", "N"), ("PR", "N"), ("UI", "P")],
    ],
    &[
        &[("AV", "P"), ("PR", "N"), ("UI", "N")],
        &[("AV", "A"), ("PR", "L"), ("UI", "P")],
    ],
];
const EQ2_MAXES: [&[Partial]; 2] = [
    &[&[("AC", "L"), ("AT", "N")]],
    &[&[("AC", "H"), ("AT", "N")], &[("AC", "L"), ("AT", "P")]],
];
/// By EQ3, then EQ6 (EQ3 = 2 only with EQ6 = 1).
#[rustfmt::skip]
const EQ3_EQ6_MAXES: [[&[Partial]; 2]; 3] = [
    [
        &[&[("VC", "H"), ("VI", "H"), ("VA", "H"), ("CR", "H"), ("IR", "H"), ("AR", "H")]],
        &[
            &[("VC", "H"), ("VI", "H"), ("VA", "L"), ("CR", "M"), ("IR", "M"), ("AR", "H")],
            &[("VC", "H"), ("VI", "H"), ("VA", "H"), ("CR", "M"), ("IR", "M"), ("AR", "M")],
        ],
    ],
    [
        &[
            &[("VC", "L"), ("VI", "H"), ("VA", "H"), ("CR", "H"), ("IR", "H"), ("AR", "H")],
            &[("VC", "H"), ("VI", "L"), ("VA", "H"), ("CR", "H"), ("IR", "H"), ("AR", "H")],
        ],
        &[
            &[("VC", "L"), ("VI", "H"), ("VA", "L"), ("CR", "H"), ("IR", "M"), ("AR", "H")],
            &[("VC", "L"), ("VI", "H"), ("VA", "H"), ("CR", "H"), ("IR", "M"), ("AR", "M")],
            &[("VC", "H"), ("VI", "L"), ("VA", "H"), ("CR", "M"), ("IR", "H"), ("AR", "M")],
            &[("VC", "H"), ("VI", "L"), ("VA", "L"), ("CR", "M"), ("IR", "H"), ("AR", "H")],
            &[("VC", "L"), ("VI", "L"), ("VA", "H"), ("CR", "H"), ("IR", "H"), ("AR", "M")],
        ],
    ],
    [
        &[],
        &[&[("VC", "L"), ("VI", "L"), ("VA", "L"), ("CR", "H"), ("IR", "H"), ("AR", "H")]],
    ],
];
const EQ4_MAXES: [&[Partial]; 3] = [
    &[&[("SC", "H"), ("SI", "S"), ("SA", "S")]],
    &[&[("SC", "H"), ("SI", "H"), ("SA", "H")]],
    &[&[("SC", "L"), ("SI", "L"), ("SA", "L")]],
];
const EQ5_MAXES: [&[Partial]; 3] = [&[&[("E", "A")]], &[&[("E", "P")]], &[&[("E", "U")]]];

/// The depth of each EQ level in steps of severity distance (the
/// specification's "max severity"), EQ3 and EQ6 jointly.
const EQ1_DEPTH: [f64; 3] = [1.0, 4.0, 5.0];
const EQ2_DEPTH: [f64; 2] = [1.0, 2.0];
const EQ3_EQ6_DEPTH: [[f64; 2]; 3] = [[7.0, 6.0], [8.0, 8.0], [NONE, 10.0]];
const EQ4_DEPTH: [f64; 3] = [6.0, 5.0, 4.0];

/// A metric value's level for severity distances: 0.0 is the most severe,
/// each step 0.1.
fn severity_level(metric: &str, value: &str) -> f64 {
    match (metric, value) {
        ("AV" | "PR" | "UI" | "AT", "N") | ("AC", "L") => 0.0,
        ("AV", "A") | ("PR", "L") | ("UI" | "AT", "P") | ("AC", "H") => 0.1,
        ("AV", "L") | ("PR", "H") | ("UI", "A") => 0.2,
        ("AV", "P") => 0.3,
        ("VC" | "VI" | "VA" | "CR" | "IR" | "AR", "H") => 0.0,
        ("VC" | "VI" | "VA", "L") | ("CR" | "IR" | "AR", "M") => 0.1,
        ("VC" | "VI" | "VA", "N") | ("CR" | "IR" | "AR", "L") => 0.2,
        ("SI" | "SA", "S") => 0.0,
        ("SC" | "SI" | "SA", "H") => 0.1,
        ("SC" | "SI" | "SA", "L") => 0.2,
        ("SC" | "SI" | "SA", "N") => 0.3,
        ("E", "P") => 0.1,
        ("E", "U") => 0.2,
        _ => 0.0,
    }
}

/// The metrics the severity distance is measured on, in the order the
/// specification's reference sums them.
const DISTANCE_METRICS: [&str; 15] = [
    "AV", "PR", "UI", "AC", "AT", "VC", "VI", "VA", "SC", "SI", "SA", "CR", "IR", "AR", "E",
];

/// The score (0.0 to 10.0, one decimal) of a `CVSS:4.0/` vector, computed
/// with the FIRST CVSS v4.0 algorithm: the vector's MacroVector (EQ1..EQ6)
/// gives the score of its highest-severity vectors, lowered by the mean,
/// over the EQs that have a lower MacroVector, of the score gap to it
/// times the vector's severity distance from the highest vector as a share
/// of the level's depth; rounded half up to one decimal. Threat and
/// environmental metrics take part as the specification says (`E:X` is
/// `A`, `CR/IR/AR:X` is `H`, modified metrics replace base ones); OSV's
/// vectors carry only base metrics, which gives the CVSS-B score.
/// Supplemental metrics are read and do not change the score.
pub fn v4_score(vector: &str) -> Result<f64, Error> {
    let fail = |reason: &str| Error::Cvss {
        vector: vector.chars().take(MAX_VECTOR_LENGTH).collect(),
        reason: reason.to_owned(),
    };
    if vector.len() > MAX_VECTOR_LENGTH {
        return Err(fail("longer than any CVSS v4 vector"));
    }
    let metrics_text = vector
        .strip_prefix("CVSS:4.0/")
        .ok_or_else(|| fail("does not start with CVSS:4.0/"))?;
    let values = read_metrics(metrics_text, V4_METRICS, &fail)?;
    for (value, (name, _)) in values.iter().zip(V4_METRICS).take(V4_BASE_METRICS) {
        if value.is_none() {
            return Err(fail(&format!("base metric {name} is missing")));
        }
    }
    let raw = |metric: &str| -> &str {
        V4_METRICS
            .iter()
            .position(|(name, _)| *name == metric)
            .and_then(|position| values[position])
            .unwrap_or("X")
    };
    // The value that counts: threat and security requirements default to
    // their worst case, and a modified metric replaces its base metric.
    let effective = |metric: &str| -> &str {
        match metric {
            "E" => match raw("E") {
                "X" => "A",
                value => value,
            },
            "CR" | "IR" | "AR" => match raw(metric) {
                "X" => "H",
                value => value,
            },
            _ => {
                let modified = V4_METRICS
                    .iter()
                    .position(|(name, _)| name.strip_prefix('M') == Some(metric))
                    .and_then(|position| values[position])
                    .unwrap_or("X");
                if modified == "X" {
                    raw(metric)
                } else {
                    modified
                }
            }
        }
    };
    let is = |metric: &str, value: &str| effective(metric) == value;

    if ["VC", "VI", "VA", "SC", "SI", "SA"]
        .iter()
        .all(|metric| is(metric, "N"))
    {
        return Ok(0.0);
    }

    let eq1 = if is("AV", "N") && is("PR", "N") && is("UI", "N") {
        0
    } else if (is("AV", "N") || is("PR", "N") || is("UI", "N")) && !is("AV", "P") {
        1
    } else {
        2
    };
    let eq2 = if is("AC", "L") && is("AT", "N") { 0 } else { 1 };
    let eq3 = if is("VC", "H") && is("VI", "H") {
        0
    } else if is("VC", "H") || is("VI", "H") || is("VA", "H") {
        1
    } else {
        2
    };
    let eq4 = if raw("MSI") == "S" || raw("MSA") == "S" {
        0
    } else if is("SC", "H") || is("SI", "H") || is("SA", "H") {
        1
    } else {
        2
    };
    let eq5 = match effective("E") {
        "A" => 0,
        "P" => 1,
        _ => 2,
    };
    let eq6 = if (is("CR", "H") && is("VC", "H"))
        || (is("IR", "H") && is("VI", "H"))
        || (is("AR", "H") && is("VA", "H"))
    {
        0
    } else {
        1
    };
    let macrovector = [eq1, eq2, eq3, eq4, eq5, eq6];
    let value =
        macrovector_score(macrovector).ok_or_else(|| fail("its MacroVector has no score"))?;

    // The next lower MacroVector of each EQ (EQ3 and EQ6 move together).
    let lower = |changes: [usize; 6]| {
        let mut next = macrovector;
        for (slot, change) in next.iter_mut().zip(changes) {
            *slot += change;
        }
        macrovector_score(next)
    };
    let lower_eq1 = lower([1, 0, 0, 0, 0, 0]);
    let lower_eq2 = lower([0, 1, 0, 0, 0, 0]);
    let lower_eq3_eq6 = match (eq3, eq6) {
        (1, 1) | (0, 1) => lower([0, 0, 1, 0, 0, 0]),
        (1, 0) => lower([0, 0, 0, 0, 0, 1]),
        // Two ways down; the higher score is the nearer one.
        (0, 0) => match (lower([0, 0, 0, 0, 0, 1]), lower([0, 0, 1, 0, 0, 0])) {
            (Some(left), Some(right)) => Some(left.max(right)),
            (left, right) => left.or(right),
        },
        _ => lower([0, 0, 1, 0, 0, 1]),
    };
    let lower_eq4 = lower([0, 0, 0, 1, 0, 0]);
    let lower_eq5 = lower([0, 0, 0, 0, 1, 0]);

    // The first composed highest-severity vector that the vector does not
    // exceed in any metric gives the distances.
    let mut distances = [0.0_f64; DISTANCE_METRICS.len()];
    'search: for eq1_max in EQ1_MAXES[eq1] {
        for eq2_max in EQ2_MAXES[eq2] {
            for eq3_eq6_max in EQ3_EQ6_MAXES[eq3][eq6] {
                for eq4_max in EQ4_MAXES[eq4] {
                    for eq5_max in EQ5_MAXES[eq5] {
                        let parts = [*eq1_max, *eq2_max, *eq3_eq6_max, *eq4_max, *eq5_max];
                        for (distance, metric) in distances.iter_mut().zip(DISTANCE_METRICS) {
                            let maximum = parts
                                .iter()
                                .flat_map(|part| part.iter())
                                .find(|(name, _)| *name == metric)
                                .map_or("", |(_, value)| *value);
                            *distance = severity_level(metric, effective(metric))
                                - severity_level(metric, maximum);
                        }
                        if distances.iter().all(|distance| *distance >= 0.0) {
                            break 'search;
                        }
                    }
                }
            }
        }
    }
    let distance = |metric: &str| {
        DISTANCE_METRICS
            .iter()
            .position(|name| *name == metric)
            .map_or(0.0, |position| distances[position])
    };
    let distance_eq1 = distance("AV") + distance("PR") + distance("UI");
    let distance_eq2 = distance("AC") + distance("AT");
    let distance_eq3_eq6 = distance("VC")
        + distance("VI")
        + distance("VA")
        + distance("CR")
        + distance("IR")
        + distance("AR");
    let distance_eq4 = distance("SC") + distance("SI") + distance("SA");

    const STEP: f64 = 0.1;
    let mut existing_lower = 0_u32;
    let mut total = 0.0;
    let mut add = |lower: Option<f64>, current_distance: f64, depth: f64| {
        if let Some(lower) = lower {
            existing_lower += 1;
            total += (value - lower) * (current_distance / (depth * STEP));
        }
    };
    add(lower_eq1, distance_eq1, EQ1_DEPTH[eq1]);
    add(lower_eq2, distance_eq2, EQ2_DEPTH[eq2]);
    add(lower_eq3_eq6, distance_eq3_eq6, EQ3_EQ6_DEPTH[eq3][eq6]);
    add(lower_eq4, distance_eq4, EQ4_DEPTH[eq4]);
    // EQ5's share of distance is always zero, but its lower MacroVector
    // still counts in the mean.
    add(lower_eq5, 0.0, 1.0);
    let mean = if existing_lower == 0 {
        0.0
    } else {
        total / f64::from(existing_lower)
    };
    let score = (value - mean).clamp(0.0, 10.0);
    // Half up, with the reference's epsilon against binary fractions.
    Ok(((score + 1e-6) * 10.0 + 0.5).floor() / 10.0)
}

/// Reads `METRIC:VALUE/...` against a metric table: every metric known,
/// given once, with one of its values. Returns the values by table position.
fn read_metrics<'vector>(
    text: &'vector str,
    table: &[(&str, &[&str])],
    fail: &dyn Fn(&str) -> Error,
) -> Result<Vec<Option<&'vector str>>, Error> {
    let mut values = vec![None; table.len()];
    for part in text.split('/') {
        let (key, value) = part
            .split_once(':')
            .ok_or_else(|| fail(&format!("{part:?} is not METRIC:VALUE")))?;
        let position = table
            .iter()
            .position(|(name, _)| *name == key)
            .ok_or_else(|| fail(&format!("unknown metric {key:?}")))?;
        if !table[position].1.contains(&value) {
            return Err(fail(&format!("{value:?} is not a value of {key}")));
        }
        if values[position].replace(value).is_some() {
            return Err(fail(&format!("metric {key} is given twice")));
        }
    }
    Ok(values)
}

/// CVSS v3.1 appendix A: the smallest number with one decimal that is at
/// least the input, computed on integers to avoid answers like 4.000001 → 4.1.
fn roundup(value: f64) -> f64 {
    // The value is at most 10.8 here, so the product fits an i64 exactly.
    #[allow(clippy::cast_possible_truncation)]
    let scaled = (value * 100_000.0).round() as i64;
    if scaled % 10_000 == 0 {
        scaled as f64 / 100_000.0
    } else {
        ((scaled / 10_000) + 1) as f64 / 10.0
    }
}

/// The qualitative rating of a CVSS v3.x or v4.0 score: 0.1–3.9 low,
/// 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical. A score of 0.0 is the
/// specification's "None", which has no [`Level`]: it is [`Level::Unknown`].
pub fn level(score: f64) -> Level {
    if score >= 9.0 {
        Level::Critical
    } else if score >= 7.0 {
        Level::High
    } else if score >= 4.0 {
        Level::Medium
    } else if score > 0.0 {
        Level::Low
    } else {
        Level::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(vector: &str) -> f64 {
        v3_base_score(vector).unwrap_or_else(|error| panic!("{vector}: {error}"))
    }

    #[test]
    fn known_vectors_score_as_the_specification_says() {
        let cases = [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
            // Scope changed with high privileges uses PR:H = 0.5.
            ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:C/C:H/I:H/A:H", 9.1),
            // 3.0 vectors use the same base equations.
            ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            // Temporal and environmental metrics do not change the base score.
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C/MAV:L",
                9.8,
            ),
        ];
        for (vector, expected) in cases {
            assert_eq!(score(vector), expected, "{vector}");
        }
    }

    #[test]
    fn roundup_avoids_floating_point_surprises() {
        assert_eq!(roundup(4.000_000_01), 4.0);
        assert_eq!(roundup(4.02), 4.1);
        assert_eq!(roundup(4.0), 4.0);
        assert_eq!(roundup(9.76), 9.8);
    }

    #[test]
    fn malformed_vectors_are_errors() {
        for vector in [
            "",
            "CVSS:3.1",
            "CVSS:3.1/",
            "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P",
            "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/A:H",
            "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A",
            "CVSS:3.1/AV:N//AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        ] {
            let error = v3_base_score(vector).expect_err(vector);
            assert!(error.to_string().contains("CVSS vector"), "{error}");
        }
        let long = format!("CVSS:3.1/{}", "AV:N/".repeat(1000));
        assert!(v3_base_score(&long).is_err());
    }

    fn score_v4(vector: &str) -> f64 {
        v4_score(vector).unwrap_or_else(|error| panic!("{vector}: {error}"))
    }

    #[test]
    fn the_lookup_table_has_every_macrovector() {
        let mut count = 0;
        for eq1 in 0..3 {
            for eq2 in 0..2 {
                for eq3 in 0..3 {
                    for eq4 in 0..3 {
                        for eq5 in 0..3 {
                            for eq6 in 0..2 {
                                let score = macrovector_score([eq1, eq2, eq3, eq4, eq5, eq6]);
                                // EQ3 = 2 (no high impact) cannot come with EQ6 = 0.
                                assert_eq!(score.is_some(), !(eq3 == 2 && eq6 == 0));
                                if let Some(score) = score {
                                    assert!((0.0..=10.0).contains(&score));
                                    count += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(count, 270);
        assert_eq!(macrovector_score([0, 0, 0, 0, 0, 0]), Some(10.0));
        assert_eq!(macrovector_score([2, 1, 2, 2, 2, 1]), Some(0.1));
        assert_eq!(macrovector_score([3, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn v4_vectors_score_as_the_reference_calculator() {
        let cases = [
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                9.3,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H",
                10.0,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                8.7,
            ),
            // Severity distance inside EQ1: 8.7 - (1.7 * 0.2/0.4) / 4 = 8.4875.
            (
                "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                8.5,
            ),
            // Distance inside EQ3+EQ6: 8.8 - (0.8 * 0.3/0.8) / 4 = 8.725.
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N",
                8.7,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
                6.9,
            ),
            // A modified metric replaces its base metric; E:A is the default.
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:L/SC:N/SI:N/SA:N/E:A/MAV:A",
                8.7,
            ),
            // No impact at all scores 0.
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N",
                0.0,
            ),
            // Supplemental metrics do not change the score.
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/S:P/AU:Y/U:Red",
                9.3,
            ),
        ];
        for (vector, expected) in cases {
            assert_eq!(score_v4(vector), expected, "{vector}");
        }
    }

    #[test]
    fn malformed_v4_vectors_are_errors() {
        for vector in [
            "",
            "CVSS:4.0",
            "CVSS:4.0/",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/SA:N",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/XX:Y",
        ] {
            let error = v4_score(vector).expect_err(vector);
            assert!(error.to_string().contains("CVSS vector"), "{error}");
        }
        let long = format!("CVSS:4.0/{}", "AV:N/".repeat(1000));
        assert!(v4_score(&long).is_err());
    }

    #[test]
    fn bands_follow_the_specification() {
        assert_eq!(level(0.0), Level::Unknown);
        assert_eq!(level(0.1), Level::Low);
        assert_eq!(level(3.9), Level::Low);
        assert_eq!(level(4.0), Level::Medium);
        assert_eq!(level(6.9), Level::Medium);
        assert_eq!(level(7.0), Level::High);
        assert_eq!(level(8.9), Level::High);
        assert_eq!(level(9.0), Level::Critical);
        assert_eq!(level(10.0), Level::Critical);
    }
}
