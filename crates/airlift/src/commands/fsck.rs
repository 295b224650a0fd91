//! `airlift fsck`.

use super::*;

pub(crate) fn fsck(context: &Context, args: FsckArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let report = airlift_store::fsck(&store)?;
    if args.repair {
        for digest in &report.corrupt_blobs {
            store.blobs.remove(digest)?;
        }
    }
    context.emit(&report, || {
        let mut text = format!(
            "checked {} blobs ({} bytes) and {} index entries: {}",
            report.blobs_checked,
            report.bytes_checked,
            report.entries_checked,
            if report.is_clean() {
                "clean"
            } else {
                "PROBLEMS FOUND"
            }
        );
        for digest in &report.corrupt_blobs {
            let action = if args.repair { " (removed)" } else { "" };
            text.push_str(&format!("\n  corrupt blob {digest}{action}"));
        }
        for entry in &report.broken_entries {
            text.push_str(&format!("\n  broken entry {entry}"));
        }
        if report.unreferenced_blobs > 0 {
            text.push_str(&format!(
                "\n  {} unreferenced blobs (harmless)",
                report.unreferenced_blobs
            ));
        }
        text
    })?;
    if report.is_clean() {
        return Ok(());
    }
    let failure = Failure::new(Exit::Damaged, "the store is damaged");
    let failure = if args.repair {
        failure.hint("the corrupt blobs were removed")
    } else {
        failure.hint("run `airlift fsck --repair` to remove the corrupt blobs first")
    };
    // A site that imports bundles gets the blobs back in a bundle packed
    // against its receipt: that works after deltas too, where importing the
    // last bundle again would not bring blobs that an earlier one carried
    // (and the earlier one is refused as a rollback).
    let imported = store
        .meta
        .state(airlift_store::state_keys::LAST_BUNDLE_ID)?
        .is_some();
    Err(if imported {
        let site = context.layout.site_id().ok().flatten();
        let destination = site
            .map(|s| format!(" --destination {s}"))
            .unwrap_or_default();
        failure
            .hint("here: `airlift receipt export --out receipt.json`, and carry receipt.json to the connected side")
            .hint(format!(
                "there: `airlift pack --receipt receipt.json{destination} --out repair.tar.zst`: a bundle with every blob this site lacks"
            ))
            .hint("here again: `airlift import repair.tar.zst`, then `airlift fsck`")
    } else {
        failure.hint("collect again: the blobs are downloaded again from their upstreams")
    })
}
