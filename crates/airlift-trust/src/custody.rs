//! Hand-off statements: the chain of custody of one bundle.
//!
//! Each hand-off is a DSSE envelope (payload type
//! `application/vnd.in-toto+json`) over an in-toto Statement v1 whose
//! subject is the bundle (its id, the SHA-256 of its `timestamp.json`) and
//! whose predicate says who handed it to whom, when, with a note, and the
//! SHA-256 of the previous hand-off's line (so a removed or reordered
//! statement breaks the chain). Statements live next to the bundle in
//! `<bundle>.custody.jsonl`, one envelope per line, and never touch the
//! signed content.
//!
//! The isolated side's policy names the signers (their public keys) and
//! what the chain must show: required signers, a minimum count, continuity
//! (each receiver is the next sender), and times that never go back and
//! fall between the bundle's creation and its expiry.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::keypair::KeyPair;
use crate::roles::verify_signature;
use crate::schema::keyid_of;

/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of a hand-off.
pub const PREDICATE_TYPE: &str = "https://airlift.example.com/custody/handoff/v1";

/// DSSE pre-authentication encoding (one copy, in `airlift-core`, shared
/// with the audit log's statements); kept at this path for its callers.
pub use airlift_core::dsse_pae as pae;

/// One hand-off as signed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Handoff {
    /// Who hands the bundle over (the signer).
    pub from: String,
    /// Who receives it.
    pub to: String,
    /// When (RFC 3339).
    pub time: String,
    /// Free text: seal numbers, media serials.
    #[serde(default)]
    pub note: String,
    /// SHA-256 (hex) of the previous line of the chain, none for the first.
    pub previous: Option<String>,
}

/// A signed hand-off envelope (one line of the chain file).
pub fn sign(
    key: &KeyPair,
    bundle_name: &str,
    bundle_id_hex: &str,
    handoff: &Handoff,
) -> Result<String, crate::TrustError> {
    let statement = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": bundle_name, "digest": {"sha256": bundle_id_hex}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": handoff,
    });
    let payload = statement.to_string();
    let sig = hex::decode(key.sign(&pae(PAYLOAD_TYPE, payload.as_bytes()))?).unwrap_or_default();
    Ok(json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": STANDARD.encode(payload.as_bytes()),
        "signatures": [{"keyid": key.keyid(), "sig": STANDARD.encode(sig)}],
    })
    .to_string())
}

/// Signs a hand-off into the chain file `chain` (created if absent), after
/// its last line, which the new hand-off names as `previous`. Returns how
/// many hand-offs the chain holds now.
pub fn append(
    chain: &std::path::Path,
    key: &KeyPair,
    bundle_name: &str,
    bundle_id_hex: &str,
    mut handoff: Handoff,
) -> Result<usize, crate::TrustError> {
    let existing = match std::fs::read_to_string(chain) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(crate::TrustError::io("read", chain)(e)),
    };
    handoff.previous = existing
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .map(line_digest);
    let line = sign(key, bundle_name, bundle_id_hex, &handoff)?;
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&line);
    text.push('\n');
    airlift_core::write_file_durably(chain, text.as_bytes())
        .map_err(crate::TrustError::io("write", chain))?;
    Ok(text.lines().filter(|l| !l.trim().is_empty()).count())
}

/// The SHA-256 (hex) of a chain line, as the next hand-off's `previous`.
pub fn line_digest(line: &str) -> String {
    airlift_core::Digest::of(line.trim_end().as_bytes()).hex()
}

/// The isolated side's custody policy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Policy {
    /// Signers by name: their public key objects.
    pub signers: BTreeMap<String, Value>,
    /// Names that must appear as senders.
    #[serde(default)]
    pub required: Vec<String>,
    /// The fewest hand-offs accepted.
    #[serde(default)]
    pub min_handoffs: usize,
    /// Each hand-off's receiver must be the next one's sender.
    #[serde(default = "yes")]
    pub continuity: bool,
}

fn yes() -> bool {
    true
}

impl Policy {
    /// Checks the policy itself.
    pub fn validate(&self) -> Result<(), String> {
        for name in &self.required {
            if !self.signers.contains_key(name) {
                return Err(format!("required signer {name:?} is not among the signers"));
            }
        }
        for (name, key) in &self.signers {
            if key["keytype"] != "ed25519" || key["keyval"]["public"].as_str().is_none() {
                return Err(format!("signer {name:?}: not an ed25519 public key object"));
            }
        }
        Ok(())
    }
}

/// What the bundle says about itself, to check the chain against.
pub struct Subject<'a> {
    /// The bundle id (hex SHA-256 of `timestamp.json`).
    pub bundle_id_hex: &'a str,
    /// When it was packed.
    pub created: jiff::Timestamp,
    /// When it expires.
    pub expires: jiff::Timestamp,
    /// Now, by the importer's clock.
    pub now: jiff::Timestamp,
}

/// Verifies a chain file against `policy`; returns the hand-offs in order.
pub fn verify_chain(
    text: &str,
    policy: &Policy,
    subject: &Subject<'_>,
) -> Result<Vec<Handoff>, String> {
    check_chain(text, policy, subject, true)
}

/// Checks a chain where the site has no custody policy, so no signer's key
/// is known: everything but who signed is checked (the envelopes, that each
/// statement is about this bundle, the links between them, continuity and
/// times), and each hand-off's sender is as it claims, unverified.
pub fn inspect_chain(text: &str, subject: &Subject<'_>) -> Result<Vec<Handoff>, String> {
    let policy = Policy {
        signers: BTreeMap::new(),
        required: Vec::new(),
        min_handoffs: 0,
        continuity: true,
    };
    check_chain(text, &policy, subject, false)
}

fn check_chain(
    text: &str,
    policy: &Policy,
    subject: &Subject<'_>,
    signers_known: bool,
) -> Result<Vec<Handoff>, String> {
    let by_keyid: BTreeMap<String, (&String, &Value)> = policy
        .signers
        .iter()
        .map(|(name, key)| (keyid_of(key), (name, key)))
        .collect();
    let mut out: Vec<Handoff> = Vec::new();
    let mut previous_line: Option<&str> = None;
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let n = i + 1;
        let envelope: Value =
            serde_json::from_str(line).map_err(|e| format!("hand-off {n}: not JSON: {e}"))?;
        if envelope["payloadType"] != PAYLOAD_TYPE {
            return Err(format!("hand-off {n}: payload type is not {PAYLOAD_TYPE}"));
        }
        let payload = envelope["payload"]
            .as_str()
            .and_then(|p| STANDARD.decode(p).ok())
            .ok_or_else(|| format!("hand-off {n}: payload is not base64"))?;
        let message = pae(PAYLOAD_TYPE, &payload);
        let mut signer = None;
        for sig in envelope["signatures"].as_array().into_iter().flatten() {
            let Some((name, key)) = sig["keyid"].as_str().and_then(|k| by_keyid.get(k)) else {
                continue;
            };
            let raw = sig["sig"]
                .as_str()
                .and_then(|s| STANDARD.decode(s).ok())
                .unwrap_or_default();
            if !verify_signature(key, &message, &hex::encode(raw)) {
                return Err(format!(
                    "hand-off {n}: BAD signature by {name}: the statement was altered or forged"
                ));
            }
            signer = Some((*name).clone());
        }
        let signer = match signer {
            Some(signer) => Some(signer),
            None if !signers_known => None,
            None => {
                return Err(format!(
                    "hand-off {n}: signed by nobody the custody policy knows (signers: {}); refused as a forged hand-off",
                    policy
                        .signers
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        };
        let statement: Value = serde_json::from_slice(&payload)
            .map_err(|e| format!("hand-off {n}: statement is not JSON: {e}"))?;
        if statement["_type"] != STATEMENT_TYPE || statement["predicateType"] != PREDICATE_TYPE {
            return Err(format!("hand-off {n}: not an airlift hand-off statement"));
        }
        let subject_ok = statement["subject"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["digest"]["sha256"] == subject.bundle_id_hex);
        if !subject_ok {
            return Err(format!(
                "hand-off {n}: it is about another bundle (its subject is not sha256:{})",
                subject.bundle_id_hex
            ));
        }
        let handoff: Handoff = serde_json::from_value(statement["predicate"].clone())
            .map_err(|e| format!("hand-off {n}: {e}"))?;
        let signer = signer.unwrap_or_else(|| handoff.from.clone());
        if handoff.from != signer {
            return Err(format!(
                "hand-off {n}: signed by {signer} but claims to be from {:?}: refused as a forged hand-off",
                handoff.from
            ));
        }
        let expected = previous_line.map(line_digest);
        if handoff.previous != expected {
            return Err(format!(
                "hand-off {n} ({} to {}) does not follow {}: the chain has a gap, or statements were removed or reordered",
                handoff.from,
                handoff.to,
                if n == 1 {
                    "the start of the chain".to_owned()
                } else {
                    format!("hand-off {}", n - 1)
                }
            ));
        }
        let time: jiff::Timestamp = handoff
            .time
            .parse()
            .map_err(|e| format!("hand-off {n}: time {:?}: {e}", handoff.time))?;
        if time < subject.created
            || time > subject.expires
            || time > subject.now + jiff::SignedDuration::from_mins(5)
        {
            return Err(format!(
                "hand-off {n} at {time} is outside the bundle's life ({} to {}) or in the future",
                subject.created, subject.expires
            ));
        }
        if let Some(last) = out.last() {
            if policy.continuity && last.to != handoff.from {
                return Err(format!(
                    "hand-off {n}: {} hands it over, but hand-off {} gave it to {}: custody is broken",
                    handoff.from,
                    n - 1,
                    last.to
                ));
            }
            let last_time: jiff::Timestamp = last.time.parse().unwrap_or(time);
            if time < last_time {
                return Err(format!(
                    "hand-off {n} at {time} is earlier than hand-off {} at {last_time}",
                    n - 1
                ));
            }
        }
        previous_line = Some(line);
        out.push(handoff);
    }
    if out.len() < policy.min_handoffs {
        return Err(format!(
            "{} hand-offs; the custody policy requires at least {}",
            out.len(),
            policy.min_handoffs
        ));
    }
    for name in &policy.required {
        if !out.iter().any(|h| &h.from == name) {
            return Err(format!(
                "no hand-off signed by {name}, whom the custody policy requires"
            ));
        }
    }
    Ok(out)
}
