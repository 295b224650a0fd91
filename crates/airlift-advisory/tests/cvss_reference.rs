//! CVSS scores against an independent implementation: the fixtures hold
//! random vectors with the scores the `cvss` Python package (3.6) gives
//! them (the v4 set hits each of the 270 MacroVectors at least three
//! times, so every entry of the lookup table is exercised);
//! `tests/fixtures/generate-cvss.py` writes them.

use airlift_advisory::cvss;

fn rows(text: &str) -> Vec<(&str, f64)> {
    text.lines()
        .map(|line| {
            let (vector, score) = line.split_once('\t').expect("vector<TAB>score");
            (vector, score.parse().expect("a score"))
        })
        .collect()
}

fn check(rows: &[(&str, f64)], score: impl Fn(&str) -> f64) {
    let wrong: Vec<String> = rows
        .iter()
        .filter_map(|(vector, expected)| {
            let actual = score(vector);
            (actual != *expected).then(|| format!("{vector}: {actual}, expected {expected}"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );
}

#[test]
fn v3_base_scores_match_the_reference() {
    let rows = rows(include_str!("fixtures/cvss-v3.tsv"));
    assert_eq!(rows.len(), 600);
    check(&rows, |vector| {
        cvss::v3_base_score(vector).unwrap_or_else(|error| panic!("{error}"))
    });
}

#[test]
fn v4_scores_match_the_reference() {
    let rows = rows(include_str!("fixtures/cvss-v4.tsv"));
    assert!(rows.len() >= 2000, "{} rows", rows.len());
    check(&rows, |vector| {
        cvss::v4_score(vector).unwrap_or_else(|error| panic!("{error}"))
    });
}
