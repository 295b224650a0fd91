//! Bad input, archive and part structure: every bundle whose parts are
//! missing, truncated, renamed or reordered, whose tar archive plays tricks
//! (traversal, links, devices, PAX, data after its end), whose table of
//! contents lies, or whose unsigned metadata is huge, is refused with a
//! clear error, within bounded memory, and the isolated store is left
//! exactly as it was; the genuine bundle still imports afterwards. Tampered
//! content and signatures: `bad_bundles.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::scenario::{Scenario, biggest_blob, copy_dir};
use common::{Home, epoch_plus};

#[test]
fn missing_truncated_renamed_and_reordered_parts_are_named() {
    let scenario = Scenario::new();
    let genuine = scenario.newer("second.tar.zst", &["--max-part-size", "40K"]);
    let toc_name = "second.tar.zst.toc.json";
    let part = |dir: &Path, n: u32| dir.join(format!("second.tar.zst.part-{n:04}"));
    let variant = |label: &str| -> PathBuf {
        let dir = scenario.connected.work.path().join(label);
        fs::create_dir_all(&dir).unwrap();
        for entry in fs::read_dir(scenario.connected.work.path()).unwrap() {
            let entry = entry.unwrap();
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("second.tar.zst")
            {
                fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
            }
        }
        dir
    };
    let genuine_toc = genuine.with_file_name(toc_name);
    assert!(
        part(genuine.parent().unwrap(), 3).is_file(),
        "expected at least 3 parts"
    );

    let missing = variant("missing");
    fs::remove_file(part(&missing, 2)).unwrap();
    scenario.refused(&missing.join(toc_name), 3, "part 2");

    let truncated = variant("truncated");
    let bytes = fs::read(part(&truncated, 2)).unwrap();
    fs::write(part(&truncated, 2), &bytes[..bytes.len() - 100]).unwrap();
    scenario.refused(&truncated.join(toc_name), 3, "part 2");
    scenario
        .isolated
        .run(&["import", truncated.join(toc_name).to_str().unwrap()])
        .fails_with(3, "truncated");

    let renamed = variant("renamed");
    fs::rename(part(&renamed, 2), renamed.join("second.tar.zst.part-0099")).unwrap();
    scenario.refused(&renamed.join(toc_name), 3, "is missing");

    let reordered = variant("reordered");
    let (one, two) = (part(&reordered, 1), part(&reordered, 2));
    let swap = reordered.join("swap");
    fs::rename(&one, &swap).unwrap();
    fs::rename(&two, &one).unwrap();
    fs::rename(&swap, &two).unwrap();
    scenario.refused(&reordered.join(toc_name), 3, "reordered");

    scenario.genuine_still_imports(&genuine_toc);
}

#[test]
fn truncated_single_archives_are_refused() {
    let scenario = Scenario::new();
    for name in ["second.tar", "second.tar.zst"] {
        let genuine = scenario.newer(name, &[]);
        let bytes = fs::read(&genuine).unwrap();
        for cut in [bytes.len() / 2, bytes.len() - 1030, 700] {
            let tampered = scenario
                .connected
                .work
                .path()
                .join(format!("cut-{cut}-{name}"));
            fs::write(&tampered, &bytes[..cut]).unwrap();
            scenario
                .isolated
                .run(&["import", tampered.to_str().unwrap()])
                .fails_with(3, "");
            assert_eq!(scenario.isolated.snapshot(), scenario.before);
        }
        let half = scenario
            .connected
            .work
            .path()
            .join(format!("cut-{}-{name}", bytes.len() / 2));
        let run = scenario.isolated.run(&["import", half.to_str().unwrap()]);
        assert!(
            run.stderr.contains("truncated") || run.stderr.contains("damaged"),
            "unclear message for a truncated {name}: {}",
            run.stderr
        );
    }
    scenario.genuine_still_imports(&scenario.connected.work.path().join("second.tar.zst"));
}

/// A raw tar entry, written by hand so that the test can produce what a
/// well-behaved tar writer refuses to (traversal, links, devices, PAX).
struct Raw<'a> {
    name: &'a str,
    typeflag: u8,
    data: &'a [u8],
}

fn raw_tar(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let mut header = [0u8; 512];
        header[..entry.name.len()].copy_from_slice(entry.name.as_bytes());
        header[100..108].copy_from_slice(b"0000644\0");
        header[108..116].copy_from_slice(b"0000000\0");
        header[116..124].copy_from_slice(b"0000000\0");
        header[124..136].copy_from_slice(format!("{:011o}\0", entry.data.len()).as_bytes());
        header[136..148].copy_from_slice(b"00000000000\0");
        header[156] = entry.typeflag;
        if entry.typeflag == b'1' || entry.typeflag == b'2' {
            header[157..167].copy_from_slice(b"etc/passwd");
        }
        header[257..265].copy_from_slice(b"ustar\x0000");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
        header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(entry.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// The entries of a directory bundle, in bundle order, as (name, bytes).
fn bundle_entries(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names = vec!["airlift-bundle.json".to_string()];
    let mut metadata: Vec<String> = fs::read_dir(dir.join("metadata"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    metadata.sort_by_key(|n| (!n.ends_with(".root.json"), n.clone()));
    names.extend(metadata.into_iter().map(|n| format!("metadata/{n}")));
    for sub in ["targets/index", "targets/blobs/sha256"] {
        let mut files: Vec<String> = fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| format!("{sub}/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        files.sort();
        names.extend(files);
    }
    names
        .into_iter()
        .map(|n| (n.clone(), fs::read(dir.join(&n)).unwrap()))
        .collect()
}

#[test]
fn archive_tricks_are_refused() {
    let scenario = Scenario::new();
    let genuine = scenario.newer("second", &[]);
    let entries = bundle_entries(&genuine);
    let metadata_end = entries
        .iter()
        .position(|(n, _)| n.starts_with("targets/"))
        .unwrap();
    let build = |label: &str, insert_at: usize, extra: Raw<'_>| -> PathBuf {
        let mut raws: Vec<Raw<'_>> = entries
            .iter()
            .map(|(name, data)| Raw {
                name,
                typeflag: b'0',
                data,
            })
            .collect();
        raws.insert(insert_at, extra);
        let path = scenario.connected.work.path().join(format!("{label}.tar"));
        fs::write(&path, raw_tar(&raws)).unwrap();
        path
    };
    let cases: Vec<(&str, usize, Raw<'_>, &str)> = vec![
        (
            "dotdot",
            1,
            Raw {
                name: "../../etc/cron.d/evil",
                typeflag: b'0',
                data: b"x",
            },
            "'..' path component",
        ),
        (
            "dotdot-late",
            metadata_end + 1,
            Raw {
                name: "targets/../../evil",
                typeflag: b'0',
                data: b"x",
            },
            "'..' path component",
        ),
        (
            "absolute",
            1,
            Raw {
                name: "/etc/passwd",
                typeflag: b'0',
                data: b"x",
            },
            "absolute path",
        ),
        (
            "symlink",
            1,
            Raw {
                name: "targets/index",
                typeflag: b'2',
                data: b"",
            },
            "symbolic link",
        ),
        (
            "hardlink",
            metadata_end,
            Raw {
                name: "targets/index/files.json",
                typeflag: b'1',
                data: b"",
            },
            "hard link",
        ),
        (
            "chardev",
            1,
            Raw {
                name: "metadata/dev",
                typeflag: b'3',
                data: b"",
            },
            "device",
        ),
        (
            "directory",
            1,
            Raw {
                name: "metadata",
                typeflag: b'5',
                data: b"",
            },
            "directory",
        ),
        (
            "pax",
            1,
            Raw {
                name: "PaxHeaders/x",
                typeflag: b'x',
                data: b"30 path=targets/index/x.json\n",
            },
            "PAX extended header",
        ),
        (
            "duplicate",
            metadata_end + 1,
            Raw {
                name: &entries[metadata_end].0,
                typeflag: b'0',
                data: &entries[metadata_end].1,
            },
            "appears twice",
        ),
        (
            "unlisted",
            metadata_end,
            Raw {
                name: "targets/blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000",
                typeflag: b'0',
                data: b"smuggled",
            },
            "is not listed in the signed targets metadata",
        ),
        (
            "metadata-late",
            entries.len(),
            Raw {
                name: "metadata/2.root.json",
                typeflag: b'0',
                data: b"{}",
            },
            "metadata must come first",
        ),
    ];
    for (label, at, raw, needle) in cases {
        let path = build(label, at, raw);
        scenario.refused(&path, 3, needle);
    }
    // A directory bundle with a symbolic link in it.
    let linked = scenario.connected.work.path().join("linked");
    copy_dir(&genuine, &linked);
    let blob = biggest_blob(&linked);
    fs::remove_file(&blob).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &blob).unwrap();
    scenario.refused(&linked, 3, "links are refused");
    // And the untouched entries, written by the same raw writer, import fine.
    let clean: Vec<Raw<'_>> = entries
        .iter()
        .map(|(name, data)| Raw {
            name,
            typeflag: b'0',
            data,
        })
        .collect();
    let clean_path = scenario.connected.work.path().join("clean.tar");
    fs::write(&clean_path, raw_tar(&clean)).unwrap();
    scenario.genuine_still_imports(&clean_path);
}

#[test]
fn data_after_the_end_of_the_archive_is_refused() {
    let scenario = Scenario::new();
    let genuine = scenario.newer("second.tar", &[]);
    let bytes = fs::read(&genuine).unwrap();
    let appended = scenario.connected.work.path().join("appended.tar");
    let mut tampered = bytes.clone();
    tampered.extend_from_slice(b"smuggled after the end marker");
    fs::write(&appended, tampered).unwrap();
    scenario.refused(&appended, 3, "data after the end of the archive");
    // The last part of a split bundle is read to its end too.
    let split = scenario.connected.work.path().join("split/second.tar");
    fs::create_dir_all(split.parent().unwrap()).unwrap();
    scenario
        .connected
        .home
        .run_env(
            &[
                "pack",
                "--out",
                split.to_str().unwrap(),
                "--max-part-size",
                "64K",
            ],
            &[("SOURCE_DATE_EPOCH", &epoch_plus(60))],
        )
        .ok();
    let toc: serde_json::Value =
        serde_json::from_slice(&fs::read(split.with_file_name("second.tar.toc.json")).unwrap())
            .unwrap();
    let last = toc["parts"].as_array().unwrap().last().unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let last = split.with_file_name(last);
    let mut bytes = fs::read(&last).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0xff;
    fs::write(&last, bytes).unwrap();
    // The flipped byte is in the archive's zero padding, which only a reader
    // that goes to the very end of the last part sees.
    scenario.refused(
        &split.with_file_name("second.tar.toc.json"),
        3,
        "data after the end of the archive",
    );
    scenario.genuine_still_imports(&genuine);
}

/// Runs `airlift args…` on the isolated side and returns its result with its
/// peak resident memory in KiB (VmHWM, polled while it runs).
fn run_measured(home: &Home, args: &[&str]) -> (common::Run, u64) {
    use std::io::Read as _;
    let mut child = home
        .command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = fs::read_to_string(&status_path)
            && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .ok();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .ok();
    (
        common::Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
        },
        peak,
    )
}

/// A small bundle whose targets.json is a huge unsigned JSON document and
/// whose timestamp does not verify: the refusal blames the timestamp and
/// never parses the unverified targets (it took gigabytes before).
#[test]
fn a_huge_unverified_targets_file_is_never_parsed() {
    let scenario = Scenario::new();
    let genuine = scenario.newer("second", &[]);
    let tampered = scenario.connected.work.path().join("huge-targets");
    copy_dir(&genuine, &tampered);
    // Break the timestamp's signature (its last hex digit before the
    // closing quotes of the signatures array).
    let timestamp = tampered.join("metadata/timestamp.json");
    let text = fs::read_to_string(&timestamp).unwrap();
    let at = text.rfind("\"sig\"").unwrap() + "\"sig\":\"".len() + 1;
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    fs::write(&timestamp, bytes).unwrap();
    // 96 MiB of `[0,0,0,…]`: a parser that builds a JSON value of it takes
    // well over a gigabyte.
    let mut huge = Vec::with_capacity(96 << 20);
    huge.extend_from_slice(b"{\"signed\":[0");
    while huge.len() < (96 << 20) - 2 {
        huge.extend_from_slice(b",0");
    }
    huge.extend_from_slice(b"]}");
    fs::write(tampered.join("metadata/targets.json"), &huge).unwrap();
    drop(huge);
    for command in ["verify", "plan", "import"] {
        let (run, peak_kib) =
            run_measured(&scenario.isolated, &[command, tampered.to_str().unwrap()]);
        let run = run.fails_with(3, "timestamp");
        assert!(
            !run.stderr.contains("targets:"),
            "{command} blamed the targets: {}",
            run.stderr
        );
        assert!(
            peak_kib < 200 * 1024,
            "{command} peaked at {} MiB",
            peak_kib / 1024
        );
    }
    assert_eq!(scenario.isolated.snapshot(), scenario.before);
    scenario.genuine_still_imports(&genuine);
}

/// The table of contents of a split bundle is not signed: it is read only
/// up to a bound, and its own `total_size` must add up.
#[test]
fn a_lying_or_huge_table_of_contents_is_refused() {
    let scenario = Scenario::new();
    let genuine = scenario.newer("second.tar.zst", &["--max-part-size", "40K"]);
    let toc = genuine.with_file_name("second.tar.zst.toc.json");
    let original = fs::read_to_string(&toc).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&original).unwrap();
    value["total_size"] = serde_json::json!(value["total_size"].as_u64().unwrap() + 1);
    fs::write(&toc, value.to_string()).unwrap();
    scenario.refused(&toc, 2, "but its parts add up to");
    // 17 MiB of whitespace before the document: over the bound, never parsed.
    let mut huge = vec![b' '; 17 << 20];
    huge.extend_from_slice(original.as_bytes());
    fs::write(&toc, huge).unwrap();
    scenario.refused(&toc, 2, "table of contents is over the");
    fs::write(&toc, &original).unwrap();
    scenario.genuine_still_imports(&toc);
}
