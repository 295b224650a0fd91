//! Appends many events to one audit log and reports what an append costs at
//! the start and at the end, then how long a full `verify` takes. An append
//! extends the frontier, so its cost should not grow with the log; `verify`
//! reads and hashes every entry, so it should grow linearly.
//!
//! ```text
//! cargo bench -p airlift-audit --bench append -- [EVENTS] [WINDOW]
//! ```
//!
//! EVENTS defaults to 1,000,000 and WINDOW (appends averaged at each end) to
//! 1,000. The log is written under `AUDIT_BENCH_DIR` if set (a directory on
//! the file system to measure), else in a temporary directory. The witness is
//! in memory: the CLI's (one SQLite transaction per append) is a constant
//! added to every append, and is not measured here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airlift_audit::{Head, Log, Witness};

#[derive(Default)]
struct MemoryWitness(Mutex<Option<Head>>);

impl Witness for MemoryWitness {
    fn recorded(&self) -> Result<Option<Head>, String> {
        Ok(*self.0.lock().map_err(|e| e.to_string())?)
    }
    fn record(&self, head: Head) -> Result<(), String> {
        *self.0.lock().map_err(|e| e.to_string())? = Some(head);
        Ok(())
    }
}

fn mean_micros(total: Duration, count: u64) -> f64 {
    total.as_secs_f64() * 1e6 / count.max(1) as f64
}

fn main() {
    // `cargo bench` passes `--bench`; numbers are the positional arguments.
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = numbers.first().copied().unwrap_or(1_000_000);
    let window = numbers
        .get(1)
        .copied()
        .unwrap_or(1_000)
        .min(events / 2)
        .max(1);
    let base = std::env::var_os("AUDIT_BENCH_DIR");
    let home = match &base {
        Some(dir) => tempfile::tempdir_in(dir).expect("temporary directory"),
        None => tempfile::tempdir().expect("temporary directory"),
    };
    let log = Log::with_witness(home.path(), Arc::new(MemoryWitness::default()));
    println!("appending {events} events under {}", home.path().display());
    let (mut first, mut last) = (Duration::ZERO, Duration::ZERO);
    let (mut slowest, mut slowest_at) = (Duration::ZERO, 0);
    let started = Instant::now();
    let mut step_started = Instant::now();
    let step = (events / 10).max(1);
    for i in 0..events {
        let detail = serde_json::json!({
            "change": format!("push team/app@sha256:{i:064x}"),
            "upserts": [{"key": format!("team/app/manifests/sha256:{i:064x}"), "size": 1234}],
            "removals": [],
        });
        let start = Instant::now();
        log.append("registry-change", detail).expect("append");
        let took = start.elapsed();
        if i < window {
            first += took;
        }
        if i >= events - window {
            last += took;
        }
        if took > slowest {
            (slowest, slowest_at) = (took, i);
        }
        if (i + 1) % step == 0 {
            println!(
                "  {:>9} appended, {:>8.1} µs an append over the last {step}",
                i + 1,
                mean_micros(step_started.elapsed(), step)
            );
            step_started = Instant::now();
        }
    }
    let total = started.elapsed();
    let bytes = std::fs::metadata(home.path().join("audit/log.jsonl"))
        .expect("log")
        .len();
    println!(
        "append: first {window}: {:.1} µs each; last {window}: {:.1} µs each; all {events}: {:.1} µs each ({:.1} s); slowest {:.1} ms (append {slowest_at})",
        mean_micros(first, window),
        mean_micros(last, window),
        mean_micros(total, events),
        total.as_secs_f64(),
        slowest.as_secs_f64() * 1e3,
    );
    let start = Instant::now();
    let verified = log.verify(&[]).expect("verify");
    let took = start.elapsed();
    println!(
        "verify: {} entries, {:.1} MiB, in {:.2} s ({:.2} µs an entry)",
        verified.entries,
        bytes as f64 / (1 << 20) as f64,
        took.as_secs_f64(),
        mean_micros(took, verified.entries)
    );
}
