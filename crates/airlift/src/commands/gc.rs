//! `airlift gc`: garbage collection of the home (ADR 0023).
//!
//! Old generations leave the index, blobs that no kept generation
//! references leave the store once the grace period has passed since they
//! were stored, and OCI upload sessions older than the upload expiry go,
//! as `serve` sweeps them. The work is `airlift_store::gc`; this command
//! holds the home's writer lock while it runs, because an import (or a
//! collect) checks which
//! blobs the store already has and commits entries for them much later (a
//! blob it found but did not store again has no fresh time for the grace
//! period to protect). A real collection is recorded in the audit log; a
//! dry run changes nothing and records nothing.

use std::time::Duration;

use airlift_store::gc::{self, Retention};

use super::*;

/// Bytes as a short human figure (powers of 1024).
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub(crate) fn gc(context: &Context, args: GcArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let _lock = home_lock(&context.layout, "garbage collection")?;
    let retention = Retention {
        keep_generations: args.keep as usize,
        grace: args.grace,
    };
    let rules = match context.access_file() {
        file if file.exists() => context.access_rules(&file)?.retention().to_vec(),
        _ => Vec::new(),
    };
    let expired = apply_retention(&store, &rules, args.dry_run)?;
    if !args.dry_run && !expired.keys.is_empty() {
        context.audit(
            "retention",
            &serde_json::json!({
                "tags": expired.tags,
                "manifests": expired.manifests,
                "blob_links": expired.blob_links,
            }),
        )?;
    }
    let report = if args.dry_run {
        gc::plan(&store, &retention)?
    } else {
        gc::run(&store, &retention)?
    };
    // Upload sessions have no dry run: a dry run leaves them and says so.
    let uploads_dir = context.layout.uploads_dir();
    let uploads = if args.dry_run {
        None
    } else {
        Some(
            airlift_oci::serve::sweep_uploads(&uploads_dir, args.upload_expiry).map_err(|e| {
                Failure::new(
                    Exit::Failed,
                    format!("sweeping upload sessions in {}: {e}", uploads_dir.display()),
                )
            })?,
        )
    };
    let mut shown = serde_json::to_value(&report)
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot encode JSON: {e}")))?;
    shown["grace_seconds"] = serde_json::json!(args.grace.as_secs_f64());
    shown["retention"] = serde_json::json!({
        "tags": expired.tags,
        "manifests": expired.manifests,
        "blob_links": expired.blob_links,
    });
    shown["keep"] = serde_json::json!(args.keep);
    shown["upload_sessions_removed"] = serde_json::json!(uploads.as_ref().map(|u| u.sessions));
    shown["upload_bytes_reclaimed"] = serde_json::json!(uploads.as_ref().map(|u| u.bytes));
    if !args.dry_run {
        context.audit(
            "gc",
            &serde_json::json!({
                "keep": args.keep,
                "grace_seconds": args.grace.as_secs_f64(),
                "oldest_kept": report.oldest_kept,
                "generations_pruned": report.generations_pruned,
                "rows_pruned": report.rows_pruned,
                "blobs_removed": report.blobs_removed,
                "bytes_reclaimed": report.bytes_reclaimed,
                "blobs_kept": report.blobs_kept,
                "staged_removed": report.staged_removed,
                "upload_sessions_removed": uploads.as_ref().map(|u| u.sessions),
                "upload_bytes_reclaimed": uploads.as_ref().map(|u| u.bytes),
            }),
        )?;
    }
    context.emit(&shown, || {
        let verb = if args.dry_run { "would remove" } else { "removed" };
        let mut text = String::new();
        if !expired.keys.is_empty() {
            text.push_str(&format!(
                "retention rules {verb} {} tags, {} manifests and {} blob links (their blobs go once no kept generation holds them)\n",
                expired.tags, expired.manifests, expired.blob_links
            ));
        }
        text += &format!(
            "{verb} {} blobs ({}, {} bytes) and {} old generations ({} index rows); kept {} generations and {} blobs ({} only for the {} grace period)",
            report.blobs_removed,
            human_bytes(report.bytes_reclaimed),
            report.bytes_reclaimed,
            report.generations_pruned,
            report.rows_pruned,
            report.generations_kept,
            report.blobs_kept,
            report.blobs_in_grace,
            grace_text(args.grace),
        );
        if report.staged_removed > 0 {
            text.push_str(&format!(
                "\n{verb} {} abandoned staged writes ({})",
                report.staged_removed,
                human_bytes(report.staged_bytes)
            ));
        }
        match &uploads {
            Some(swept) if swept.sessions > 0 => text.push_str(&format!(
                "\nremoved {} expired upload sessions ({})",
                swept.sessions,
                human_bytes(swept.bytes)
            )),
            Some(_) => {}
            None => text.push_str("\nupload sessions are not looked at in a dry run"),
        }
        text.push_str(&format!(
            "\n{:.0} blobs/s, {:.2} s",
            report.blobs_per_second, report.seconds
        ));
        text
    })
}

/// Applies the site's `[[retention]]` rules to the current generation's
/// image repositories: one index change (`retention`) removing the tags,
/// manifests and blob links they expire, unless `dry_run`. Returns what
/// they remove.
pub(crate) fn apply_retention(
    store: &airlift_store::Store,
    rules: &[airlift_access::Retention],
    dry_run: bool,
) -> Result<airlift_oci::retention::Removals, Failure> {
    let mut all = airlift_oci::retention::Removals::default();
    let Some(current) = store.meta.current()? else {
        return Ok(all);
    };
    if rules.is_empty() {
        return Ok(all);
    }
    let entries = store
        .meta
        .entries(current.id, Some(airlift_oci::ECOSYSTEM))?;
    let now = jiff::Timestamp::now().as_second();
    let mut seen = std::collections::BTreeSet::new();
    for rule in rules {
        let applies = |name: &str| rule.names.iter().any(|p| p.matches(name));
        let removals = airlift_oci::retention::plan(
            store,
            &entries,
            &applies,
            airlift_oci::retention::Rule {
                keep_tags: rule.keep_tags,
                untagged_days: rule.untagged_days,
            },
            now,
        )?;
        for key in removals.keys {
            if seen.insert(key.clone()) {
                match key.get(..2) {
                    Some("t:") => all.tags += 1,
                    Some("m:") => all.manifests += 1,
                    _ => all.blob_links += 1,
                }
                all.keys.push(key);
            }
        }
    }
    if !dry_run && !all.keys.is_empty() {
        store.meta.apply(airlift_store::Change {
            source: "retention".to_owned(),
            created_at: jiff::Timestamp::now().as_second(),
            upserts: Vec::new(),
            removals: all
                .keys
                .iter()
                .map(|k| (airlift_oci::ECOSYSTEM.to_owned(), k.clone()))
                .collect(),
            state: Vec::new(),
        })?;
    }
    Ok(all)
}

/// A grace period as the user would write it.
fn grace_text(grace: Duration) -> String {
    let millis = grace.as_millis();
    match millis {
        0 => "0s".to_owned(),
        m if m % 86_400_000 == 0 => format!("{}d", m / 86_400_000),
        m if m % 3_600_000 == 0 => format!("{}h", m / 3_600_000),
        m if m % 60_000 == 0 => format!("{}m", m / 60_000),
        m if m % 1000 == 0 => format!("{}s", m / 1000),
        m => format!("{m}ms"),
    }
}
