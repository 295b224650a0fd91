//! `airlift receipt`.

use super::*;

pub(crate) fn receipt_export(context: &Context, out: &Path) -> Result<(), Failure> {
    let store = context.store()?;
    let blobs: Vec<String> = store
        .blobs
        .list()?
        .iter()
        .map(airlift_core::Digest::hex)
        .collect();
    let payload = serde_json::json!({
        "format": "airlift-receipt/1",
        "created": now()?.to_string(),
        "last_bundle": store.meta.state(airlift_store::state_keys::LAST_BUNDLE_ID)?,
        "last_bundle_version": store.meta.state(airlift_store::state_keys::LAST_BUNDLE_VERSION)?,
        "blobs": blobs,
    });
    let signed = airlift_audit::Log::new(context.layout.home())
        .sign(&payload)
        .map_err(|e| Failure::new(1, e.to_string()))?;
    if out.exists() {
        return Err(Failure::input(format!("{} already exists", out.display())));
    }
    airlift_core::write_file_durably(out, &signed)
        .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", out.display())))?;
    context.audit(
        "receipt-export",
        &serde_json::json!({"out": out, "blobs": blobs.len()}),
    )?;
    context.emit(&serde_json::json!({"receipt": out, "blobs": blobs.len()}), || {
        format!(
            "wrote a receipt of {} blobs to {}; carry it to the connected side for `airlift pack --receipt`",
            blobs.len(),
            out.display()
        )
    })
}
