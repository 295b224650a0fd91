//! `airlift import`.

use super::*;

/// Why an import was refused, as `airlift_import_refusals_total` labels it
/// (one of [`airlift_server::operations::REFUSAL_REASONS`]); `None` when
/// the failure is not the bundle's (a busy home, a disk error, no trusted
/// root, bad options), which is not a refusal.
pub(crate) fn refusal_reason(error: &airlift_bundle::BundleError) -> Option<&'static str> {
    use airlift_bundle::BundleError as E;
    use airlift_trust::TrustError as T;
    Some(match error {
        E::Trust(T::Verification { .. }) => "signature",
        E::Trust(T::Expired { .. }) | E::ExpiredBeforeFloor { .. } => "expired",
        E::Trust(T::Older { .. })
        | E::Rollback { .. }
        | E::SequenceReplay { .. }
        | E::SequenceGap { .. }
        | E::Fork { .. } => "rollback",
        E::TargetMismatch { .. }
        | E::MissingTarget { .. }
        | E::BadIndex { .. }
        | E::BadEntry { .. }
        | E::Damaged { .. }
        | E::Part { .. }
        | E::NotABundle { .. } => "tampered",
        E::Custody(_) | E::WrongDestination { .. } => "custody",
        E::NeedsApproval { .. } => "approval",
        E::Admission { .. } => "admission",
        E::TooManyRemovals { .. } | E::HostedConflict { .. } => "policy",
        E::Io { .. }
        | E::Busy { .. }
        | E::NoTrust { .. }
        | E::Options(_)
        | E::Store(_)
        | E::StoreDamaged { .. }
        | E::MissingKeys(_)
        | E::NothingToPack => return None,
        E::Trust(_) => "other",
    })
}

/// Records in the index (for `airlift serve`'s `/metrics`) what `change`
/// records. A failure to record is logged, never the command's failure:
/// the operation itself already happened, or was refused.
pub(crate) fn record_operation(
    context: &Context,
    what: &str,
    change: impl FnOnce(&dyn airlift_store::MetaStore) -> Result<(), airlift_store::StoreError>,
) {
    let recorded = context
        .store()
        .map_err(|f| f.message)
        .and_then(|store| change(store.meta.as_ref()).map_err(|e| e.to_string()));
    if let Err(e) = recorded {
        tracing::warn!("{what} was not recorded for the metrics: {e}");
    }
}

/// Runs `operation` (`collect`, `pack`, `import`) and, when it succeeds,
/// records its duration for the metrics.
pub(crate) fn timed(
    context: &Context,
    operation: &str,
    run: impl FnOnce() -> Result<(), Failure>,
) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    run()?;
    let seconds = started.elapsed().as_secs_f64();
    record_operation(context, &format!("the {operation}'s duration"), |meta| {
        airlift_server::operations::record_run(
            meta,
            operation,
            seconds,
            jiff::Timestamp::now().as_second(),
        )
    });
    Ok(())
}

pub(crate) fn import(context: &Context, args: ImportArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let started = std::time::Instant::now();
    let outcome = match airlift_bundle::import(
        &args.bundle,
        &store,
        &import_options(context, None, args.removals.policy())?,
        &context.bar(),
    ) {
        Ok(outcome) => outcome,
        Err(e) => {
            // The refusal's count is the only write a refused import
            // makes, outside every generation.
            if let Some(reason) = refusal_reason(&e) {
                record_operation(context, "the refusal", |meta| {
                    airlift_server::operations::record_refusal(meta, reason)
                });
            }
            let failure = Failure::from(e);
            context.audit(
                "import-rejected",
                &serde_json::json!({"bundle": args.bundle, "error": failure.message.clone()}),
            )?;
            return Err(failure);
        }
    };
    if matches!(outcome, ImportOutcome::Imported { .. }) {
        let seconds = started.elapsed().as_secs_f64();
        record_operation(context, "the import", |meta| {
            airlift_server::operations::record_run(
                meta,
                "import",
                seconds,
                jiff::Timestamp::now().as_second(),
            )
        });
    }
    context.audit(
        "import",
        &serde_json::json!({"bundle": args.bundle, "outcome": &outcome}),
    )?;
    context.emit(&outcome, || match &outcome {
        ImportOutcome::Imported {
            bundle_id,
            version,
            generation,
            blobs_added,
            bytes_added,
            handoffs,
            handoffs_verified,
            admission,
        } => {
            let mut text = format!(
                "imported bundle {bundle_id} version {version}: generation {} with {} entries is current ({blobs_added} new blobs, {bytes_added} bytes); `airlift serve` serves it from its next request",
                generation.id,
                generation.entries,
            );
            if !handoffs.is_empty() && !handoffs_verified {
                text.push_str("\n  hand-offs checked, but not who signed them: this site has no custody policy (`airlift custody policy`)");
            }
            for (i, h) in handoffs.iter().enumerate() {
                text.push_str(&format!(
                    "\n  hand-off {}: {} to {} at {}{}",
                    i + 1,
                    h.from,
                    h.to,
                    h.time,
                    if h.note.is_empty() { String::new() } else { format!(" ({})", h.note) }
                ));
            }
            if let Some(admission) = admission {
                text.push_str(&admission_lines(admission));
            }
            text
        }
        ImportOutcome::AlreadyImported {
            bundle_id,
            version,
            blobs_restored: 0,
        } => format!("bundle {bundle_id} version {version} is already imported; nothing to do"),
        ImportOutcome::AlreadyImported {
            bundle_id,
            version,
            blobs_restored,
        } => format!("bundle {bundle_id} version {version} is already imported; restored {blobs_restored} missing blobs"),
    })
}

pub(crate) fn plan(context: &Context, args: BundleArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let plan = airlift_bundle::plan(
        &args.bundle,
        &store,
        &import_options(context, args.trust.as_deref(), args.removals.policy())?,
        &context.bar(),
    )?;
    context.emit(&plan, || {
        let mut text = format!(
            "bundle {} version {}{}: {} to add, {} to change, {} to remove, {} unchanged; {} new blobs ({} bytes)",
            plan.bundle_id,
            plan.version,
            if plan.already_imported { " (already imported)" } else { "" },
            plan.added.len(),
            plan.changed.len(),
            plan.removed.len(),
            plan.unchanged,
            plan.new_blobs,
            plan.new_bytes
        );
        let note = |change: &airlift_bundle::PlanChange| {
            change.note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
        };
        for change in &plan.added {
            text.push_str(&format!("\n  + {}/{} {}{}", change.ecosystem, change.key, change.size, note(change)));
        }
        for change in &plan.changed {
            text.push_str(&format!("\n  ~ {}/{} {}{}", change.ecosystem, change.key, change.size, note(change)));
        }
        for change in &plan.removed {
            text.push_str(&format!("\n  - {}/{}", change.ecosystem, change.key));
        }
        for (i, h) in plan.handoffs.iter().enumerate() {
            text.push_str(&format!(
                "\n  hand-off {}: {} to {} at {}{}",
                i + 1,
                h.from,
                h.to,
                h.time,
                if plan.handoffs_verified { "" } else { " (signer not verified: no custody policy)" }
            ));
        }
        if let Some(admission) = &plan.admission {
            text.push_str(&admission_lines(admission));
        }
        if let Some(reason) = &plan.removals.refused {
            text.push_str(&format!(
                "\nwarning: this import would be refused: {reason}\nhint: pass --allow-removals to import it anyway"
            ));
        }
        if let Some(reason) = &plan.admission_refusal {
            text.push_str(&format!(
                "\nwarning: this import would be refused: {reason}\nhint: an [[exception]] in <home>/import-policy.toml admits a finding after review"
            ));
        }
        text
    })
}

/// The admission report's lines: the database, findings introduced and
/// fixed, exceptions used.
fn admission_lines(report: &serde_json::Value) -> String {
    let mut text = String::new();
    if report["database"].is_null() {
        return text;
    }
    let database = &report["database"];
    let introduced = report["introduced"].as_array().map_or(0, Vec::len);
    let fixed = report["fixed"].as_array().map_or(0, Vec::len);
    text.push_str(&format!(
        "\n  advisories ({} records from the {}, built {}): {introduced} findings introduced, {fixed} fixed",
        database["records"],
        database["from"].as_str().unwrap_or("bundle"),
        database["built"].as_str().unwrap_or("at an unknown time"),
    ));
    let line = |sign: &str, f: &serde_json::Value| {
        format!(
            "\n  {sign} {} {} {} {} {}{}",
            f["level"].as_str().unwrap_or("unknown").to_uppercase(),
            f["id"].as_str().unwrap_or_default(),
            f["ecosystem"].as_str().unwrap_or_default(),
            f["name"].as_str().unwrap_or_default(),
            f["version"].as_str().unwrap_or_default(),
            if f["new_package"] == true {
                " (new)"
            } else {
                ""
            }
        )
    };
    for finding in report["introduced"].as_array().into_iter().flatten() {
        text.push_str(&line("!", finding));
    }
    for finding in report["fixed"].as_array().into_iter().flatten() {
        text.push_str(&line("fixed:", finding));
    }
    for exception in report["exceptions_used"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\n  exception used: {} for {} {} (approved by {}, until {}): {}",
            exception["advisory"].as_str().unwrap_or_default(),
            exception["package"].as_str().unwrap_or_default(),
            exception["version"].as_str().unwrap_or_default(),
            exception["approved_by"].as_str().unwrap_or_default(),
            exception["expires"].as_str().unwrap_or_default(),
            exception["justification"].as_str().unwrap_or_default(),
        ));
    }
    text
}
