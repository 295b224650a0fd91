//! The log on disk: its files under `<home>/audit/`, the append (checked
//! against the signed checkpoint and the witness, extending the frontier,
//! undone when a write fails) and the recovery of an append cut short, and
//! the unverified reads (events, checkpoint, verifier key, head).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checkpoint::{Checkpoint, parse_checkpoint, sign_checkpoint};
use crate::merkle::{Frontier, leaf_hash};
use crate::verify::{rewritten_since_recorded, shorter_than_recorded};
use crate::{AuditError, Event, Head, Witness, io};

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
pub(crate) type LastLine = Option<(u64, [u8; 32])>;

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
pub(crate) struct Scan {
    pub(crate) frontier: Frontier,
    /// Offset after the last complete line.
    pub(crate) complete_bytes: u64,
    /// Bytes after it (an incomplete last line).
    pub(crate) partial_bytes: u64,
    pub(crate) last: LastLine,
    /// The tree hash at each requested size the log reaches.
    pub(crate) roots: BTreeMap<u64, [u8; 32]>,
}

/// An audit log under a home.
pub struct Log {
    pub(crate) dir: PathBuf,
    witness: Option<Arc<dyn Witness>>,
    #[cfg(test)]
    pub(crate) scans: std::sync::atomic::AtomicU64,
    #[cfg(test)]
    pub(crate) fail_checkpoint_write: std::sync::atomic::AtomicBool,
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

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub(crate) fn recorded(&self) -> Result<Option<Head>, AuditError> {
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
    pub(crate) fn scan(&self, targets: &[u64]) -> Result<Scan, AuditError> {
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
}
