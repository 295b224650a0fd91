//! The audit log against the index's record of its head: a deleted or
//! shortened log is reported as tampering, an interrupted append is not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;

use common::Home;

/// A home with `n` recorded events (`keys new`, each a `keys-new` event).
fn home_with_events(n: usize) -> (Home, tempfile::TempDir) {
    let home = Home::new();
    let keys = tempfile::tempdir().unwrap();
    for i in 0..n {
        home.run(&[
            "keys",
            "new",
            &format!("k{i}"),
            "--dir",
            keys.path().to_str().unwrap(),
        ])
        .ok();
    }
    let verified = home.run(&["--json", "audit", "verify"]).ok().json();
    assert_eq!(verified["entries"], n as u64);
    assert_eq!(verified["recorded_entries"], n as u64);
    (home, keys)
}

#[test]
fn a_deleted_audit_log_is_reported_as_reset() {
    let (home, keys) = home_with_events(3);
    std::fs::remove_dir_all(home.path().join("audit")).unwrap();
    home.run(&["audit", "verify"]).fails_with(
        3,
        "the log was reset: the index records 3 entries, the log has 0",
    );
    // And nothing starts a fresh log over it.
    home.run(&[
        "keys",
        "new",
        "later",
        "--dir",
        keys.path().to_str().unwrap(),
    ])
    .fails_with(1, "the log was reset");
    home.run(&["audit", "verify"]).fails_with(
        3,
        "the log was reset: the index records 3 entries, the log has 0",
    );
}

#[test]
fn a_shortened_audit_log_is_reported() {
    let (home, _keys) = home_with_events(4);
    let log = home.path().join("audit/log.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let kept: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&log, kept).unwrap();
    home.run(&["audit", "verify"]).fails_with(
        3,
        "the log is shorter than the index records: the index records 4 entries, the log has 2",
    );
}

#[test]
fn an_interrupted_append_is_not_tampering_and_the_next_event_repairs_it() {
    let (home, keys) = home_with_events(2);
    // What a full disk leaves: the start of a line, without its newline.
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(home.path().join("audit/log.jsonl"))
        .unwrap();
    log.write_all(br#"{"index":2,"time":"2026-12-06T"#).unwrap();
    drop(log);
    let run = home
        .run(&["audit", "verify"])
        .fails_with(1, "interrupted append: the last line is incomplete");
    assert!(run.stderr.contains("not tampering"), "{}", run.stderr);
    home.run(&[
        "keys",
        "new",
        "next",
        "--dir",
        keys.path().to_str().unwrap(),
    ])
    .ok();
    let verified = home.run(&["--json", "audit", "verify"]).ok().json();
    assert_eq!(verified["entries"], 4);
    let export = home.run(&["--json", "audit", "export"]).ok().json();
    assert_eq!(export["entries"][2]["event"], "audit-recovered");
    assert_eq!(export["entries"][3]["event"], "keys-new");
}

/// After a real loss of `audit/`, every recording command refused to start
/// a new log over the index's record, with no way back. `audit reset
/// --acknowledge` is that way: refused while the log is intact, it keeps the
/// old log aside, and the reset is the new log's first, signed event.
#[test]
fn a_lost_log_is_reset_only_on_purpose_and_the_reset_is_recorded() {
    let (home, keys) = home_with_events(3);
    home.run(&["audit", "reset", "--acknowledge", "no reason"])
        .fails_with(2, "the audit log is intact (3 entries");
    std::fs::remove_dir_all(home.path().join("audit")).unwrap();
    let new_key =
        |name: &str| home.run(&["keys", "new", name, "--dir", keys.path().to_str().unwrap()]);
    new_key("refused").fails_with(1, "audit log was not written");
    let reset = home
        .run(&[
            "--json",
            "audit",
            "reset",
            "--acknowledge",
            "disk replaced, ticket 42",
        ])
        .ok()
        .json();
    assert_eq!(reset["previous_entries"], 3);
    let verified = home.run(&["--json", "audit", "verify"]).ok().json();
    assert_eq!(verified["entries"], 1);
    let log = std::fs::read_to_string(home.path().join("audit/log.jsonl")).unwrap();
    assert!(
        log.contains("audit-reset") && log.contains("disk replaced, ticket 42"),
        "{log}"
    );
    new_key("after").ok();
    home.run(&["audit", "verify"]).ok();
}
