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
    let payload = airlift_bundle::Receipt {
        format: airlift_bundle::RECEIPT_FORMAT.to_owned(),
        created: now()?.to_string(),
        last_bundle: store
            .meta
            .state(airlift_store::state_keys::LAST_BUNDLE_ID)?,
        last_bundle_version: store
            .meta
            .state(airlift_store::state_keys::LAST_BUNDLE_VERSION)?,
        blobs,
    };
    let signed =
        airlift_audit::Log::new(context.layout.home())
            .sign(&serde_json::to_value(&payload).map_err(|e| {
                Failure::new(Exit::Failed, format!("cannot encode the receipt: {e}"))
            })?)
            .map_err(|e| Failure::new(Exit::Failed, e.to_string()))?;
    if out.exists() {
        return Err(Failure::input(format!("{} already exists", out.display())));
    }
    airlift_core::write_file_durably(out, &signed)
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot write {}: {e}", out.display())))?;
    context.audit(
        "receipt-export",
        &serde_json::json!({"out": out, "blobs": payload.blobs.len()}),
    )?;
    context.emit(&serde_json::json!({"receipt": out, "blobs": payload.blobs.len()}), || {
        format!(
            "wrote a receipt of {} blobs to {}; carry it to the connected side for `airlift pack --receipt`",
            payload.blobs.len(),
            out.display()
        )
    })
}
