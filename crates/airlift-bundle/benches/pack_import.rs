//! `cargo bench -p airlift-bundle`: pack and import throughput on generated
//! data, next to a plain SHA-256 pass over the same bytes (the ceiling of a
//! verified pass). Size: `AIRLIFT_BENCH_MIB` (default 256), half
//! incompressible, half text. For side-by-side figures with openssl, zstd,
//! tar and nginx, run `bench/run.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{Read, Write};
use std::time::Instant;

use airlift_bundle::{ImportOptions, NoProgress, PackOptions};
use airlift_core::Sha256;
use airlift_store::layout::Layout;
use airlift_store::{Entry, NewGeneration, Store};
use airlift_trust::SiteKeys;

fn mib_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / (1 << 20) as f64 / seconds
}

fn main() {
    let total_mib: u64 = std::env::var("AIRLIFT_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let work = tempfile::tempdir().unwrap();
    let connected = work.path().join("connected");
    let store = Store::open_embedded(&connected).unwrap();

    // Data: 16 MiB files, alternating incompressible and text.
    let file_mib = 16u64;
    let mut entries = Vec::new();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for index in 0..(total_mib / file_mib).max(1) {
        let mut writer = store.blobs.writer().unwrap();
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..file_mib {
            if index % 2 == 0 {
                for chunk in block.chunks_mut(8) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
                }
            } else {
                let line = format!(
                    "{index} 2026-11-28T12:00:00Z INFO request served path=/files/x bytes=1234\n"
                );
                for (i, byte) in block.iter_mut().enumerate() {
                    *byte = line.as_bytes()[i % line.len()];
                }
            }
            writer.write_all(&block).unwrap();
        }
        let (digest, size) = writer.commit(None).unwrap();
        entries.push(Entry {
            ecosystem: "files".into(),
            key: format!("bench/{index}.bin"),
            digest,
            size,
            meta: serde_json::json!({}),
        });
    }
    let bytes: u64 = entries.iter().map(|e| e.size).sum();
    store
        .meta
        .commit(NewGeneration {
            source: "bench".into(),
            created_at: 0,
            entries: entries.clone(),
            state: vec![],
        })
        .unwrap();
    let keys = SiteKeys::init(&connected.join("keys"), jiff::Timestamp::now(), 30).unwrap();
    let root = keys.root_path(1);

    // The ceiling: one SHA-256 pass over the stored blobs.
    let started = Instant::now();
    for entry in &entries {
        let mut reader = store.blobs.open(&entry.digest).unwrap();
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buffer).unwrap();
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        assert_eq!(hasher.finish(), entry.digest);
    }
    let sha = mib_per_s(bytes, started.elapsed().as_secs_f64());
    println!(
        "data: {} MiB in {} files (half incompressible, half text), from page cache",
        bytes >> 20,
        entries.len()
    );
    println!("{:<28} {:>10.0} MiB/s", "sha256 (ceiling)", sha);

    for (label, name) in [
        ("pack .tar", "bundle.tar"),
        ("pack .tar.zst (level 3)", "bundle.tar.zst"),
    ] {
        let out = work.path().join(name);
        let options = PackOptions {
            out: out.clone(),
            max_part_size: None,
            now: jiff::Timestamp::now(),
            version: None,
            valid_for: jiff::SignedDuration::from_hours(24),
            zstd_level: 3,
            zstd_threads: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            omit: Default::default(),
            statement: None,
            approvals: Vec::new(),
            approval_request: None,
            leave_out: None,
        };
        let started = Instant::now();
        airlift_bundle::pack(&store, &keys, &options, &NoProgress).unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let size = std::fs::metadata(&out).unwrap().len();
        println!(
            "{label:<28} {:>10.0} MiB/s  ({:.0}% of sha256; output {} MiB)",
            mib_per_s(bytes, seconds),
            100.0 * mib_per_s(bytes, seconds) / sha,
            size >> 20
        );

        let home = work.path().join(format!("isolated-{name}"));
        let layout = Layout::new(&home);
        std::fs::create_dir_all(layout.trust_dir()).unwrap();
        std::fs::copy(&root, layout.trusted_root()).unwrap();
        let isolated = Store::open_embedded(&home).unwrap();
        let started = Instant::now();
        airlift_bundle::import(
            &out,
            &isolated,
            &ImportOptions {
                layout: &layout,
                trusted_root: None,
                removals: Default::default(),
                hosted: None,
                admission: None,
            },
            &NoProgress,
        )
        .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{:<28} {:>10.0} MiB/s  ({:.0}% of sha256)",
            format!("import {}", &name[6..]),
            mib_per_s(bytes, seconds),
            100.0 * mib_per_s(bytes, seconds) / sha
        );
    }
}
