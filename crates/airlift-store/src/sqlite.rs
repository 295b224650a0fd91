//! The embedded index: one SQLite file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use airlift_core::Digest;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::StoreError;
use crate::meta::{AuditHead, Change, Entry, Generation, MetaStore, Pruned};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS generations (
    id          INTEGER PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    source      TEXT NOT NULL,
    entries     INTEGER NOT NULL
);
-- An entry is visible in generations [added_in, removed_in).
CREATE TABLE IF NOT EXISTS entries (
    ecosystem   TEXT NOT NULL,
    key         TEXT NOT NULL,
    added_in    INTEGER NOT NULL REFERENCES generations(id),
    removed_in  INTEGER REFERENCES generations(id),
    digest      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    meta        TEXT NOT NULL,
    PRIMARY KEY (ecosystem, key, added_in)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_live ON entries (removed_in, ecosystem, key);
CREATE TABLE IF NOT EXISTS state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Access records (users, tokens), outside every generation.
CREATE TABLE IF NOT EXISTS records (
    kind  TEXT NOT NULL,
    name  TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, name)
) WITHOUT ROWID;
-- The audit log's head (one row): see MetaStore::record_audit_head.
CREATE TABLE IF NOT EXISTS audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    size  INTEGER NOT NULL,
    root  TEXT NOT NULL
);
";

/// The index in a SQLite database (WAL mode, synchronous=FULL).
pub struct SqliteMetaStore {
    path: PathBuf,
    connection: Mutex<Connection>,
}

impl SqliteMetaStore {
    /// Opens or creates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(StoreError::io("create directory", parent))?;
        }
        let connection = Connection::open(path).map_err(|source| StoreError::Database {
            path: path.to_path_buf(),
            source,
        })?;
        Self::init(path, connection)
    }

    /// An in-memory database (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        let connection = Connection::open_in_memory().map_err(|source| StoreError::Database {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        Self::init(Path::new(":memory:"), connection)
    }

    fn init(path: &Path, connection: Connection) -> Result<Self, StoreError> {
        let db = |source| StoreError::Database {
            path: path.to_path_buf(),
            source,
        };
        connection
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;",
            )
            .map_err(db)?;
        let old_layout: bool = connection
            .prepare("SELECT 1 FROM pragma_table_info('entries') WHERE name = 'generation'")
            .and_then(|mut statement| statement.exists([]))
            .map_err(db)?;
        if old_layout {
            return Err(StoreError::OldLayout(path.to_path_buf()));
        }
        connection.execute_batch(SCHEMA).map_err(db)?;
        Ok(Self {
            path: path.to_path_buf(),
            connection: Mutex::new(connection),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut guard = self
            .connection
            .lock()
            .map_err(|_| StoreError::Corrupt("index lock poisoned".to_owned()))?;
        f(&mut guard).map_err(|source| StoreError::Database {
            path: self.path.clone(),
            source,
        })
    }
}

fn row_to_generation(row: &rusqlite::Row<'_>) -> rusqlite::Result<Generation> {
    Ok(Generation {
        id: row.get::<_, i64>(0)? as u64,
        created_at: row.get(1)?,
        source: row.get(2)?,
        entries: row.get::<_, i64>(3)? as u64,
    })
}

type RawEntry = (String, String, String, i64, String);

fn decode_entry(raw: RawEntry) -> Result<Entry, StoreError> {
    let (ecosystem, key, digest, size, meta) = raw;
    let digest = digest
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("entry {ecosystem}/{key}: {e}")))?;
    let meta = serde_json::from_str(&meta)
        .map_err(|e| StoreError::Corrupt(format!("entry {ecosystem}/{key} meta: {e}")))?;
    Ok(Entry {
        ecosystem,
        key,
        digest,
        size: size as u64,
        meta,
    })
}

fn raw_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

impl MetaStore for SqliteMetaStore {
    fn current(&self) -> Result<Option<Generation>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT g.id, g.created_at, g.source, g.entries FROM generations g
                 JOIN state s ON s.key = 'current_generation' AND CAST(s.value AS INTEGER) = g.id",
                [],
                row_to_generation,
            )
            .optional()
        })
    }

    fn generations(&self) -> Result<Vec<Generation>, StoreError> {
        self.with(|c| {
            let mut statement =
                c.prepare("SELECT id, created_at, source, entries FROM generations ORDER BY id")?;
            let rows = statement.query_map([], row_to_generation)?;
            rows.collect()
        })
    }

    fn generation(&self, id: u64) -> Result<Option<Generation>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT id, created_at, source, entries FROM generations WHERE id = ?1",
                params![id as i64],
                row_to_generation,
            )
            .optional()
        })
    }

    fn entries(&self, generation: u64, ecosystem: Option<&str>) -> Result<Vec<Entry>, StoreError> {
        let raw: Vec<RawEntry> = self.with(|c| {
            let mut statement = c.prepare_cached(
                "SELECT ecosystem, key, digest, size, meta FROM entries
                 WHERE added_in <= ?1 AND (removed_in IS NULL OR removed_in > ?1)
                   AND (?2 IS NULL OR ecosystem = ?2)
                 ORDER BY ecosystem, key",
            )?;
            let rows = statement.query_map(params![generation as i64, ecosystem], raw_entry)?;
            rows.collect()
        })?;
        raw.into_iter().map(decode_entry).collect()
    }

    fn for_each_entry(
        &self,
        generation: u64,
        ecosystem: Option<&str>,
        each: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut failed: Option<StoreError> = None;
        self.with(|c| {
            let mut statement = c.prepare_cached(
                "SELECT ecosystem, key, digest, size, meta FROM entries
                 WHERE added_in <= ?1 AND (removed_in IS NULL OR removed_in > ?1)
                   AND (?2 IS NULL OR ecosystem = ?2)
                 ORDER BY ecosystem, key",
            )?;
            let mut rows = statement.query_map(params![generation as i64, ecosystem], raw_entry)?;
            for row in rows.by_ref() {
                if let Err(e) = decode_entry(row?).and_then(&mut *each) {
                    failed = Some(e);
                    break;
                }
            }
            Ok(())
        })?;
        failed.map_or(Ok(()), Err)
    }

    fn entries_with_prefix(
        &self,
        generation: u64,
        ecosystem: &str,
        prefix: &str,
    ) -> Result<Vec<Entry>, StoreError> {
        let raw: Vec<RawEntry> = self.with(|c| {
            let mut statement = c.prepare_cached(
                "SELECT ecosystem, key, digest, size, meta FROM entries
                 WHERE ecosystem = ?2 AND substr(key, 1, length(?3)) = ?3
                   AND added_in <= ?1 AND (removed_in IS NULL OR removed_in > ?1)
                 ORDER BY key",
            )?;
            let rows =
                statement.query_map(params![generation as i64, ecosystem, prefix], raw_entry)?;
            rows.collect()
        })?;
        raw.into_iter().map(decode_entry).collect()
    }

    fn entry(
        &self,
        generation: u64,
        ecosystem: &str,
        key: &str,
    ) -> Result<Option<Entry>, StoreError> {
        let raw = self.with(|c| {
            c.prepare_cached(
                "SELECT ecosystem, key, digest, size, meta FROM entries
                 WHERE ecosystem = ?2 AND key = ?3
                   AND added_in <= ?1 AND (removed_in IS NULL OR removed_in > ?1)",
            )?
            .query_row(params![generation as i64, ecosystem, key], raw_entry)
            .optional()
        })?;
        raw.map(decode_entry).transpose()
    }

    fn apply(&self, change: Change) -> Result<Generation, StoreError> {
        crate::meta::ensure_unique_keys(&change.upserts, "change")?;
        self.with(|c| {
            // IMMEDIATE: take the write lock before reading MAX(id), so two
            // processes (a server taking pushes, an import) queue on the busy
            // timeout instead of failing on a lock upgrade.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let next: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM generations", [], |r| r.get(0))?;
            let previous: i64 = tx.query_row(
                "SELECT COALESCE((SELECT entries FROM generations WHERE id = ?1), 0)",
                params![next - 1],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO generations (id, created_at, source, entries) VALUES (?1, ?2, ?3, 0)",
                params![next, change.created_at, change.source],
            )?;
            let mut live = previous;
            {
                let mut retire = tx.prepare_cached(
                    "UPDATE entries SET removed_in = ?1 WHERE ecosystem = ?2 AND key = ?3 AND removed_in IS NULL",
                )?;
                let mut insert = tx.prepare_cached(
                    "INSERT INTO entries (ecosystem, key, added_in, removed_in, digest, size, meta)
                     VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6)",
                )?;
                for (ecosystem, key) in &change.removals {
                    live -= retire.execute(params![next, ecosystem, key])? as i64;
                }
                for entry in &change.upserts {
                    live -= retire.execute(params![next, entry.ecosystem, entry.key])? as i64;
                    insert.execute(params![
                        entry.ecosystem,
                        entry.key,
                        next,
                        entry.digest.to_string(),
                        entry.size as i64,
                        entry.meta.to_string(),
                    ])?;
                    live += 1;
                }
                let mut set = tx.prepare_cached(
                    "INSERT INTO state (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                )?;
                set.execute(params!["current_generation", next.to_string()])?;
                for (key, value) in &change.state {
                    set.execute(params![key, value])?;
                }
            }
            tx.execute("UPDATE generations SET entries = ?1 WHERE id = ?2", params![live, next])?;
            tx.commit()?;
            Ok(Generation {
                id: next as u64,
                created_at: change.created_at,
                source: change.source.clone(),
                entries: live as u64,
            })
        })
    }

    fn state(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT value FROM state WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn records(&self, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.with(|c| {
            let mut statement =
                c.prepare_cached("SELECT name, value FROM records WHERE kind = ?1 ORDER BY name")?;
            let rows = statement.query_map(params![kind], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn put_record(
        &self,
        kind: &str,
        name: &str,
        value: Option<&str>,
        create: bool,
    ) -> Result<bool, StoreError> {
        let outcome = self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists = tx
                .prepare_cached("SELECT 1 FROM records WHERE kind = ?1 AND name = ?2")?
                .exists(params![kind, name])?;
            if create && exists {
                return Ok(None);
            }
            let changed = match value {
                Some(value) => tx.execute(
                    "INSERT INTO records (kind, name, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT(kind, name) DO UPDATE SET value = excluded.value",
                    params![kind, name, value],
                )?,
                None => tx.execute(
                    "DELETE FROM records WHERE kind = ?1 AND name = ?2",
                    params![kind, name],
                )?,
            };
            if changed > 0 {
                tx.execute(
                    "INSERT INTO state (key, value) VALUES ('records_version', '1')
                     ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
                    [],
                )?;
            }
            tx.commit()?;
            Ok(Some(changed > 0))
        })?;
        outcome.ok_or_else(|| StoreError::RecordExists {
            kind: kind.to_owned(),
            name: name.to_owned(),
        })
    }

    fn records_version(&self) -> Result<u64, StoreError> {
        Ok(self
            .state("records_version")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        self.with(|c| read_audit_head(c))
    }

    fn clear_audit_head(&self, expected: &AuditHead) -> Result<(), StoreError> {
        let refused = self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            match read_audit_head(&tx)? {
                Some(recorded) if recorded == *expected => {
                    tx.execute("DELETE FROM audit_head WHERE id = 1", [])?;
                    tx.commit()?;
                    Ok(None)
                }
                recorded => Ok(Some(recorded.unwrap_or(AuditHead {
                    size: 0,
                    root: String::new(),
                }))),
            }
        })?;
        refused.map_or(Ok(()), |recorded| Err(head_refused(recorded, expected)))
    }

    fn record_audit_head(&self, head: &AuditHead) -> Result<(), StoreError> {
        let refused = self.with(|c| {
            // IMMEDIATE: the comparison and the write are one step, even
            // with another process recording at the same time.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(recorded) = read_audit_head(&tx)?
                && (recorded.size > head.size
                    || (recorded.size == head.size && recorded.root != head.root))
            {
                return Ok(Some(recorded));
            }
            tx.execute(
                "INSERT INTO audit_head (id, size, root) VALUES (1, ?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET size = excluded.size, root = excluded.root",
                params![head.size as i64, head.root],
            )?;
            tx.commit()?;
            Ok(None)
        })?;
        refused.map_or(Ok(()), |recorded| Err(head_refused(recorded, head)))
    }

    fn referenced_digests(&self, from_generation: u64) -> Result<BTreeSet<Digest>, StoreError> {
        // A row is seen by some generation from `from_generation` on when it
        // was not removed before it. Rows added later are seen by their own
        // generation, so they count too.
        let raw: Vec<String> = self.with(|c| {
            let mut statement = c.prepare_cached(
                "SELECT DISTINCT digest FROM entries WHERE removed_in IS NULL OR removed_in > ?1",
            )?;
            let from = i64::try_from(from_generation).unwrap_or(i64::MAX);
            let rows = statement.query_map(params![from], |r| r.get(0))?;
            rows.collect()
        })?;
        raw.iter()
            .map(|digest| {
                digest
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("entry digest {digest}: {e}")))
            })
            .collect()
    }

    fn prune_generations(&self, oldest_kept: u64, dry_run: bool) -> Result<Pruned, StoreError> {
        self.with(|c| {
            // IMMEDIATE: no generation is committed while the rows are
            // counted and removed, so the counts are what was removed.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current: Option<i64> = tx
                .query_row(
                    "SELECT CAST(value AS INTEGER) FROM state WHERE key = 'current_generation'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(current) = current else {
                return Ok(Pruned::default());
            };
            let kept = i64::try_from(oldest_kept).unwrap_or(i64::MAX).min(current);
            let generations: i64 = tx.query_row(
                "SELECT COUNT(*) FROM generations WHERE id < ?1",
                params![kept],
                |r| r.get(0),
            )?;
            let rows: i64 = tx.query_row(
                "SELECT COUNT(*) FROM entries WHERE removed_in IS NOT NULL AND removed_in <= ?1",
                params![kept],
                |r| r.get(0),
            )?;
            let pruned = Pruned {
                generations: generations as u64,
                rows: rows as u64,
            };
            if dry_run {
                return Ok(pruned);
            }
            tx.execute(
                "DELETE FROM entries WHERE removed_in IS NOT NULL AND removed_in <= ?1",
                params![kept],
            )?;
            // The rows left that were added before `kept` are seen from
            // `kept` on: say so, so that `added_in` names a generation that
            // still exists (a foreign key). No two rows of one key collide:
            // at most one row of a key is seen by `kept`.
            tx.execute(
                "UPDATE entries SET added_in = ?1 WHERE added_in < ?1",
                params![kept],
            )?;
            tx.execute("DELETE FROM generations WHERE id < ?1", params![kept])?;
            tx.commit()?;
            Ok(pruned)
        })
    }
}

/// The audit head row, if any.
fn read_audit_head(c: &Connection) -> rusqlite::Result<Option<AuditHead>> {
    c.query_row("SELECT size, root FROM audit_head WHERE id = 1", [], |r| {
        Ok(AuditHead {
            size: r.get::<_, i64>(0)? as u64,
            root: r.get(1)?,
        })
    })
    .optional()
}

/// The refusal of `offered` when `recorded` is the head.
fn head_refused(recorded: AuditHead, offered: &AuditHead) -> StoreError {
    StoreError::AuditHead {
        recorded: recorded.size,
        recorded_root: recorded.root,
        offered: offered.size,
        offered_root: offered.root.clone(),
    }
}
