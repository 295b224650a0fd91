//! Checks shared by the order tests: every check compares both ways, so a
//! broken antisymmetry fails as loudly as a wrong order.

use std::cmp::Ordering;

use airlift_advisory::VersionOrder;

/// Every version is below every later one, from both sides, and equal to
/// itself.
pub fn assert_increasing(order: &dyn VersionOrder, versions: &[&str]) {
    for (index, lower) in versions.iter().enumerate() {
        assert_eq!(
            order.compare(lower, lower),
            Ordering::Equal,
            "{lower} == {lower}"
        );
        for higher in &versions[index + 1..] {
            assert_eq!(
                order.compare(lower, higher),
                Ordering::Less,
                "expected {lower} < {higher}"
            );
            assert_eq!(
                order.compare(higher, lower),
                Ordering::Greater,
                "expected {higher} > {lower}"
            );
        }
    }
}

/// All versions compare equal to each other, from both sides.
pub fn assert_all_equal(order: &dyn VersionOrder, versions: &[&str]) {
    for first in versions {
        for second in versions {
            assert_eq!(
                order.compare(first, second),
                Ordering::Equal,
                "expected {first} == {second}"
            );
        }
    }
}

/// Versions built from `alphabet` by a fixed pseudo-random sequence, so a
/// failure reproduces.
pub fn generated_versions(alphabet: &[&str], count: usize, seed: u64) -> Vec<String> {
    let mut state = seed;
    let mut next = move || {
        // The 64-bit LCG of Knuth's MMIX.
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap_or(0)
    };
    (0..count)
        .map(|_| {
            let pieces = next() % 7;
            (0..pieces)
                .map(|_| alphabet[next() % alphabet.len()])
                .collect::<String>()
        })
        .collect()
}

/// Reflexivity, antisymmetry and transitivity over every pair and triple.
pub fn assert_total_order(order: &dyn VersionOrder, versions: &[String]) {
    let count = versions.len();
    let mut table = vec![Ordering::Equal; count * count];
    for (row, first) in versions.iter().enumerate() {
        for (column, second) in versions.iter().enumerate() {
            table[row * count + column] = order.compare(first, second);
        }
    }
    for (row, first) in versions.iter().enumerate() {
        assert_eq!(
            table[row * count + row],
            Ordering::Equal,
            "{first:?} == itself"
        );
        for (column, second) in versions.iter().enumerate() {
            assert_eq!(
                table[row * count + column],
                table[column * count + row].reverse(),
                "antisymmetry of {first:?} and {second:?}"
            );
        }
    }
    for first in 0..count {
        for second in 0..count {
            let first_second = table[first * count + second];
            if first_second == Ordering::Greater {
                continue;
            }
            for third in 0..count {
                let second_third = table[second * count + third];
                if second_third == Ordering::Greater {
                    continue;
                }
                // first <= second <= third: first <= third, and strictly
                // less when either step was.
                let expected_strict =
                    first_second == Ordering::Less || second_third == Ordering::Less;
                let first_third = table[first * count + third];
                assert!(
                    first_third != Ordering::Greater
                        && (!expected_strict || first_third == Ordering::Less),
                    "transitivity of {:?} {first_second:?} {:?} {second_third:?} {:?} but {first_third:?}",
                    versions[first],
                    versions[second],
                    versions[third]
                );
            }
        }
    }
}
