//! Scans synthetic packages against synthetic OSV records and reports the
//! time to parse and match them, as the compliance benchmark does (10,000
//! packages against 200,000 records). Records are generated one at a time
//! into a reused buffer (with a kilobyte of `details`, which `parse` skips),
//! and only `parse`, `add` and `finish` are timed.
//!
//! ```text
//! cargo bench -p airlift-advisory --bench scan -- [SUBJECTS] [RECORDS]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlift_advisory::{GoOrder, Scanner, SemverOrder, Subject, VersionOrder, parse};

/// Dotted numbers, standing in for PEP 440 and dpkg orders.
struct Dotted;

impl VersionOrder for Dotted {
    fn compare(&self, first: &str, second: &str) -> Ordering {
        let mut left = first
            .split('.')
            .map(|part| part.parse::<u64>().unwrap_or(0));
        let mut right = second
            .split('.')
            .map(|part| part.parse::<u64>().unwrap_or(0));
        loop {
            match (left.next(), right.next()) {
                (None, None) => return Ordering::Equal,
                (left_part, right_part) => {
                    let ordering = left_part.unwrap_or(0).cmp(&right_part.unwrap_or(0));
                    if ordering != Ordering::Equal {
                        return ordering;
                    }
                }
            }
        }
    }
}

/// OSV's name for Rust crates (the public registry's host, not written out).
const RUST: &str = concat!("crates", ".", "io");
const ECOSYSTEMS: [&str; 5] = ["PyPI", "npm", RUST, "Go", "Debian:12"];

/// A small deterministic generator, so runs compare.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

fn name(index: u64) -> String {
    format!("package-{index}")
}

fn version(ecosystem: &str, sequence: &mut Sequence) -> String {
    let (major, minor, patch) = (sequence.below(5), sequence.below(20), sequence.below(10));
    match ecosystem {
        "Go" => format!("v{major}.{minor}.{patch}"),
        _ => format!("{major}.{minor}.{patch}"),
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|argument| argument.parse().ok())
        .collect();
    let subject_count = numbers.first().copied().unwrap_or(10_000);
    let record_count = numbers.get(1).copied().unwrap_or(200_000);
    // Records name packages from a pool five times larger than the subjects,
    // so most records are about packages the site does not carry.
    let pool = subject_count * 5;
    let mut sequence = Sequence(0x9E37_79B9_7F4A_7C15);

    let subjects: Vec<Subject> = (0..subject_count)
        .map(|index| {
            let ecosystem = ECOSYSTEMS[(index % 5) as usize];
            Subject {
                ecosystem: ecosystem.to_owned(),
                name: name(index * 5),
                version: version(ecosystem, &mut sequence),
                reference: format!("ref-{index}"),
            }
        })
        .collect();
    let started = Instant::now();
    let mut scanner = Scanner::new(subjects, |ecosystem| -> Option<Arc<dyn VersionOrder>> {
        match ecosystem {
            "Go" => Some(Arc::new(GoOrder)),
            "npm" | RUST => Some(Arc::new(SemverOrder)),
            _ => Some(Arc::new(Dotted)),
        }
    });
    let mut timed = started.elapsed();

    let details = "x".repeat(1024);
    let mut buffer = String::new();
    let mut bytes_total = 0usize;
    for record_index in 0..record_count {
        buffer.clear();
        let package = sequence.below(pool);
        let ecosystem = ECOSYSTEMS[(package % 5) as usize];
        let record_ecosystem = if ecosystem == "Debian:12" && sequence.below(2) == 0 {
            "Debian"
        } else {
            ecosystem
        };
        let (major, minor) = (sequence.below(5), sequence.below(20));
        write!(
            buffer,
            r#"{{"schema_version":"1.6.0","id":"BENCH-{record_index}","modified":"2026-01-01T00:00:00Z","aliases":["CVE-2026-{alias}"],"summary":"A synthetic advisory","details":"{details}","severity":[{{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}],"affected":[{{"package":{{"ecosystem":"{record_ecosystem}","name":"{package_name}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"{major}.0.0"}},{{"fixed":"{major}.{minor}.1"}}]}}],"database_specific":{{"source":"bench"}}}}],"references":[{{"type":"WEB","url":"https://example.com/{record_index}"}}]}}"#,
            alias = record_index / 2,
            package_name = name(package),
        )
        .expect("write to a string");
        bytes_total += buffer.len();
        let started = Instant::now();
        let record = parse(buffer.as_bytes()).expect("synthetic record parses");
        scanner.add(&record);
        timed += started.elapsed();
    }
    let started = Instant::now();
    let findings = scanner.finish();
    timed += started.elapsed();
    report(
        subject_count,
        record_count,
        bytes_total,
        findings.len(),
        timed,
    );
}

fn report(subjects: u64, records: u64, bytes: usize, findings: usize, timed: Duration) {
    println!(
        "{subjects} subjects, {records} records ({:.1} MiB of JSON): {findings} findings in {:.3} s \
         ({:.2} µs per record); peak RSS {} KiB",
        bytes as f64 / (1024.0 * 1024.0),
        timed.as_secs_f64(),
        timed.as_secs_f64() * 1e6 / records.max(1) as f64,
        peak_rss_kib().map_or_else(|| "unknown".to_owned(), |kib| kib.to_string()),
    );
}
