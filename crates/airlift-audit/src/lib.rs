//! The tamper-evident audit log: every event is a line of JSON and a leaf
//! of an RFC 6962 Merkle tree (leaf `SHA-256(0x00‖entry)`, node
//! `SHA-256(0x01‖left‖right)`); after each append the tree head is signed as
//! a C2SP checkpoint (a signed note with an Ed25519 signature line).
//!
//! ```text
//! <home>/audit/log.jsonl       one event per line: {"index","time","event","detail"}
//! <home>/audit/checkpoint      the latest signed checkpoint
//! <home>/audit/frontier.json   the tree's right edge after the last append (a cache)
//! <home>/audit/note.key        the log's Ed25519 key (PKCS#8, mode 0600)
//! <home>/audit/note.pub        its verifier key: <name>+<key hash hex>+<base64(0x01‖public key)>
//! <home>/audit/lock            serialises appenders
//! ```
//!
//! An append costs O(log n): it extends the frontier (the roots of the
//! perfect subtrees along the tree's right edge) kept in `frontier.json`,
//! after checking that file against the signed checkpoint, the log's length
//! and its last line. When the frontier is missing or does not match, the
//! append rebuilds it from the whole log, with every check of a full read.
//!
//! A [`Witness`] outside `<home>/audit/` (the CLI uses the home's index
//! database) records the log's size and root after every append, so a log
//! that was deleted or shortened, and then started again, is reported
//! instead of verifying as a fresh, intact log.
//!
//! [`Log::verify`] recomputes the tree from the log in one linear pass: an
//! edited, deleted, reordered or truncated entry, a forged checkpoint, or a
//! log shorter than its witness records, is reported as tampering. A
//! checkpoint exported earlier (to a SIEM, to the other side of the gap) can
//! be checked against the log, which proves the log was only appended to
//! since. An append cut short (a full disk, a crash) is reported as an
//! interrupted append, and the next append repairs it.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// An append was cut short (a full disk, a crash): the signed history
    /// is intact, and the next append repairs the log. Not tampering.
    #[error("audit log {path}: interrupted append: {message}")]
    Interrupted {
        /// The file.
        path: PathBuf,
        /// What was left behind.
        message: String,
    },
    /// The witness (the index's record of the log's head) failed.
    #[error("the record of the audit log's head: {message}")]
    Witness {
        /// What failed, naming the witness's own storage.
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

/// The right edge of an RFC 6962 tree: the roots of its perfect subtrees,
/// largest first, one per set bit of its size. Appending a leaf merges the
/// subtrees it completes, as a binary counter carries, so it costs
/// O(log n) hashes; the root folds the subtrees from the right, which is
/// how RFC 6962 splits a tree whose size is not a power of two.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<[u8; 32]>,
}

impl Frontier {
    /// The frontier of an empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from its parts; `None` when `nodes` cannot be
    /// the right edge of a tree of `size` leaves.
    fn from_parts(size: u64, nodes: Vec<[u8; 32]>) -> Option<Self> {
        (nodes.len() == size.count_ones() as usize).then_some(Self { size, nodes })
    }

    /// Leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: [u8; 32]) {
        let mut carry = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            // One node per set bit, so a trailing 1 always has its node.
            let Some(left) = self.nodes.pop() else { break };
            carry = node_hash(&left, &carry);
            size >>= 1;
        }
        self.nodes.push(carry);
        self.size += 1;
    }

    /// The tree hash.
    pub fn root(&self) -> [u8; 32] {
        match self.nodes.split_last() {
            None => sha256(&[]),
            Some((last, rest)) => rest
                .iter()
                .rev()
                .fold(*last, |right, left| node_hash(left, &right)),
        }
    }
}

/// The size and root of the log's tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Entries.
    pub size: u64,
    /// The tree hash.
    pub root: [u8; 32],
}

impl Head {
    /// A head from a root in lowercase or uppercase hex; `None` when `root`
    /// is not 32 bytes of hex.
    pub fn from_hex(size: u64, root: &str) -> Option<Self> {
        let root = hex::decode(root).ok()?.try_into().ok()?;
        Some(Self { size, root })
    }

    /// The root, lowercase hex.
    pub fn root_hex(&self) -> String {
        hex::encode(self.root)
    }
}

/// A record of the log's head kept outside `<home>/audit/`, so that deleting
/// or shortening the log there is noticed (the CLI keeps it in the home's
/// index database). Appends read it before they write and record the new
/// head after they sign; [`Log::verify`] reads it before the log, so a
/// concurrent append never makes the record look ahead of the log.
pub trait Witness: Send + Sync {
    /// The head last recorded, if any.
    fn recorded(&self) -> Result<Option<Head>, String>;
    /// Records a new head.
    fn record(&self, head: Head) -> Result<(), String>;
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
    /// The entries the witness records (it agrees with the log's first
    /// entries), or `None` without a witness or a record.
    pub recorded_entries: Option<u64>,
}

/// The frontier as persisted in `frontier.json`, with what ties it to the
/// log file: the log's length after the last line, and where that line
/// starts and what it hashes to.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontierFile {
    size: u64,
    bytes: u64,
    last_offset: u64,
    last_leaf: String,
    nodes: Vec<String>,
}

/// Where the log's last line starts, and its leaf hash (`None`: no line).
type LastLine = Option<(u64, [u8; 32])>;

/// Where the next line goes, and what the log holds before it.
struct Tip {
    frontier: Frontier,
    /// The log's length in bytes: where the next line starts.
    bytes: u64,
    /// Where the last line starts, and its leaf hash.
    last: LastLine,
    /// Complete entries after the signed checkpoint (a crash before signing).
    unsigned: u64,
    /// Bytes of an incomplete last line that were cut off.
    discarded: u64,
}

/// One linear pass over the log.
struct Scan {
    frontier: Frontier,
    /// Offset after the last complete line.
    complete_bytes: u64,
    /// Bytes after it (an incomplete last line).
    partial_bytes: u64,
    last: LastLine,
    /// The tree hash at each requested size the log reaches.
    roots: BTreeMap<u64, [u8; 32]>,
}

/// An audit log under a home.
pub struct Log {
    dir: PathBuf,
    witness: Option<Arc<dyn Witness>>,
    #[cfg(test)]
    scans: std::sync::atomic::AtomicU64,
    #[cfg(test)]
    fail_checkpoint_write: std::sync::atomic::AtomicBool,
}

impl Log {
    /// The log of the home `home` (created on first append), without a
    /// witness: a deleted or shortened log goes unnoticed by this value.
    pub fn new(home: &Path) -> Self {
        Self {
            dir: home.join("audit"),
            witness: None,
            #[cfg(test)]
            scans: std::sync::atomic::AtomicU64::new(0),
            #[cfg(test)]
            fail_checkpoint_write: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The log of the home `home`, whose head `witness` records.
    pub fn with_witness(home: &Path, witness: Arc<dyn Witness>) -> Self {
        Self {
            witness: Some(witness),
            ..Self::new(home)
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn recorded(&self) -> Result<Option<Head>, AuditError> {
        match &self.witness {
            Some(witness) => witness
                .recorded()
                .map_err(|message| AuditError::Witness { message }),
            None => Ok(None),
        }
    }

    /// Appends an event and signs a new checkpoint; returns its index.
    ///
    /// The log is checked first, and nothing is appended over a log that no
    /// longer matches its last checkpoint or is shorter than its witness
    /// records. A write that fails (a full disk) is undone: the log is cut
    /// back to its length before the append, so it still matches its
    /// checkpoint. An incomplete last line left by an earlier crash is cut
    /// off, and complete lines its checkpoint does not cover are signed, both
    /// recorded first as an `audit-recovered` event.
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
        let recorded = self.recorded()?;
        // Never sign over a log that no longer matches its last checkpoint:
        // that would launder an edit or a truncation.
        let checkpoint = match self.checkpoint()? {
            Some(text) => {
                let public = self.public_key()?;
                Some(
                    parse_checkpoint(&text, &public).map_err(|m| AuditError::Tampered {
                        path: self.path("checkpoint"),
                        message: format!("{m}; refusing to append"),
                    })?,
                )
            }
            None => None,
        };
        let length = match fs::metadata(&log_path) {
            Ok(metadata) => metadata.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io("stat", &log_path)(e)),
        };
        let tip = match self.fast_tip(checkpoint.as_ref(), length, recorded)? {
            Some(tip) => tip,
            None => self.rebuild_tip(checkpoint.as_ref(), recorded)?,
        };
        if let Some(head) = recorded
            && head.size > tip.frontier.size()
        {
            return Err(AuditError::Tampered {
                path: log_path,
                message: format!(
                    "{}; refusing to append; run `airlift audit verify`",
                    shorter_than_recorded(head.size, tip.frontier.size())
                ),
            });
        }
        let mut events = Vec::new();
        if tip.unsigned > 0 || tip.discarded > 0 {
            events.push((
                "audit-recovered".to_owned(),
                serde_json::json!({
                    "unsigned_entries": tip.unsigned,
                    "discarded_bytes": tip.discarded,
                    "note": "an append interrupted before this one: its complete entries are signed late by this checkpoint, an incomplete last line was cut off",
                }),
            ));
        }
        events.push((event.to_owned(), detail));
        let mut frontier = tip.frontier;
        let mut buffer = Vec::new();
        let mut last = tip.last;
        let mut index = frontier.size();
        for (name, detail) in events {
            let entry = Event {
                index: frontier.size(),
                time: jiff::Timestamp::now().to_string(),
                event: name,
                detail,
            };
            index = entry.index;
            let line = serde_json::to_string(&entry).map_err(|e| AuditError::Tampered {
                path: log_path.clone(),
                message: format!("cannot encode an entry: {e}"),
            })?;
            let leaf = leaf_hash(line.as_bytes());
            last = Some((tip.bytes + buffer.len() as u64, leaf));
            buffer.extend_from_slice(line.as_bytes());
            buffer.push(b'\n');
            frontier.push(leaf);
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io("open", &log_path))?;
        let written = file
            .write_all(&buffer)
            .map_err(io("append to", &log_path))
            .and_then(|()| file.sync_all().map_err(io("fsync", &log_path)));
        if let Err(e) = written {
            return Err(self.undo(&file, tip.bytes, e));
        }
        let head = Head {
            size: frontier.size(),
            root: frontier.root(),
        };
        let note = sign_checkpoint(&key, &self.origin(&key), head.size, &head.root);
        if let Err(e) = self.write_checkpoint(&note) {
            // The checkpoint is replaced by a rename: if the new one is not
            // in place, the old one still covers the log without this line.
            if self.checkpoint().ok().flatten().as_deref() != Some(note.as_str()) {
                return Err(self.undo(&file, tip.bytes, e));
            }
        }
        // A cache: a stale or missing file costs the next append a full read.
        let _ = self.save_frontier(&frontier, tip.bytes + buffer.len() as u64, last);
        if let Some(witness) = &self.witness {
            witness
                .record(head)
                .map_err(|message| AuditError::Witness {
                    message: format!(
                        "entry {index} was appended and signed, but its head was not recorded: {message}"
                    ),
                })?;
        }
        Ok(index)
    }

    /// Cuts the log back to `length` after a failed append and returns the
    /// append's error (with the cut's own failure, if any, in its message).
    fn undo(&self, file: &File, length: u64, error: AuditError) -> AuditError {
        match file.set_len(length).and_then(|()| file.sync_all()) {
            Ok(()) => error,
            Err(cut) => AuditError::Interrupted {
                path: self.path("log.jsonl"),
                message: format!(
                    "{error}; and the partial entry could not be cut off ({cut}): the next append will"
                ),
            },
        }
    }

    fn write_checkpoint(&self, note: &str) -> Result<(), AuditError> {
        let path = self.path("checkpoint");
        #[cfg(test)]
        if self
            .fail_checkpoint_write
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(io("write", &path)(std::io::Error::from_raw_os_error(28)));
        }
        airlift_core::write_file_durably(&path, note.as_bytes()).map_err(io("write", &path))
    }

    /// The tip from `frontier.json`, without reading the log, when that file
    /// matches the signed checkpoint, the log's length and the log's last
    /// line, and the witness records no more than it. `None` sends the
    /// append to [`Log::rebuild_tip`].
    fn fast_tip(
        &self,
        checkpoint: Option<&Checkpoint>,
        length: u64,
        recorded: Option<Head>,
    ) -> Result<Option<Tip>, AuditError> {
        let Some(checkpoint) = checkpoint else {
            // No checkpoint: a new log when there are no bytes either.
            return Ok(
                (length == 0 && recorded.is_none_or(|h| h.size == 0)).then(|| Tip {
                    frontier: Frontier::new(),
                    bytes: 0,
                    last: None,
                    unsigned: 0,
                    discarded: 0,
                }),
            );
        };
        let Some((frontier, bytes, last)) = self.load_frontier() else {
            return Ok(None);
        };
        if frontier.size() != checkpoint.size
            || frontier.root() != checkpoint.root
            || bytes != length
        {
            return Ok(None);
        }
        if let Some(head) = recorded
            && (head.size < frontier.size()
                || head.size == frontier.size() && head.root != checkpoint.root)
        {
            // The witness lags (a crash after signing) or disagrees: only a
            // full read can tell which.
            return Ok(None);
        }
        match last {
            Some((offset, leaf)) => {
                let path = self.path("log.jsonl");
                let mut file = File::open(&path).map_err(io("open", &path))?;
                file.seek(SeekFrom::Start(offset))
                    .map_err(io("seek", &path))?;
                let mut line = Vec::new();
                file.take(length.saturating_sub(offset))
                    .read_to_end(&mut line)
                    .map_err(io("read", &path))?;
                if line.pop() != Some(b'\n') || leaf_hash(&line) != leaf {
                    return Ok(None);
                }
            }
            None if bytes != 0 => return Ok(None),
            None => {}
        }
        Ok(Some(Tip {
            frontier,
            bytes,
            last,
            unsigned: 0,
            discarded: 0,
        }))
    }

    /// The tip from a full read of the log, with every check: each line is
    /// the entry its position says, the signed checkpoint covers a prefix of
    /// the log, and the witness's record is a prefix too. An incomplete last
    /// line is cut off once all of that holds.
    fn rebuild_tip(
        &self,
        checkpoint: Option<&Checkpoint>,
        recorded: Option<Head>,
    ) -> Result<Tip, AuditError> {
        let log_path = self.path("log.jsonl");
        let mut targets = Vec::new();
        targets.extend(checkpoint.map(|c| c.size));
        targets.extend(recorded.map(|h| h.size));
        let scan = self.scan(&targets)?;
        let count = scan.frontier.size();
        let tampered = |message: String| AuditError::Tampered {
            path: log_path.clone(),
            message,
        };
        if let Some(head) = recorded
            && head.size > count
        {
            return Err(tampered(format!(
                "{}; refusing to append; run `airlift audit verify`",
                shorter_than_recorded(head.size, count)
            )));
        }
        let unsigned = match checkpoint {
            Some(checkpoint) => {
                if scan.roots.get(&checkpoint.size) != Some(&checkpoint.root) {
                    return Err(tampered(format!(
                        "the log ({count} entries) does not match its last checkpoint ({} entries); refusing to append; run `airlift audit verify`",
                        checkpoint.size
                    )));
                }
                count - checkpoint.size
            }
            None if count > 0 => {
                return Err(tampered(
                    "the log has entries but no checkpoint; refusing to append".into(),
                ));
            }
            None => 0,
        };
        if let Some(head) = recorded
            && scan.roots.get(&head.size) != Some(&head.root)
        {
            return Err(tampered(format!(
                "{}; refusing to append; run `airlift audit verify`",
                rewritten_since_recorded(head.size)
            )));
        }
        if scan.partial_bytes > 0 {
            let file = OpenOptions::new()
                .write(true)
                .open(&log_path)
                .map_err(io("open", &log_path))?;
            file.set_len(scan.complete_bytes)
                .and_then(|()| file.sync_all())
                .map_err(io("cut the incomplete last line of", &log_path))?;
        }
        Ok(Tip {
            frontier: scan.frontier,
            bytes: scan.complete_bytes,
            last: scan.last,
            unsigned,
            discarded: scan.partial_bytes,
        })
    }

    fn load_frontier(&self) -> Option<(Frontier, u64, LastLine)> {
        let text = fs::read(self.path("frontier.json")).ok()?;
        let file: FrontierFile = serde_json::from_slice(&text).ok()?;
        let decode =
            |hex_text: &str| -> Option<[u8; 32]> { hex::decode(hex_text).ok()?.try_into().ok() };
        let nodes = file
            .nodes
            .iter()
            .map(|n| decode(n))
            .collect::<Option<Vec<_>>>()?;
        let frontier = Frontier::from_parts(file.size, nodes)?;
        let last = match file.size {
            0 => None,
            _ => Some((file.last_offset, decode(&file.last_leaf)?)),
        };
        Some((frontier, file.bytes, last))
    }

    /// Replaces `frontier.json` by a rename, without an fsync: after a crash
    /// it is old or missing, which the next append notices and rebuilds.
    fn save_frontier(
        &self,
        frontier: &Frontier,
        bytes: u64,
        last: LastLine,
    ) -> std::io::Result<()> {
        let (last_offset, last_leaf) = last.unwrap_or((0, [0; 32]));
        let file = FrontierFile {
            size: frontier.size(),
            bytes,
            last_offset,
            last_leaf: hex::encode(last_leaf),
            nodes: frontier.nodes.iter().map(hex::encode).collect(),
        };
        let text = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
        let temp = self.path("frontier.json.tmp");
        fs::write(&temp, text)?;
        fs::rename(&temp, self.path("frontier.json"))
    }

    /// Reads the log once: checks that each complete line is the entry its
    /// position says, builds the frontier, and notes the root at each size in
    /// `targets` that the log reaches. Bytes after the last newline are an
    /// incomplete line, counted and not parsed.
    fn scan(&self, targets: &[u64]) -> Result<Scan, AuditError> {
        #[cfg(test)]
        self.scans.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = self.path("log.jsonl");
        let mut scan = Scan {
            frontier: Frontier::new(),
            complete_bytes: 0,
            partial_bytes: 0,
            last: None,
            roots: BTreeMap::new(),
        };
        if targets.contains(&0) {
            scan.roots.insert(0, scan.frontier.root());
        }
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(scan),
            Err(e) => return Err(io("open", &path)(e)),
        };
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(io("read", &path))?;
            if read == 0 {
                break;
            }
            if line.pop() != Some(b'\n') {
                scan.partial_bytes = read as u64;
                break;
            }
            let n = scan.frontier.size();
            let event: Event = serde_json::from_slice(&line).map_err(|e| AuditError::Tampered {
                path: path.clone(),
                message: format!("line {}: not an audit entry: {e}", n + 1),
            })?;
            if event.index != n {
                return Err(AuditError::Tampered {
                    path: path.clone(),
                    message: format!(
                        "line {} holds entry {}: entries were deleted, inserted or reordered",
                        n + 1,
                        event.index
                    ),
                });
            }
            let leaf = leaf_hash(&line);
            scan.last = Some((scan.complete_bytes, leaf));
            scan.complete_bytes += read as u64;
            scan.frontier.push(leaf);
            if targets.contains(&scan.frontier.size()) {
                scan.roots
                    .insert(scan.frontier.size(), scan.frontier.root());
            }
        }
        Ok(scan)
    }

    /// Every event, in order (the log is not verified; see [`Log::verify`]).
    /// An incomplete last line, left by an interrupted append, is not an
    /// event and is left out.
    pub fn events(&self) -> Result<Vec<Event>, AuditError> {
        let path = self.path("log.jsonl");
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("open", &path)(e)),
        };
        let mut reader = BufReader::new(file);
        let mut events = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(io("read", &path))?;
            if read == 0 || line.pop() != Some(b'\n') {
                break;
            }
            events.push(
                serde_json::from_slice(&line).map_err(|e| AuditError::Tampered {
                    path: path.clone(),
                    message: format!("line {}: not an audit entry: {e}", events.len() + 1),
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

    /// The head of the log as `frontier.json` states it, without reading the
    /// log: a cheap count for tools and tests, `None` when the file is
    /// missing or unreadable. Not verified; see [`Log::verify`].
    pub fn head(&self) -> Option<Head> {
        self.load_frontier().map(|(frontier, _, _)| Head {
            size: frontier.size(),
            root: frontier.root(),
        })
    }

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

/// The message for a log shorter than its witness records.
fn shorter_than_recorded(recorded: u64, count: u64) -> String {
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
fn rewritten_since_recorded(recorded: u64) -> String {
    format!(
        "the log's first {recorded} entries do not hash to the root the index records for them: the log was rewritten (or reset and written again)"
    )
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
        let error = log.verify(&[]).expect_err("an unsigned tail is reported");
        assert!(
            matches!(error, AuditError::Interrupted { .. }),
            "reported as {error}"
        );
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

    /// A witness in memory, as the index keeps it.
    #[derive(Default)]
    struct MemoryWitness(std::sync::Mutex<Option<Head>>);

    impl Witness for MemoryWitness {
        fn recorded(&self) -> Result<Option<Head>, String> {
            Ok(*self.0.lock().map_err(|e| e.to_string())?)
        }
        fn record(&self, head: Head) -> Result<(), String> {
            *self.0.lock().map_err(|e| e.to_string())? = Some(head);
            Ok(())
        }
    }

    fn witnessed_log_with(n: usize) -> (tempfile::TempDir, Log, Arc<MemoryWitness>) {
        let home = tempfile::tempdir().expect("tempdir");
        let witness = Arc::new(MemoryWitness::default());
        let log = Log::with_witness(home.path(), witness.clone());
        for i in 0..n {
            log.append("test", serde_json::json!({"i": i}))
                .expect("append");
        }
        (home, log, witness)
    }

    #[test]
    fn the_frontier_matches_a_full_recompute_at_every_size() {
        let mut frontier = Frontier::new();
        let mut leaves = Vec::new();
        for i in 0u32..300 {
            let leaf = leaf_hash(&i.to_be_bytes());
            frontier.push(leaf);
            leaves.push(leaf);
            assert_eq!(frontier.root(), tree_hash(&leaves), "size {}", i + 1);
            assert_eq!(frontier.nodes.len(), leaves.len().count_ones() as usize);
        }
    }

    #[test]
    fn appends_extend_the_frontier_without_reading_the_log() {
        let (_home, log, witness) = witnessed_log_with(0);
        for i in 0..1000 {
            log.append("test", serde_json::json!({"i": i}))
                .expect("append");
        }
        assert_eq!(
            log.scans.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "an append read the whole log"
        );
        let leaves: Vec<[u8; 32]> = fs::read_to_string(log.path("log.jsonl"))
            .expect("read")
            .lines()
            .map(|l| leaf_hash(l.as_bytes()))
            .collect();
        let head = log.head().expect("frontier");
        assert_eq!(head.size, 1000);
        assert_eq!(head.root, tree_hash(&leaves), "the frontier drifted");
        assert_eq!(witness.recorded().expect("read"), Some(head));
        log.verify(&[]).expect("verifies");
        // A missing or stale frontier costs one full read, then none.
        fs::remove_file(log.path("frontier.json")).expect("remove");
        log.append("after", serde_json::json!({})).expect("append");
        fs::write(log.path("frontier.json"), b"{}").expect("spoil");
        log.append("after", serde_json::json!({})).expect("append");
        log.append("after", serde_json::json!({})).expect("append");
        assert_eq!(log.scans.load(std::sync::atomic::Ordering::SeqCst), 3);
        log.verify(&[]).expect("verifies");
    }

    #[test]
    fn the_fast_path_still_refuses_a_changed_last_line() {
        let (_home, log) = log_with(3);
        rewrite(&log, |l| l[2] = l[2].replace("\"i\":2", "\"i\":9"));
        let error = log
            .append("after", serde_json::json!({}))
            .expect_err("appended")
            .to_string();
        assert!(error.contains("refusing to append"), "{error}");
    }

    #[test]
    fn a_reset_or_shortened_log_is_reported_against_its_witness() {
        // Deleted: a fresh log would verify, and appends would start it again.
        let (_home, log, _witness) = witnessed_log_with(3);
        fs::remove_dir_all(&log.dir).expect("remove");
        let error = log.verify(&[]).expect_err("reset").to_string();
        assert!(
            error.contains("the log was reset: the index records 3 entries, the log has 0"),
            "{error}"
        );
        let error = log
            .append("after", serde_json::json!({}))
            .expect_err("appended over a reset")
            .to_string();
        assert!(error.contains("the log was reset"), "{error}");
        assert!(error.contains("refusing to append"), "{error}");
        // Shortened, with the checkpoint signed again over the shorter log.
        let (_home, log, witness) = witnessed_log_with(4);
        let recorded = witness.recorded().expect("read");
        fs::remove_dir_all(&log.dir).expect("remove");
        let plain = Log::new(log.dir.parent().expect("home"));
        for i in 0..2 {
            plain
                .append("test", serde_json::json!({"i": i}))
                .expect("append");
        }
        *witness.0.lock().expect("lock") = recorded;
        let error = log.verify(&[]).expect_err("shorter").to_string();
        assert!(
            error.contains("the log is shorter than the index records: the index records 4 entries, the log has 2"),
            "{error}"
        );
        // Rewritten to as many entries or more: the recorded root differs.
        for i in 2..5 {
            plain
                .append("test", serde_json::json!({"i": i}))
                .expect("append");
        }
        let error = log.verify(&[]).expect_err("rewritten").to_string();
        assert!(
            error.contains("do not hash to the root the index records"),
            "{error}"
        );
        let error = log
            .append("after", serde_json::json!({}))
            .expect_err("appended over a rewrite")
            .to_string();
        assert!(
            error.contains("do not hash to the root the index records"),
            "{error}"
        );
    }

    #[test]
    fn a_witness_that_lags_catches_up_on_the_next_append() {
        let (_home, log, witness) = witnessed_log_with(3);
        let lagging = witness.recorded().expect("read");
        log.append("more", serde_json::json!({})).expect("append");
        // As if the process died after signing, before the index recorded it.
        *witness.0.lock().expect("lock") = lagging;
        assert_eq!(log.verify(&[]).expect("verifies").recorded_entries, Some(3));
        log.append("more", serde_json::json!({})).expect("append");
        assert_eq!(log.verify(&[]).expect("verifies").recorded_entries, Some(5));
    }

    #[test]
    fn a_failed_checkpoint_write_takes_the_line_back() {
        let (_home, log, witness) = witnessed_log_with(3);
        let before = fs::read(log.path("log.jsonl")).expect("read");
        log.fail_checkpoint_write
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let error = log
            .append("lost", serde_json::json!({}))
            .expect_err("appended")
            .to_string();
        assert!(error.contains("os error 28"), "{error}");
        log.fail_checkpoint_write
            .store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(fs::read(log.path("log.jsonl")).expect("read"), before);
        assert_eq!(log.verify(&[]).expect("verifies").entries, 3);
        assert_eq!(witness.recorded().expect("read").map(|h| h.size), Some(3));
        log.append("next", serde_json::json!({})).expect("append");
        assert_eq!(log.verify(&[]).expect("verifies").entries, 4);
    }

    #[test]
    fn an_incomplete_last_line_is_an_interrupted_append_and_is_repaired() {
        let (_home, log, _witness) = witnessed_log_with(3);
        let mut file = OpenOptions::new()
            .append(true)
            .open(log.path("log.jsonl"))
            .expect("open");
        file.write_all(br#"{"index":3,"time":"2026-"#)
            .expect("write");
        drop(file);
        let error = log.verify(&[]).expect_err("partial line");
        assert!(
            matches!(error, AuditError::Interrupted { .. }),
            "reported as {error}"
        );
        assert!(
            error.to_string().contains("the last line is incomplete"),
            "{error}"
        );
        assert_eq!(log.events().expect("events").len(), 3);
        log.append("next", serde_json::json!({})).expect("repairs");
        let events = log.events().expect("events");
        assert_eq!(events[3].event, "audit-recovered");
        assert_eq!(events[3].detail["discarded_bytes"], 24);
        assert_eq!(events[4].event, "next");
        assert_eq!(log.verify(&[]).expect("verifies").entries, 5);
    }
}
