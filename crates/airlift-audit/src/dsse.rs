//! Statements signed with the log's key as DSSE envelopes (today the
//! receipts of `airlift receipt export`), and their opening.

use std::fs;

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use serde_json::Value;

use crate::{AuditError, Log, io};

/// The DSSE payload type of airlift's signed statements.
pub const PAYLOAD_TYPE: &str = "application/vnd.airlift.statement+json";

impl Log {
    /// Signs a JSON payload as a DSSE envelope with this home's log key
    /// (receipts and other statements that leave the site).
    pub fn sign(&self, payload: &Value) -> Result<Vec<u8>, AuditError> {
        fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let key = self.key()?;
        let verifier = self.verifier_key()?.ok_or_else(|| AuditError::Key {
            path: self.path("note.pub"),
            message: "missing".into(),
        })?;
        let body = serde_json::to_vec(payload).map_err(|e| AuditError::Key {
            path: self.path("note.key"),
            message: format!("cannot encode the payload: {e}"),
        })?;
        let signature = key.sign(&airlift_core::dsse_pae(PAYLOAD_TYPE, &body));
        let b64 = &base64::engine::general_purpose::STANDARD;
        let envelope = serde_json::json!({
            "payloadType": PAYLOAD_TYPE,
            "payload": b64.encode(&body),
            "signatures": [{"keyid": verifier, "sig": b64.encode(signature.as_ref())}],
        });
        Ok(envelope.to_string().into_bytes())
    }
}

/// Opens a DSSE envelope made by [`Log::sign`]: checks the signature with
/// the verifier key it names and returns the payload. (Which keys to trust
/// is the caller's decision; the key is in the `keyid`.)
pub fn open_signed(bytes: &[u8]) -> Result<Value, String> {
    let envelope: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not a signed envelope: {e}"))?;
    let b64 = &base64::engine::general_purpose::STANDARD;
    let payload_type = envelope.get("payloadType").and_then(Value::as_str);
    if payload_type != Some(PAYLOAD_TYPE) {
        return Err(format!(
            "payload type {payload_type:?} is not {PAYLOAD_TYPE}"
        ));
    }
    let body = envelope
        .get("payload")
        .and_then(Value::as_str)
        .and_then(|p| b64.decode(p).ok())
        .ok_or("no payload")?;
    let signed = envelope
        .get("signatures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|signature| {
            let key = signature
                .get("keyid")
                .and_then(Value::as_str)
                .and_then(|k| k.splitn(3, '+').nth(2))
                .and_then(|k| b64.decode(k).ok())
                .filter(|k| k.len() == 33 && k[0] == 1);
            let sig = signature
                .get("sig")
                .and_then(Value::as_str)
                .and_then(|s| b64.decode(s).ok());
            match (key, sig) {
                (Some(key), Some(sig)) => UnparsedPublicKey::new(&ED25519, &key[1..])
                    .verify(&airlift_core::dsse_pae(PAYLOAD_TYPE, &body), &sig)
                    .is_ok(),
                _ => false,
            }
        });
    if !signed {
        return Err("the signature does not verify".into());
    }
    serde_json::from_slice(&body).map_err(|e| format!("payload is not JSON: {e}"))
}
