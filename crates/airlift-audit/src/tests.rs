//! Tests of the log as a whole: appends, recovery, verify and its witness,
//! and signed statements.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::sync::Arc;

use base64::Engine;
use serde_json::Value;

use super::*;

fn log_with(n: usize) -> (tempfile::TempDir, Log) {
    let home = tempfile::tempdir().expect("tempdir");
    let log = Log::new(home.path());
    for i in 0..n {
        log.append("test", serde_json::json!({"i": i}))
            .expect("append");
    }
    (home, log)
}

fn rewrite(log: &Log, change: impl FnOnce(&mut Vec<String>)) {
    let path = log.path("log.jsonl");
    let mut lines: Vec<String> = fs::read_to_string(&path)
        .expect("read")
        .lines()
        .map(str::to_owned)
        .collect();
    change(&mut lines);
    fs::write(
        &path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .expect("write");
}

#[test]
fn an_intact_log_verifies_and_extends_its_earlier_checkpoints() {
    let (_home, log) = log_with(3);
    let earlier = log.checkpoint().expect("read").expect("exists");
    log.append("more", serde_json::json!({})).expect("append");
    let verified = log.verify(&[earlier]).expect("verifies");
    assert_eq!(verified.entries, 4);
    assert_eq!(verified.earlier_checkpoints, 1);
    assert!(
        log.verifier_key()
            .expect("read")
            .expect("exists")
            .starts_with("audit.airlift.invalid/")
    );
}

#[test]
fn tampering_is_detected() {
    type Tamper = Box<dyn FnOnce(&mut Vec<String>)>;
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "edited",
            Box::new(|l: &mut Vec<String>| l[1] = l[1].replace("\"i\":1", "\"i\":7")),
            "an entry was edited",
        ),
        (
            "deleted",
            Box::new(|l: &mut Vec<String>| {
                l.remove(1);
            }),
            "deleted, inserted or reordered",
        ),
        (
            "reordered",
            Box::new(|l: &mut Vec<String>| l.swap(0, 2)),
            "deleted, inserted or reordered",
        ),
        (
            "truncated",
            Box::new(|l: &mut Vec<String>| {
                l.pop();
            }),
            "truncated",
        ),
    ];
    for (name, change, expected) in cases {
        let (_home, log) = log_with(3);
        rewrite(&log, change);
        let error = log.verify(&[]).expect_err(name).to_string();
        assert!(error.contains(expected), "{name}: {error}");
    }
}

#[test]
fn appending_never_signs_over_tampering() {
    let (_home, log) = log_with(3);
    rewrite(&log, |l| {
        l.pop();
    });
    let error = log
        .append("after", serde_json::json!({}))
        .expect_err("appended")
        .to_string();
    assert!(error.contains("refusing to append"), "{error}");
}

#[test]
fn a_crash_before_signing_is_recovered_visibly() {
    let (_home, log) = log_with(2);
    let checkpoint = log.checkpoint().expect("read").expect("exists");
    log.append("interrupted", serde_json::json!({}))
        .expect("append");
    // As if the process died after writing the entry, before the checkpoint.
    fs::write(log.path("checkpoint"), &checkpoint).expect("restore");
    let error = log.verify(&[]).expect_err("an unsigned tail is reported");
    assert!(
        matches!(error, AuditError::Interrupted { .. }),
        "reported as {error}"
    );
    log.append("next", serde_json::json!({})).expect("recovers");
    let events: Vec<String> = log
        .events()
        .expect("events")
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        events,
        ["test", "test", "interrupted", "audit-recovered", "next"]
    );
    log.verify(&[checkpoint]).expect("verifies");
}

#[test]
fn signed_statements_open_and_tampering_fails() {
    let (_home, log) = log_with(0);
    let envelope = log
        .sign(&serde_json::json!({"blobs": ["ab"]}))
        .expect("sign");
    assert_eq!(open_signed(&envelope).expect("opens")["blobs"][0], "ab");
    let text = String::from_utf8(envelope).expect("utf8");
    let payload = base64::engine::general_purpose::STANDARD.encode(br#"{"blobs":["cd"]}"#);
    let value: Value = serde_json::from_str(&text).expect("json");
    let forged = text.replace(value["payload"].as_str().expect("payload"), &payload);
    assert!(open_signed(forged.as_bytes()).is_err());
}

#[test]
fn forged_and_rewritten_histories_are_detected() {
    let (_home, log) = log_with(3);
    // A checkpoint signed by another key.
    let (_other_home, other) = log_with(3);
    let foreign = other.checkpoint().expect("read").expect("exists");
    fs::write(log.path("checkpoint"), &foreign).expect("write");
    let error = log.verify(&[]).expect_err("foreign").to_string();
    assert!(error.contains("no valid signature"), "{error}");
    // A log rewritten and re-signed with its own key, against a checkpoint exported earlier.
    let (_home, log) = log_with(3);
    let earlier = log.checkpoint().expect("read").expect("exists");
    fs::remove_file(log.path("log.jsonl")).expect("remove");
    fs::remove_file(log.path("checkpoint")).expect("remove");
    for i in 0..4 {
        log.append("forged", serde_json::json!({"i": i}))
            .expect("append");
    }
    let error = log.verify(&[earlier]).expect_err("rewritten").to_string();
    assert!(error.contains("is not a prefix of this log"), "{error}");
}

/// A witness in memory, as the index keeps it.
#[derive(Default)]
struct MemoryWitness(std::sync::Mutex<Option<Head>>);

impl Witness for MemoryWitness {
    fn recorded(&self) -> Result<Option<Head>, String> {
        Ok(*self.0.lock().map_err(|e| e.to_string())?)
    }
    fn record(&self, head: Head) -> Result<(), String> {
        *self.0.lock().map_err(|e| e.to_string())? = Some(head);
        Ok(())
    }
}

fn witnessed_log_with(n: usize) -> (tempfile::TempDir, Log, Arc<MemoryWitness>) {
    let home = tempfile::tempdir().expect("tempdir");
    let witness = Arc::new(MemoryWitness::default());
    let log = Log::with_witness(home.path(), witness.clone());
    for i in 0..n {
        log.append("test", serde_json::json!({"i": i}))
            .expect("append");
    }
    (home, log, witness)
}

#[test]
fn appends_extend_the_frontier_without_reading_the_log() {
    let (_home, log, witness) = witnessed_log_with(0);
    for i in 0..1000 {
        log.append("test", serde_json::json!({"i": i}))
            .expect("append");
    }
    assert_eq!(
        log.scans.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "an append read the whole log"
    );
    let leaves: Vec<[u8; 32]> = fs::read_to_string(log.path("log.jsonl"))
        .expect("read")
        .lines()
        .map(|l| leaf_hash(l.as_bytes()))
        .collect();
    let head = log.head().expect("frontier");
    assert_eq!(head.size, 1000);
    assert_eq!(head.root, tree_hash(&leaves), "the frontier drifted");
    assert_eq!(witness.recorded().expect("read"), Some(head));
    log.verify(&[]).expect("verifies");
    // A missing or stale frontier costs one full read, then none.
    fs::remove_file(log.path("frontier.json")).expect("remove");
    log.append("after", serde_json::json!({})).expect("append");
    fs::write(log.path("frontier.json"), b"{}").expect("spoil");
    log.append("after", serde_json::json!({})).expect("append");
    log.append("after", serde_json::json!({})).expect("append");
    assert_eq!(log.scans.load(std::sync::atomic::Ordering::SeqCst), 3);
    log.verify(&[]).expect("verifies");
}

#[test]
fn the_fast_path_still_refuses_a_changed_last_line() {
    let (_home, log) = log_with(3);
    rewrite(&log, |l| l[2] = l[2].replace("\"i\":2", "\"i\":9"));
    let error = log
        .append("after", serde_json::json!({}))
        .expect_err("appended")
        .to_string();
    assert!(error.contains("refusing to append"), "{error}");
}

#[test]
fn a_reset_or_shortened_log_is_reported_against_its_witness() {
    // Deleted: a fresh log would verify, and appends would start it again.
    let (_home, log, _witness) = witnessed_log_with(3);
    fs::remove_dir_all(&log.dir).expect("remove");
    let error = log.verify(&[]).expect_err("reset").to_string();
    assert!(
        error.contains("the log was reset: the index records 3 entries, the log has 0"),
        "{error}"
    );
    let error = log
        .append("after", serde_json::json!({}))
        .expect_err("appended over a reset")
        .to_string();
    assert!(error.contains("the log was reset"), "{error}");
    assert!(error.contains("refusing to append"), "{error}");
    // Shortened, with the checkpoint signed again over the shorter log.
    let (_home, log, witness) = witnessed_log_with(4);
    let recorded = witness.recorded().expect("read");
    fs::remove_dir_all(&log.dir).expect("remove");
    let plain = Log::new(log.dir.parent().expect("home"));
    for i in 0..2 {
        plain
            .append("test", serde_json::json!({"i": i}))
            .expect("append");
    }
    *witness.0.lock().expect("lock") = recorded;
    let error = log.verify(&[]).expect_err("shorter").to_string();
    assert!(
        error.contains(
            "the log is shorter than the index records: the index records 4 entries, the log has 2"
        ),
        "{error}"
    );
    // Rewritten to as many entries or more: the recorded root differs.
    for i in 2..5 {
        plain
            .append("test", serde_json::json!({"i": i}))
            .expect("append");
    }
    let error = log.verify(&[]).expect_err("rewritten").to_string();
    assert!(
        error.contains("do not hash to the root the index records"),
        "{error}"
    );
    let error = log
        .append("after", serde_json::json!({}))
        .expect_err("appended over a rewrite")
        .to_string();
    assert!(
        error.contains("do not hash to the root the index records"),
        "{error}"
    );
}

#[test]
fn a_witness_that_lags_catches_up_on_the_next_append() {
    let (_home, log, witness) = witnessed_log_with(3);
    let lagging = witness.recorded().expect("read");
    log.append("more", serde_json::json!({})).expect("append");
    // As if the process died after signing, before the index recorded it.
    *witness.0.lock().expect("lock") = lagging;
    assert_eq!(log.verify(&[]).expect("verifies").recorded_entries, Some(3));
    log.append("more", serde_json::json!({})).expect("append");
    assert_eq!(log.verify(&[]).expect("verifies").recorded_entries, Some(5));
}

#[test]
fn a_failed_checkpoint_write_takes_the_line_back() {
    let (_home, log, witness) = witnessed_log_with(3);
    let before = fs::read(log.path("log.jsonl")).expect("read");
    log.fail_checkpoint_write
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let error = log
        .append("lost", serde_json::json!({}))
        .expect_err("appended")
        .to_string();
    assert!(error.contains("os error 28"), "{error}");
    log.fail_checkpoint_write
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(fs::read(log.path("log.jsonl")).expect("read"), before);
    assert_eq!(log.verify(&[]).expect("verifies").entries, 3);
    assert_eq!(witness.recorded().expect("read").map(|h| h.size), Some(3));
    log.append("next", serde_json::json!({})).expect("append");
    assert_eq!(log.verify(&[]).expect("verifies").entries, 4);
}

#[test]
fn an_incomplete_last_line_is_an_interrupted_append_and_is_repaired() {
    let (_home, log, _witness) = witnessed_log_with(3);
    let mut file = OpenOptions::new()
        .append(true)
        .open(log.path("log.jsonl"))
        .expect("open");
    file.write_all(br#"{"index":3,"time":"2026-"#)
        .expect("write");
    drop(file);
    let error = log.verify(&[]).expect_err("partial line");
    assert!(
        matches!(error, AuditError::Interrupted { .. }),
        "reported as {error}"
    );
    assert!(
        error.to_string().contains("the last line is incomplete"),
        "{error}"
    );
    assert_eq!(log.events().expect("events").len(), 3);
    log.append("next", serde_json::json!({})).expect("repairs");
    let events = log.events().expect("events");
    assert_eq!(events[3].event, "audit-recovered");
    assert_eq!(events[3].detail["discarded_bytes"], 24);
    assert_eq!(events[4].event, "next");
    assert_eq!(log.verify(&[]).expect("verifies").entries, 5);
}
