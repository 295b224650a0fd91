//! Decompression bombs and oversized entries: refused early, with memory and
//! disk bounded. This file holds one test so that the peak RSS of the child
//! processes it measures is its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::Write;

use common::Connected;

/// Runs `airlift ARGS` under a Python wrapper that reports the child's peak
/// RSS (getrusage of children), so no unsafe code is needed here.
fn run_measured(home: &common::Home, args: &[&str]) -> (common::Run, i64) {
    let script = "import resource, subprocess, sys\n\
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n\
sys.stdout.write(r.stdout)\n\
sys.stderr.write(r.stderr)\n\
sys.stderr.write('\\nPEAK_RSS_KIB=%d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
sys.exit(r.returncode)\n";
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(common::binary())
        .arg("--home")
        .arg(home.path())
        .args(args)
        .output()
        .expect("python3 is needed to measure peak memory");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let peak = stderr
        .lines()
        .find_map(|l| l.strip_prefix("PEAK_RSS_KIB="))
        .and_then(|v| v.trim().parse().ok())
        .expect("no peak RSS reported");
    let run = common::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
    };
    (run, peak)
}

/// A tar header for a regular file of `size` bytes named `name`.
fn header(name: &str, size: u64) -> [u8; 512] {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    header[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = b'0';
    header[257..265].copy_from_slice(b"ustar\x0000");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    header
}

/// A .tar.zst whose entries are real bundle metadata followed by `name` with
/// `size` zero bytes: tiny on disk, huge when decompressed.
fn bomb(prefix: &[(String, Vec<u8>)], name: &str, size: u64, path: &std::path::Path) {
    let file = fs::File::create(path).unwrap();
    let mut encoder = zstd::stream::write::Encoder::new(file, 1).unwrap();
    for (entry, data) in prefix {
        encoder
            .write_all(&header(entry, data.len() as u64))
            .unwrap();
        encoder.write_all(data).unwrap();
        encoder
            .write_all(&vec![0u8; (512 - data.len() % 512) % 512])
            .unwrap();
    }
    encoder.write_all(&header(name, size)).unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        encoder.write_all(&zeros[..n]).unwrap();
        left -= n as u64;
    }
    encoder.finish().unwrap();
}

#[test]
fn zstd_bombs_and_oversized_entries_are_refused_with_bounded_memory_and_disk() {
    let connected = Connected::sample();
    let genuine = connected.pack("genuine", &[]);
    let isolated = connected.isolated();
    let before = isolated.snapshot();
    let mut metadata: Vec<(String, Vec<u8>)> = vec![(
        "airlift-bundle.json".into(),
        fs::read(genuine.join("airlift-bundle.json")).unwrap(),
    )];
    for file in [
        "1.root.json",
        "snapshot.json",
        "targets.json",
        "timestamp.json",
    ] {
        metadata.push((
            format!("metadata/{file}"),
            fs::read(genuine.join("metadata").join(file)).unwrap(),
        ));
    }
    let gib: u64 = 1 << 30; // each bomb inflates to 2 GiB
    type Case<'a> = (&'a str, Vec<(String, Vec<u8>)>, String, u64, &'a str);
    let cases: Vec<Case<'_>> = vec![
        // Before verification: metadata caps apply.
        (
            "pointer",
            vec![],
            "airlift-bundle.json".into(),
            2 * gib,
            "over the",
        ),
        (
            "targets-metadata",
            metadata[..1].to_vec(),
            "metadata/targets.json".into(),
            2 * gib,
            "over the",
        ),
        // After verification: only signed targets of the signed length.
        (
            "unlisted-blob",
            metadata.clone(),
            format!("targets/blobs/sha256/{}", "ab".repeat(32)),
            2 * gib,
            "is not listed",
        ),
    ];
    for (label, prefix, name, size, needle) in cases {
        let path = connected.work.path().join(format!("{label}.tar.zst"));
        bomb(&prefix, &name, size, &path);
        assert!(
            fs::metadata(&path).unwrap().len() < 2 << 20,
            "{label}: bomb file not small"
        );
        let started = std::time::Instant::now();
        let (run, peak_kib) = run_measured(&isolated, &["import", path.to_str().unwrap()]);
        run.fails_with(3, needle);
        assert!(
            peak_kib < 200 * 1024,
            "{label}: import peaked at {} MiB",
            peak_kib / 1024
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{label}: the bomb was decompressed ({:?})",
            started.elapsed()
        );
        assert_eq!(isolated.snapshot(), before, "{label}");
    }
    // A frame that asks for a 2 GiB window is refused by the decoder limit.
    let path = connected.work.path().join("window.tar.zst");
    {
        let file = fs::File::create(&path).unwrap();
        let mut encoder = zstd::stream::write::Encoder::new(file, 3).unwrap();
        encoder.window_log(31).unwrap();
        encoder.long_distance_matching(true).unwrap();
        encoder.write_all(&vec![7u8; 1 << 20]).unwrap();
        encoder.finish().unwrap();
    }
    let (run, peak_kib) = run_measured(&isolated, &["import", path.to_str().unwrap()]);
    run.fails_with(3, "damaged");
    assert!(
        peak_kib < 200 * 1024,
        "window bomb: import peaked at {} MiB",
        peak_kib / 1024
    );
    assert_eq!(isolated.snapshot(), before);
}
