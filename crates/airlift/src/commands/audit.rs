//! `airlift audit`.

use super::*;

/// `audit reset`: the one way back after an audit log was lost.
pub(crate) fn audit_reset(context: &Context, reason: &str) -> Result<(), Failure> {
    if reason.trim().is_empty() {
        return Err(Failure::input("--acknowledge needs a reason"));
    }
    let store = context.store()?;
    let Some(recorded) = store.meta.audit_head()? else {
        return Err(Failure::input(
            "the index records no audit log here; there is nothing to reset",
        ));
    };
    if context.audit_log(None).verify(&[]).is_ok() {
        return Err(Failure::input(format!(
            "the audit log is intact ({} entries, as the index records); there is nothing to reset",
            recorded.size
        )));
    }
    // The old log is evidence: kept aside, never deleted.
    let dir = context.layout.audit_dir();
    let kept = context.layout.audit_reset_dir(now()?.as_second());
    let moved = match std::fs::rename(&dir, &kept) {
        Ok(()) => Some(kept),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Failure::new(
                Exit::Failed,
                format!("cannot move {} to {}: {e}", dir.display(), kept.display()),
            ));
        }
    };
    store.meta.clear_audit_head(&recorded)?;
    let detail = serde_json::json!({
        "reason": reason,
        "previous_entries": recorded.size,
        "previous_root": recorded.root,
        "kept": moved,
    });
    context.audit("audit-reset", &detail)?;
    context.emit(&detail, || {
        format!(
            "started a new audit log; the index had recorded {} entries{}; the reset is its first event",
            recorded.size,
            moved
                .as_ref()
                .map(|p| format!(", the old log is kept in {}", p.display()))
                .unwrap_or_default()
        )
    })
}

pub(crate) fn audit(context: &Context, command: AuditCommand) -> Result<(), Failure> {
    let log = context.audit_log(None);
    let tampered = |e: airlift_audit::AuditError| {
        match e {
        // Not tampering: the signed history is intact and the next append
        // repairs the log, so it is not reported with the tampering code.
        airlift_audit::AuditError::Interrupted { .. } => Failure::new(Exit::Failed, e.to_string()).hint(
            "not tampering: an append was cut short (a full disk, a crash); the next recorded event repairs the log after an `audit-recovered` entry",
        ),
        airlift_audit::AuditError::Witness { .. } => Failure::new(Exit::Failed, e.to_string())
            .hint("the index database holds the audit log's head; check <home>/store/index.sqlite"),
        e => Failure::new(Exit::Refused, e.to_string()).hint(
            "the audit log does not match its signed checkpoints or the index's record of it; keep the home as it is for investigation",
        ),
    }
    };
    match command {
        AuditCommand::Verify { checkpoints } => {
            let mut earlier = Vec::new();
            for path in &checkpoints {
                earlier.push(
                    std::fs::read_to_string(path).map_err(|e| {
                        Failure::input(format!("cannot read {}: {e}", path.display()))
                    })?,
                );
            }
            let verified = log.verify(&earlier).map_err(tampered)?;
            context.emit(&verified, || {
                format!(
                    "audit log intact: {} entries, tree head {}{}",
                    verified.entries,
                    verified.root,
                    if verified.earlier_checkpoints > 0 {
                        format!(
                            ", consistent with {} earlier checkpoint(s)",
                            verified.earlier_checkpoints
                        )
                    } else {
                        String::new()
                    }
                )
            })
        }
        AuditCommand::Export => {
            let events = log.events().map_err(tampered)?;
            let checkpoint = log.checkpoint().map_err(tampered)?;
            let key = log.verifier_key().map_err(tampered)?;
            context.emit(
                &serde_json::json!({"entries": events, "checkpoint": checkpoint, "verifier_key": key}),
                || {
                    events
                        .iter()
                        .map(|e| format!("{} {} {} {}", e.index, e.time, e.event, e.detail))
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            )
        }
        AuditCommand::Checkpoint => {
            let checkpoint = log.checkpoint().map_err(tampered)?.ok_or_else(|| {
                Failure::input("the audit log is empty; nothing has been recorded yet")
            })?;
            context.emit(&serde_json::json!({"checkpoint": checkpoint}), || {
                checkpoint.trim_end().to_owned()
            })
        }
        AuditCommand::Reset { acknowledge } => audit_reset(context, &acknowledge),
    }
}

/// The site's apt signing key, made (and audited) on first use.
pub(crate) fn apt_signing_key(context: &Context) -> Result<airlift_pgp::SigningKey, Failure> {
    let trust = context.layout.trust_dir();
    let site = context.layout.site_id().ok().flatten();
    let (key, created) = airlift_apt::key::load_or_create(&trust, site.as_deref())
        .map_err(|e| Failure::new(Exit::Failed, e.to_string()))?;
    if created {
        context.audit(
            "apt-key-created",
            &serde_json::json!({"fingerprint": key.fingerprint()}),
        )?;
    }
    Ok(key)
}
