//! What every write through the server shares: one index change, committed
//! as the next generation, then one audit event that names the caller.
//!
//! Ecosystems that accept publishing (`npm publish`, `twine upload`,
//! `cargo publish`, a file `PUT`) store the uploaded bytes as blobs first
//! (verified, content-addressed), then call [`commit_change`] with the
//! entries that make them visible, so that a reader sees all of a publish
//! or none of it, and the audit log says who did it.

use airlift_store::{Change, Entry};

use crate::{Caller, Services};

/// A write that could not be committed or recorded.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The index refused or failed the change.
    #[error("the index could not record the change: {0}")]
    Store(#[from] airlift_store::StoreError),
    /// The change is committed but the audit log did not record it.
    #[error("the change was stored but the audit log could not record it: {0}")]
    Audit(String),
    /// The blocking task failed.
    #[error("the change was interrupted: {0}")]
    Interrupted(String),
}

/// Commits `upserts` and `removals` (keys of `ecosystem`) as the next
/// generation, then appends `event` (such as `registry-change`) to the
/// audit log with `source`, the entries and the current [`Caller`].
pub async fn commit_change(
    services: &Services,
    ecosystem: &str,
    event: &str,
    source: String,
    upserts: Vec<Entry>,
    removals: Vec<String>,
) -> Result<(), PublishError> {
    let caller = Caller::current();
    let detail = serde_json::json!({
        "change": source,
        "ecosystem": ecosystem,
        "caller": caller.as_ref().map(Caller::audit),
        "upserts": upserts
            .iter()
            .map(|e| serde_json::json!({"key": e.key, "digest": e.digest, "size": e.size}))
            .collect::<Vec<_>>(),
        "removals": removals,
    });
    let store = services.store.clone();
    let owned = ecosystem.to_owned();
    tokio::task::spawn_blocking(move || {
        store.meta.apply(Change {
            source,
            created_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            upserts,
            removals: removals
                .into_iter()
                .map(|key| (owned.clone(), key))
                .collect(),
            state: Vec::new(),
        })
    })
    .await
    .map_err(|e| PublishError::Interrupted(e.to_string()))??;
    if let Some(hook) = services.audit.clone() {
        let event = event.to_owned();
        tokio::task::spawn_blocking(move || hook(&event, detail))
            .await
            .map_err(|e| PublishError::Interrupted(e.to_string()))?
            .map_err(PublishError::Audit)?;
    }
    Ok(())
}
