//! The tamper-evident audit log: every event is a line of JSON and a leaf
//! of an RFC 6962 Merkle tree (leaf `SHA-256(0x00‖entry)`, node
//! `SHA-256(0x01‖left‖right)`); after each append the tree head is signed as
//! a C2SP checkpoint (a signed note with an Ed25519 signature line).
//!
//! ```text
//! <home>/audit/log.jsonl     one event per line: {"index","time","event","detail"}
//! <home>/audit/checkpoint    the latest signed checkpoint
//! <home>/audit/note.key      the log's Ed25519 key (PKCS#8, mode 0600)
//! <home>/audit/note.pub      its verifier key: <name>+<key hash hex>+<base64(0x01‖public key)>
//! <home>/audit/lock          serialises appenders
//! ```
//!
//! [`Log::verify`] recomputes the tree from the log: an edited, deleted,
//! reordered or truncated entry, or a forged checkpoint, is reported. A
//! checkpoint exported earlier (to a SIEM, to the other side of the gap) can
//! be checked against the log, which proves the log was only appended to
//! since.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Audit log failures; each names the file or the entry involved.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The log or a checkpoint does not verify.
    #[error("audit log {path}: {message}")]
    Tampered {
        /// The file.
        path: PathBuf,
        /// What does not hold.
        message: String,
    },
    /// The key cannot be used.
    #[error("audit key {path}: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> AuditError + 'a {
    move |source| AuditError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// One event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Position in the log, from 0.
    pub index: u64,
    /// When it was appended (RFC 3339, UTC).
    pub time: String,
    /// What happened: `collect`, `pack`, `import`, `import-rejected`, …
    pub event: String,
    /// The event's facts.
    pub detail: Value,
}

/// SHA-256 of the bytes.
fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = airlift_core::Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    *hasher.finish().as_bytes()
}

/// The RFC 6962 leaf hash.
pub fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    sha256(&[&[0u8], entry])
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    sha256(&[&[1u8], left, right])
}

/// The RFC 6962 Merkle tree hash of leaf hashes.
pub fn tree_hash(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha256(&[]),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_hash(&tree_hash(&leaves[..k]), &tree_hash(&leaves[k..]))
        }
    }
}

/// A parsed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Entries covered.
    pub size: u64,
    /// The tree hash.
    pub root: [u8; 32],
    /// The whole signed note.
    pub text: String,
}

/// What a verification established.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    /// Entries in the log.
    pub entries: u64,
    /// The tree hash, hex.
    pub root: String,
    /// The origin line of the signed checkpoint.
    pub origin: String,
    /// Earlier checkpoints found consistent.
    pub earlier_checkpoints: usize,
}

/// An audit log under a home.
pub struct Log {
    dir: PathBuf,
}

impl Log {
    /// The log of the home `home` (created on first append).
    pub fn new(home: &Path) -> Self {
        Self {
            dir: home.join("audit"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Appends an event and signs a new checkpoint; returns its index.
    pub fn append(&self, event: &str, detail: Value) -> Result<u64, AuditError> {
        fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let lock_path = self.path("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open", &lock_path))?;
        lock.lock().map_err(io("lock", &lock_path))?;
        let key = self.key()?;
        let log_path = self.path("log.jsonl");
        let (mut leaves, count) = self.read_leaves()?;
        let mut unsigned_tail = 0;
        // Never sign over a log that no longer matches its last checkpoint:
        // that would launder an edit or a truncation.
        match self.checkpoint()? {
            Some(text) => {
                let public = self.public_key()?;
                let checkpoint =
                    parse_checkpoint(&text, &public).map_err(|m| AuditError::Tampered {
                        path: self.path("checkpoint"),
                        message: format!("{m}; refusing to append"),
                    })?;
                let prefix_matches = checkpoint.size <= count
                    && tree_hash(&leaves[..checkpoint.size as usize]) == checkpoint.root;
                if prefix_matches && checkpoint.size < count {
                    // A crash between writing entries and signing them: the
                    // signed history is intact, so sign the tail now and say so.
                    unsigned_tail = count - checkpoint.size;
                } else if !prefix_matches {
                    return Err(AuditError::Tampered {
                        path: log_path,
                        message: format!(
                            "the log ({count} entries) does not match its last checkpoint ({} entries); refusing to append; run `airlift audit verify`",
                            checkpoint.size
                        ),
                    });
                }
            }
            None if count > 0 => {
                return Err(AuditError::Tampered {
                    path: log_path,
                    message: "the log has entries but no checkpoint; refusing to append".into(),
                });
            }
            None => {}
        }
        let mut events = Vec::new();
        if unsigned_tail > 0 {
            events.push((
                "audit-recovered".to_owned(),
                serde_json::json!({
                    "unsigned_entries": unsigned_tail,
                    "note": "entries written before a crash, signed late by this checkpoint",
                }),
            ));
        }
        events.push((event.to_owned(), detail));
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io("open", &log_path))?;
        let mut index = leaves.len() as u64;
        for (name, detail) in events {
            let entry = Event {
                index: leaves.len() as u64,
                time: jiff::Timestamp::now().to_string(),
                event: name,
                detail,
            };
            index = entry.index;
            let line = serde_json::to_string(&entry).map_err(|e| AuditError::Tampered {
                path: log_path.clone(),
                message: format!("cannot encode an entry: {e}"),
            })?;
            file.write_all(format!("{line}\n").as_bytes())
                .map_err(io("append to", &log_path))?;
            leaves.push(leaf_hash(line.as_bytes()));
        }
        file.sync_all().map_err(io("fsync", &log_path))?;
        let note = sign_checkpoint(
            &key,
            &self.origin(&key),
            leaves.len() as u64,
            &tree_hash(&leaves),
        );
        airlift_core::write_file_durably(&self.path("checkpoint"), note.as_bytes())
            .map_err(io("write", &self.path("checkpoint")))?;
        Ok(index)
    }

    /// Every event, in order (the log is not verified; see [`Log::verify`]).
    pub fn events(&self) -> Result<Vec<Event>, AuditError> {
        let path = self.path("log.jsonl");
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("open", &path)(e)),
        };
        let mut events = Vec::new();
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(io("read", &path))?;
            events.push(
                serde_json::from_str(&line).map_err(|e| AuditError::Tampered {
                    path: path.clone(),
                    message: format!("line {}: not an audit entry: {e}", n + 1),
                })?,
            );
        }
        Ok(events)
    }

    /// The current signed checkpoint, if any.
    pub fn checkpoint(&self) -> Result<Option<String>, AuditError> {
        let path = self.path("checkpoint");
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// The verifier key (`<name>+<hash>+<base64 key>`), once the log exists.
    pub fn verifier_key(&self) -> Result<Option<String>, AuditError> {
        let path = self.path("note.pub");
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// Reads every line, checks each is the entry its position says, and
    /// returns the leaf hashes and the lines.
    fn read_leaves(&self) -> Result<(Vec<[u8; 32]>, u64), AuditError> {
        let path = self.path("log.jsonl");
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(io("open", &path)(e)),
        };
        let mut leaves = Vec::new();
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(io("read", &path))?;
            let event: Event = serde_json::from_str(&line).map_err(|e| AuditError::Tampered {
                path: path.clone(),
                message: format!("line {}: not an audit entry: {e}", n + 1),
            })?;
            if event.index != n as u64 {
                return Err(AuditError::Tampered {
                    path: path.clone(),
                    message: format!(
                        "line {} holds entry {}: entries were deleted, inserted or reordered",
                        n + 1,
                        event.index
                    ),
                });
            }
            leaves.push(leaf_hash(line.as_bytes()));
        }
        let count = leaves.len() as u64;
        Ok((leaves, count))
    }

    /// Verifies the log against its signed checkpoint and against earlier
    /// checkpoints (notes exported before).
    pub fn verify(&self, earlier: &[String]) -> Result<Verified, AuditError> {
        let log_path = self.path("log.jsonl");
        let (leaves, count) = self.read_leaves()?;
        let tampered = |message: String| AuditError::Tampered {
            path: log_path.clone(),
            message,
        };
        let Some(text) = self.checkpoint()? else {
            if count == 0 {
                return Ok(Verified {
                    entries: 0,
                    root: hex::encode(tree_hash(&[])),
                    origin: String::new(),
                    earlier_checkpoints: 0,
                });
            }
            return Err(tampered("the signed checkpoint is missing".into()));
        };
        let public = self.public_key()?;
        let checkpoint =
            parse_checkpoint(&text, &public).map_err(|m| tampered(format!("checkpoint: {m}")))?;
        if checkpoint.size != count {
            return Err(tampered(format!(
                "the signed checkpoint covers {} entries but the log has {count}: the log was {}",
                checkpoint.size,
                if count < checkpoint.size {
                    "truncated"
                } else {
                    "appended to without a signature"
                }
            )));
        }
        let root = tree_hash(&leaves);
        if checkpoint.root != root {
            return Err(tampered(
                "the log does not hash to the signed tree head: an entry was edited".into(),
            ));
        }
        for (n, note) in earlier.iter().enumerate() {
            let old = parse_checkpoint(note, &public)
                .map_err(|m| tampered(format!("earlier checkpoint {}: {m}", n + 1)))?;
            if old.origin != checkpoint.origin {
                return Err(tampered(format!(
                    "earlier checkpoint {} is for log {:?}, not {:?}",
                    n + 1,
                    old.origin,
                    checkpoint.origin
                )));
            }
            if old.size > count || tree_hash(&leaves[..old.size as usize]) != old.root {
                return Err(tampered(format!(
                    "earlier checkpoint {} (size {}) is not a prefix of this log: it was rewritten or truncated since",
                    n + 1,
                    old.size
                )));
            }
        }
        Ok(Verified {
            entries: count,
            root: hex::encode(root),
            origin: checkpoint.origin,
            earlier_checkpoints: earlier.len(),
        })
    }

    fn key(&self) -> Result<Ed25519KeyPair, AuditError> {
        let path = self.path("note.key");
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let document =
                    Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| {
                        AuditError::Key {
                            path: path.clone(),
                            message: "key generation failed".into(),
                        }
                    })?;
                write_private(&path, document.as_ref())?;
                document.as_ref().to_vec()
            }
            Err(e) => return Err(io("read", &path)(e)),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&bytes).map_err(|_| AuditError::Key {
            path: path.clone(),
            message: "not an Ed25519 PKCS#8 key".into(),
        })?;
        let public_path = self.path("note.pub");
        if !public_path.exists() {
            let origin = self.origin(&pair);
            let verifier = format!(
                "{origin}+{}+{}\n",
                hex::encode(key_hash(&origin, pair.public_key().as_ref())),
                base64::engine::general_purpose::STANDARD
                    .encode([&[1u8][..], pair.public_key().as_ref()].concat())
            );
            airlift_core::write_file_durably(&public_path, verifier.as_bytes())
                .map_err(io("write", &public_path))?;
        }
        Ok(pair)
    }

    fn public_key(&self) -> Result<Vec<u8>, AuditError> {
        let path = self.path("note.pub");
        let text = fs::read_to_string(&path).map_err(io("read", &path))?;
        // name+hash+key: the key's base64 may itself contain '+'.
        let encoded = text.trim().splitn(3, '+').nth(2).unwrap_or("");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .filter(|b| b.len() == 33 && b[0] == 1)
            .ok_or_else(|| AuditError::Key {
                path: path.clone(),
                message: "not a note verifier key".into(),
            })?;
        Ok(bytes[1..].to_vec())
    }

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
        let signature = key.sign(&pae(PAYLOAD_TYPE, &body));
        let b64 = &base64::engine::general_purpose::STANDARD;
        let envelope = serde_json::json!({
            "payloadType": PAYLOAD_TYPE,
            "payload": b64.encode(&body),
            "signatures": [{"keyid": verifier, "sig": b64.encode(signature.as_ref())}],
        });
        Ok(envelope.to_string().into_bytes())
    }

    /// The origin line: a name unique to this log's key.
    fn origin(&self, key: &Ed25519KeyPair) -> String {
        format!(
            "audit.airlift.invalid/{}",
            &hex::encode(sha256(&[key.public_key().as_ref()]))[..16]
        )
    }
}

/// The DSSE payload type of airlift's signed statements.
pub const PAYLOAD_TYPE: &str = "application/vnd.airlift.statement+json";

/// DSSE's pre-authentication encoding.
fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
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
                    .verify(&pae(PAYLOAD_TYPE, &body), &sig)
                    .is_ok(),
                _ => false,
            }
        });
    if !signed {
        return Err("the signature does not verify".into());
    }
    serde_json::from_slice(&body).map_err(|e| format!("payload is not JSON: {e}"))
}

/// The C2SP key hash: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key).
fn key_hash(name: &str, public: &[u8]) -> [u8; 4] {
    let full = sha256(&[name.as_bytes(), b"\n", &[1u8], public]);
    [full[0], full[1], full[2], full[3]]
}

/// A C2SP checkpoint as a signed note.
fn sign_checkpoint(key: &Ed25519KeyPair, origin: &str, size: u64, root: &[u8; 32]) -> String {
    let body = format!(
        "{origin}\n{size}\n{}\n",
        base64::engine::general_purpose::STANDARD.encode(root)
    );
    let signature = key.sign(body.as_bytes());
    let blob = [
        &key_hash(origin, key.public_key().as_ref())[..],
        signature.as_ref(),
    ]
    .concat();
    format!(
        "{body}\n\u{2014} {origin} {}\n",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

/// Parses and verifies a signed checkpoint with `public` (an Ed25519 key).
pub fn parse_checkpoint(text: &str, public: &[u8]) -> Result<Checkpoint, String> {
    let (body, signatures) = text
        .split_once("\n\n")
        .ok_or("not a signed note (no blank line before the signatures)")?;
    let body = format!("{body}\n");
    let mut lines = body.lines();
    let origin = lines
        .next()
        .filter(|l| !l.is_empty())
        .ok_or("no origin line")?
        .to_owned();
    let size = lines
        .next()
        .and_then(|l| l.parse::<u64>().ok())
        .ok_or("no tree size")?;
    let root: [u8; 32] = lines
        .next()
        .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or("no root hash")?;
    let expected = key_hash(&origin, public);
    let verifier = UnparsedPublicKey::new(&ED25519, public);
    let signed = signatures.lines().any(|line| {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return false;
        };
        let Some((name, encoded)) = rest.rsplit_once(' ') else {
            return false;
        };
        let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return false;
        };
        name == origin
            && blob.len() == 68
            && blob[..4] == expected
            && verifier.verify(body.as_bytes(), &blob[4..]).is_ok()
    });
    if !signed {
        return Err("no valid signature by this log's key".into());
    }
    Ok(Checkpoint {
        origin,
        size,
        root,
        text: text.to_owned(),
    })
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> Result<(), AuditError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io("create", path))?;
    file.write_all(data).map_err(io("write", path))?;
    file.sync_all().map_err(io("fsync", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6962_tree_hashes() {
        // The certificate-transparency reference vectors.
        let leaves: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x00],
            vec![0x10],
            vec![0x20, 0x21],
            vec![0x30, 0x31],
            vec![0x40, 0x41, 0x42, 0x43],
            (0x50..0x58).collect(),
            (0x60..0x70).collect(),
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let hashes: Vec<[u8; 32]> = leaves.iter().map(|l| leaf_hash(l)).collect();
        for (n, root) in roots.iter().enumerate() {
            assert_eq!(
                hex::encode(tree_hash(&hashes[..n + 1])),
                *root,
                "size {}",
                n + 1
            );
        }
        assert_eq!(
            hex::encode(tree_hash(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    fn log_with(n: usize) -> (tempfile::TempDir, Log) {
        let home = tempfile::tempdir().expect("tempdir");
        let log = Log::new(home.path());
        for i in 0..n {
            log.append("test", serde_json::json!({"i": i}))
                .expect("append");
        }
        (home, log)
    }

    fn rewrite(log: &Log, change: impl FnOnce(&mut Vec<String>)) {
        let path = log.path("log.jsonl");
        let mut lines: Vec<String> = fs::read_to_string(&path)
            .expect("read")
            .lines()
            .map(str::to_owned)
            .collect();
        change(&mut lines);
        fs::write(
            &path,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .expect("write");
    }

    #[test]
    fn an_intact_log_verifies_and_extends_its_earlier_checkpoints() {
        let (_home, log) = log_with(3);
        let earlier = log.checkpoint().expect("read").expect("exists");
        log.append("more", serde_json::json!({})).expect("append");
        let verified = log.verify(&[earlier]).expect("verifies");
        assert_eq!(verified.entries, 4);
        assert_eq!(verified.earlier_checkpoints, 1);
        assert!(
            log.verifier_key()
                .expect("read")
                .expect("exists")
                .starts_with("audit.airlift.invalid/")
        );
    }

    #[test]
    fn tampering_is_detected() {
        type Tamper = Box<dyn FnOnce(&mut Vec<String>)>;
        let cases: Vec<(&str, Tamper, &str)> = vec![
            (
                "edited",
                Box::new(|l: &mut Vec<String>| l[1] = l[1].replace("\"i\":1", "\"i\":7")),
                "an entry was edited",
            ),
            (
                "deleted",
                Box::new(|l: &mut Vec<String>| {
                    l.remove(1);
                }),
                "deleted, inserted or reordered",
            ),
            (
                "reordered",
                Box::new(|l: &mut Vec<String>| l.swap(0, 2)),
                "deleted, inserted or reordered",
            ),
            (
                "truncated",
                Box::new(|l: &mut Vec<String>| {
                    l.pop();
                }),
                "truncated",
            ),
        ];
        for (name, change, expected) in cases {
            let (_home, log) = log_with(3);
            rewrite(&log, change);
            let error = log.verify(&[]).expect_err(name).to_string();
            assert!(error.contains(expected), "{name}: {error}");
        }
    }

    #[test]
    fn appending_never_signs_over_tampering() {
        let (_home, log) = log_with(3);
        rewrite(&log, |l| {
            l.pop();
        });
        let error = log
            .append("after", serde_json::json!({}))
            .expect_err("appended")
            .to_string();
        assert!(error.contains("refusing to append"), "{error}");
    }

    #[test]
    fn a_crash_before_signing_is_recovered_visibly() {
        let (_home, log) = log_with(2);
        let checkpoint = log.checkpoint().expect("read").expect("exists");
        log.append("interrupted", serde_json::json!({}))
            .expect("append");
        // As if the process died after writing the entry, before the checkpoint.
        fs::write(log.path("checkpoint"), &checkpoint).expect("restore");
        assert!(log.verify(&[]).is_err(), "an unsigned tail is reported");
        log.append("next", serde_json::json!({})).expect("recovers");
        let events: Vec<String> = log
            .events()
            .expect("events")
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(
            events,
            ["test", "test", "interrupted", "audit-recovered", "next"]
        );
        log.verify(&[checkpoint]).expect("verifies");
    }

    #[test]
    fn signed_statements_open_and_tampering_fails() {
        let (_home, log) = log_with(0);
        let envelope = log
            .sign(&serde_json::json!({"blobs": ["ab"]}))
            .expect("sign");
        assert_eq!(open_signed(&envelope).expect("opens")["blobs"][0], "ab");
        let text = String::from_utf8(envelope).expect("utf8");
        let payload = base64::engine::general_purpose::STANDARD.encode(br#"{"blobs":["cd"]}"#);
        let value: Value = serde_json::from_str(&text).expect("json");
        let forged = text.replace(value["payload"].as_str().expect("payload"), &payload);
        assert!(open_signed(forged.as_bytes()).is_err());
    }

    #[test]
    fn forged_and_rewritten_histories_are_detected() {
        let (_home, log) = log_with(3);
        // A checkpoint signed by another key.
        let (_other_home, other) = log_with(3);
        let foreign = other.checkpoint().expect("read").expect("exists");
        fs::write(log.path("checkpoint"), &foreign).expect("write");
        let error = log.verify(&[]).expect_err("foreign").to_string();
        assert!(error.contains("no valid signature"), "{error}");
        // A log rewritten and re-signed with its own key, against a checkpoint exported earlier.
        let (_home, log) = log_with(3);
        let earlier = log.checkpoint().expect("read").expect("exists");
        fs::remove_file(log.path("log.jsonl")).expect("remove");
        fs::remove_file(log.path("checkpoint")).expect("remove");
        for i in 0..4 {
            log.append("forged", serde_json::json!({"i": i}))
                .expect("append");
        }
        let error = log.verify(&[earlier]).expect_err("rewritten").to_string();
        assert!(error.contains("is not a prefix of this log"), "{error}");
    }
}
