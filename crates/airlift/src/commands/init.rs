//! `airlift init`.

use super::*;

pub(crate) fn init(context: &Context, args: InitArgs) -> Result<(), Failure> {
    if let Some(site) = &args.site {
        // The same rule as --destination, which names it on the other side.
        ledger_path(context, site).map_err(|_| {
            Failure::input(format!(
                "--site {site:?}: use letters, digits, '-', '_' and '.'"
            ))
        })?;
    }
    let bytes = std::fs::read(&args.trust)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", args.trust.display())))?;
    let version = airlift_trust::verify::inspect_root(&args.trust)?;
    let target = context.layout.trusted_root();
    if let Ok(existing) = std::fs::read(&target) {
        if existing == bytes {
            name_site(context, &args)?;
            return context.emit(
                &serde_json::json!({"trusted_root": target, "version": version, "changed": false}),
                || format!("{} is already the trusted root", args.trust.display()),
            );
        }
        if !args.force {
            return Err(Failure::input(format!("a different root is already trusted in {}", target.display()))
                .hint("roots normally rotate through bundles; pass --force only to re-anchor trust deliberately"));
        }
        // The TUF client state (and any copy left by a crash) belongs to the old anchor.
        let stale_copy = context.layout.tuf_state_backup();
        if stale_copy.exists() {
            std::fs::remove_dir_all(&stale_copy).map_err(|e| {
                Failure::new(
                    Exit::Failed,
                    format!("cannot reset {}: {e}", stale_copy.display()),
                )
            })?;
        }
        let state = context.layout.tuf_state_dir();
        if state.exists() {
            std::fs::remove_dir_all(&state).map_err(|e| {
                Failure::new(
                    Exit::Failed,
                    format!("cannot reset {}: {e}", state.display()),
                )
            })?;
        }
    }
    airlift_core::write_file_durably(&target, &bytes).map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot write {}: {e}", target.display()),
        )
    })?;
    context.store()?;
    let detail = serde_json::json!({"trusted_root": target, "version": version, "changed": true});
    context.audit("trust-init", &detail)?;
    name_site(context, &args)?;
    context.emit(&detail, || {
        format!(
            "trusting root version {version} from {}",
            args.trust.display()
        )
    })
}

/// Names the isolated site (`init --site`), once its root is trusted.
pub(crate) fn name_site(context: &Context, args: &InitArgs) -> Result<(), Failure> {
    let Some(site) = &args.site else {
        return Ok(());
    };
    let path = context.layout.site_id_file();
    let existing = context
        .layout
        .site_id()
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot read {}: {e}", path.display())))?;
    match existing {
        Some(existing) if existing == *site => return Ok(()),
        Some(existing) if !args.force => {
            return Err(Failure::input(format!(
                "this site is already named {existing:?}; use --force to rename it"
            )));
        }
        _ => {}
    }
    context.layout.write_site_id(site).map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot write {}: {e}", path.display()),
        )
    })?;
    context.audit("site-name", &serde_json::json!({"site": site}))
}
