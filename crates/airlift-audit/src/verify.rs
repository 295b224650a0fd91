//! The full check of the log: one linear pass that recomputes the tree and
//! compares it with the witness's record, the signed checkpoint and
//! checkpoints exported earlier, telling tampering from an append cut short.

use crate::checkpoint::parse_checkpoint;
use crate::{AuditError, Log, Verified};

impl Log {
    /// Verifies the log, in one linear pass, against its witness's record,
    /// its signed checkpoint, and earlier checkpoints (notes exported
    /// before). Tampering is [`AuditError::Tampered`]; an append cut short,
    /// with the signed history intact, is [`AuditError::Interrupted`].
    pub fn verify(&self, earlier: &[String]) -> Result<Verified, AuditError> {
        let log_path = self.path("log.jsonl");
        let tampered = |message: String| AuditError::Tampered {
            path: log_path.clone(),
            message,
        };
        // Read in the order appends write in reverse (the witness after the
        // checkpoint, the checkpoint after the log), so an append running
        // meanwhile can only make the log look longer, never shorter.
        let recorded = self.recorded()?;
        let text = self.checkpoint()?;
        let public = match (&text, earlier.is_empty()) {
            (None, true) => None,
            _ => Some(self.public_key()?),
        };
        let checkpoint = match (&text, &public) {
            (Some(text), Some(public)) => Some(
                parse_checkpoint(text, public).map_err(|m| tampered(format!("checkpoint: {m}")))?,
            ),
            _ => None,
        };
        let mut olds = Vec::new();
        for (n, note) in earlier.iter().enumerate() {
            let public = public.as_deref().unwrap_or_default();
            olds.push(
                parse_checkpoint(note, public)
                    .map_err(|m| tampered(format!("earlier checkpoint {}: {m}", n + 1)))?,
            );
        }
        let mut targets: Vec<u64> = olds.iter().map(|c| c.size).collect();
        targets.extend(checkpoint.as_ref().map(|c| c.size));
        targets.extend(recorded.map(|h| h.size));
        let scan = self.scan(&targets)?;
        let count = scan.frontier.size();
        if let Some(head) = recorded
            && head.size > count
        {
            return Err(tampered(shorter_than_recorded(head.size, count)));
        }
        let origin = match &checkpoint {
            None if count > 0 => {
                return Err(tampered("the signed checkpoint is missing".into()));
            }
            None => String::new(),
            Some(checkpoint) => {
                if checkpoint.size > count {
                    return Err(tampered(format!(
                        "the signed checkpoint covers {} entries but the log has {count}: the log was truncated",
                        checkpoint.size,
                    )));
                }
                if scan.roots.get(&checkpoint.size) != Some(&checkpoint.root) {
                    return Err(tampered(
                        "the log does not hash to the signed tree head: an entry was edited".into(),
                    ));
                }
                checkpoint.origin.clone()
            }
        };
        if let Some(head) = recorded
            && scan.roots.get(&head.size) != Some(&head.root)
        {
            return Err(tampered(rewritten_since_recorded(head.size)));
        }
        for (n, old) in olds.iter().enumerate() {
            if checkpoint.is_some() && old.origin != origin {
                return Err(tampered(format!(
                    "earlier checkpoint {} is for log {:?}, not {:?}",
                    n + 1,
                    old.origin,
                    origin
                )));
            }
            if scan.roots.get(&old.size) != Some(&old.root) {
                return Err(tampered(format!(
                    "earlier checkpoint {} (size {}) is not a prefix of this log: it was rewritten or truncated since",
                    n + 1,
                    old.size
                )));
            }
        }
        let signed = checkpoint.as_ref().map_or(0, |c| c.size);
        if signed < count {
            return Err(AuditError::Interrupted {
                path: log_path,
                message: format!(
                    "the signed checkpoint covers {signed} entries but the log has {count}: the last {} were written and not signed (an append cut short before its checkpoint, or lines added by something other than airlift); the {signed} signed entries are intact, and the next append signs the rest after an `audit-recovered` entry",
                    count - signed
                ),
            });
        }
        if scan.partial_bytes > 0 {
            return Err(AuditError::Interrupted {
                path: log_path,
                message: format!(
                    "the last line is incomplete ({} bytes after the last newline; a full disk or a crash during an append); the {count} signed entries are intact, and the next append cuts it off after an `audit-recovered` entry",
                    scan.partial_bytes
                ),
            });
        }
        Ok(Verified {
            entries: count,
            root: hex::encode(scan.frontier.root()),
            origin,
            earlier_checkpoints: earlier.len(),
            recorded_entries: recorded.map(|h| h.size),
        })
    }
}

/// The message for a log shorter than its witness records.
pub(crate) fn shorter_than_recorded(recorded: u64, count: u64) -> String {
    if count == 0 {
        format!("the log was reset: the index records {recorded} entries, the log has 0")
    } else {
        format!(
            "the log is shorter than the index records: the index records {recorded} entries, the log has {count} (entries were removed from its end, or it was reset and written again)"
        )
    }
}

/// The message for a log whose first entries no longer hash to the root its
/// witness records.
pub(crate) fn rewritten_since_recorded(recorded: u64) -> String {
    format!(
        "the log's first {recorded} entries do not hash to the root the index records for them: the log was rewritten (or reset and written again)"
    )
}
