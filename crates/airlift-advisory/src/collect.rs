//! Collecting OSV databases into the store: every record its own blob.
//!
//! An archive is downloaded into the store (checked against its pinned
//! digest when there is one), then read entry by entry: each `.json` entry,
//! within [`crate::MAX_RECORD_BYTES`], is parsed as an OSV record and
//! stored as its own blob under the index key `osv/<id>`. A daily update
//! therefore changes only the entries of the records that changed, and a
//! delta bundle carries only their blobs. A record in two sources (a GHSA
//! advisory in the PyPI and the npm archives) is kept once, the most
//! recently modified copy.
//!
//! One more entry, `database`, describes the whole: when it was built (the
//! newest `modified` of its records, so the same records give the same
//! bytes), its sources, and its counts per ecosystem. The isolated side
//! reads its age from it.
//!
//! Records that are not OSV (bad JSON, no id, an id that cannot be a key)
//! are skipped with a note naming them; an archive that is not a zip, or
//! one that claims more entries than [`MAX_ARCHIVE_ENTRIES`], fails the
//! collect.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use airlift_core::Digest;
use airlift_fetch::{FetchError, FetchProgress, Fetcher, Request};
use airlift_store::{Entry, Store, StoreError};

use crate::spec::Source;

/// The ecosystem's name in index entries.
pub const ECOSYSTEM: &str = "advisories";
/// The key of the entry that describes the database.
pub const DATABASE_KEY: &str = "database";
/// The most entries an archive may have.
pub const MAX_ARCHIVE_ENTRIES: usize = 5_000_000;
/// The most files a directory source may have.
pub const MAX_DIRECTORY_FILES: usize = 5_000_000;
/// The most package names recorded per record in its entry.
const MAX_NAMES_PER_RECORD: usize = 4096;

/// The index key of a record.
pub fn record_key(id: &str) -> String {
    format!("osv/{id}")
}

/// Why collecting advisories failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The archive could not be downloaded.
    #[error("advisories from {source_name}: {error}")]
    Fetch {
        /// The source, redacted.
        source_name: String,
        /// Why.
        error: Box<FetchError>,
    },
    /// The archive is not a readable zip.
    #[error("advisories from {source_name}: not an OSV export archive: {reason}")]
    Archive {
        /// The source.
        source_name: String,
        /// Why.
        reason: String,
    },
    /// A directory could not be read.
    #[error("advisories in {path}: {error}")]
    Directory {
        /// The path.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// Too many entries or files.
    #[error("advisories from {source_name}: more than {limit} records")]
    TooMany {
        /// The source.
        source_name: String,
        /// The limit.
        limit: usize,
    },
    /// The store failed.
    #[error("advisories: {0}")]
    Store(#[from] StoreError),
    /// Writing a blob failed.
    #[error("advisories: cannot store record {id}: {error}")]
    Write {
        /// The record.
        id: String,
        /// Why.
        error: std::io::Error,
    },
}

/// What a collect of every source found.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Index entries: one per record, then the database's.
    pub entries: Vec<Entry>,
    /// Records kept.
    pub records: usize,
    /// Records of them that are withdrawn.
    pub withdrawn: usize,
    /// Records stored now (the rest were in the store already).
    pub stored: usize,
    /// Copies of a record dropped for a newer one.
    pub duplicates: usize,
    /// Records skipped, with why (the first few).
    pub skipped: Vec<String>,
    /// How many were skipped.
    pub skipped_count: usize,
    /// The database's build time: the newest `modified`.
    pub built: Option<String>,
    /// Records per OSV ecosystem (without a release).
    pub per_ecosystem: BTreeMap<String, usize>,
}

/// A record kept so far.
struct Kept {
    modified: Option<jiff::Timestamp>,
    entry: Entry,
    ecosystems: Vec<String>,
    withdrawn: bool,
}

struct Accumulator<'a> {
    store: &'a Store,
    kept: HashMap<String, Kept>,
    gathered: Gathered,
    newest: Option<(jiff::Timestamp, String)>,
    /// Records parsed but not stored yet: (id, digest, bytes). Each blob
    /// write ends in an fsync, so they are written in batches by several
    /// threads at once; a collect of 200,000 records would otherwise
    /// spend most of its time waiting for the disk one record at a time.
    pending: Vec<(String, Digest, Vec<u8>)>,
    /// Digests already queued, so that a record in two sources is written
    /// once.
    queued: std::collections::HashSet<Digest>,
}

/// Records written per batch.
const BATCH: usize = 2048;
/// Threads that write a batch.
const WRITERS: usize = 8;

impl Accumulator<'_> {
    /// Stores the pending records, on [`WRITERS`] threads.
    fn flush(&mut self) -> Result<(), CollectError> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Ok(());
        }
        let store = self.store;
        let chunk = pending.len().div_ceil(WRITERS);
        let results: Vec<Result<usize, CollectError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = pending
                .chunks(chunk)
                .map(|records| {
                    scope.spawn(move || {
                        for (id, digest, bytes) in records {
                            let mut writer = store.blobs.writer()?;
                            writer
                                .write_all(bytes)
                                .map_err(|error| CollectError::Write {
                                    id: id.clone(),
                                    error,
                                })?;
                            writer.commit(Some(digest))?;
                        }
                        Ok(records.len())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|_| {
                        Err(CollectError::Archive {
                            source_name: "the advisory sources".into(),
                            reason: "a record writer panicked".into(),
                        })
                    })
                })
                .collect()
        });
        for result in results {
            self.gathered.stored += result?;
        }
        Ok(())
    }

    fn skip(&mut self, reason: String) {
        self.gathered.skipped_count += 1;
        if self.gathered.skipped.len() < 10 {
            self.gathered.skipped.push(reason);
        }
    }

    /// Adds one record's bytes, read from `origin` (an entry or file name).
    fn add(&mut self, bytes: &[u8], origin: &str) -> Result<(), CollectError> {
        let record = match crate::parse(bytes) {
            Ok(record) => record,
            Err(error) => {
                self.skip(format!("{origin}: {error}"));
                return Ok(());
            }
        };
        if !valid_id(&record.id) {
            self.skip(format!("{origin}: id {:?} cannot name a record", record.id));
            return Ok(());
        }
        let modified = record.modified.parse::<jiff::Timestamp>().ok();
        if let Some(previous) = self.kept.get(&record.id) {
            self.gathered.duplicates += 1;
            if previous.modified >= modified {
                return Ok(());
            }
        }
        let digest = Digest::of(bytes);
        if !self.queued.contains(&digest) && self.store.blobs.size(&digest)?.is_none() {
            self.queued.insert(digest);
            self.pending
                .push((record.id.clone(), digest, bytes.to_vec()));
            if self.pending.len() >= BATCH {
                self.flush()?;
            }
        }
        let mut names: Vec<String> = Vec::new();
        let mut ecosystems: Vec<String> = Vec::new();
        for affected in &record.affected {
            let Some(package) = &affected.package else {
                continue;
            };
            let base = package
                .ecosystem
                .split(':')
                .next()
                .unwrap_or(&package.ecosystem)
                .to_owned();
            if !ecosystems.contains(&base) {
                ecosystems.push(base);
            }
            let name = format!("{}/{}", package.ecosystem, package.name);
            if names.len() < MAX_NAMES_PER_RECORD && !names.contains(&name) {
                names.push(name);
            }
        }
        if let Some(modified) = modified
            && self
                .newest
                .as_ref()
                .is_none_or(|(newest, _)| modified > *newest)
        {
            self.newest = Some((modified, record.modified.clone()));
        }
        let withdrawn = record.withdrawn.is_some();
        let mut meta = serde_json::json!({
            "modified": record.modified,
            "packages": names,
        });
        if withdrawn {
            meta["withdrawn"] = true.into();
        }
        self.kept.insert(
            record.id.clone(),
            Kept {
                modified,
                entry: Entry {
                    ecosystem: ECOSYSTEM.into(),
                    key: record_key(&record.id),
                    digest,
                    size: bytes.len() as u64,
                    meta,
                },
                ecosystems,
                withdrawn,
            },
        );
        Ok(())
    }
}

/// An id that is safe as an index key and a file name: OSV ids are like
/// `GHSA-xxxx-xxxx-xxxx`, `PYSEC-2024-1`, `DEBIAN-CVE-2024-1`.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        && !id.starts_with('.')
}

/// Collects every source into the store.
pub async fn collect(
    store: &Store,
    fetcher: &Fetcher,
    sources: &[Source],
    progress: Arc<dyn FetchProgress>,
) -> Result<Gathered, CollectError> {
    if sources.is_empty() {
        return Ok(Gathered::default());
    }
    // Archives first, all at once.
    let archives: Vec<&Source> = sources
        .iter()
        .filter(|s| matches!(s, Source::Archive { .. }))
        .collect();
    let requests = archives
        .iter()
        .filter_map(|source| match source {
            Source::Archive { url, expected } => Some(Request {
                url: url.clone(),
                expected: *expected,
                authorization: None,
            }),
            Source::Directory(_) => None,
        })
        .collect();
    let mut fetched = Vec::new();
    for (source, result) in archives
        .iter()
        .zip(fetcher.fetch_all(store, requests, progress).await)
    {
        let fetched_one = result.map_err(|error| CollectError::Fetch {
            source_name: source.describe(),
            error: Box::new(error),
        })?;
        fetched.push(fetched_one.digest);
    }
    let store = store.clone();
    let sources = sources.to_vec();
    tokio::task::spawn_blocking(move || gather(&store, &sources, &fetched))
        .await
        .map_err(|e| CollectError::Archive {
            source_name: "the advisory sources".into(),
            reason: format!("the reading task failed: {e}"),
        })?
}

/// Reads every source (archives from the store, in the order fetched).
fn gather(
    store: &Store,
    sources: &[Source],
    archives: &[Digest],
) -> Result<Gathered, CollectError> {
    let mut accumulator = Accumulator {
        store,
        kept: HashMap::new(),
        gathered: Gathered::default(),
        newest: None,
        pending: Vec::new(),
        queued: std::collections::HashSet::new(),
    };
    let mut archives = archives.iter();
    let mut described = Vec::new();
    for source in sources {
        let before = accumulator.kept.len() + accumulator.gathered.duplicates;
        match source {
            Source::Archive { .. } => {
                let Some(digest) = archives.next() else {
                    break;
                };
                read_archive(&mut accumulator, digest, &source.describe())?;
                described.push(serde_json::json!({
                    "url": source.describe(),
                    "sha256": digest.hex(),
                    "records": accumulator.kept.len() + accumulator.gathered.duplicates - before,
                }));
            }
            Source::Directory(path) => {
                read_directory(&mut accumulator, path)?;
                described.push(serde_json::json!({
                    "directory": source.describe(),
                    "records": accumulator.kept.len() + accumulator.gathered.duplicates - before,
                }));
            }
        }
    }
    accumulator.flush()?;
    let Accumulator {
        kept,
        mut gathered,
        newest,
        ..
    } = accumulator;
    let mut kept: Vec<Kept> = kept.into_values().collect();
    kept.sort_by(|a, b| a.entry.key.cmp(&b.entry.key));
    for record in &kept {
        for ecosystem in &record.ecosystems {
            *gathered.per_ecosystem.entry(ecosystem.clone()).or_default() += 1;
        }
        if record.withdrawn {
            gathered.withdrawn += 1;
        }
    }
    gathered.records = kept.len();
    gathered.built = newest.map(|(_, text)| text);
    gathered.entries = kept.into_iter().map(|k| k.entry).collect();
    let description = serde_json::json!({
        "format": "osv",
        "built": gathered.built,
        "records": gathered.records,
        "withdrawn": gathered.withdrawn,
        "ecosystems": gathered.per_ecosystem,
        "sources": described,
    });
    let mut bytes = serde_json::to_vec_pretty(&description).map_err(|e| CollectError::Write {
        id: DATABASE_KEY.into(),
        error: std::io::Error::other(e),
    })?;
    bytes.push(b'\n');
    let mut writer = store.blobs.writer()?;
    writer
        .write_all(&bytes)
        .map_err(|error| CollectError::Write {
            id: DATABASE_KEY.into(),
            error,
        })?;
    let (digest, size) = writer.commit(None)?;
    gathered.entries.push(Entry {
        ecosystem: ECOSYSTEM.into(),
        key: DATABASE_KEY.into(),
        digest,
        size,
        meta: serde_json::json!({
            "built": gathered.built,
            "records": gathered.records,
        }),
    });
    Ok(gathered)
}

fn read_archive(
    accumulator: &mut Accumulator<'_>,
    digest: &Digest,
    source_name: &str,
) -> Result<(), CollectError> {
    let archive_error = |reason: String| CollectError::Archive {
        source_name: source_name.to_owned(),
        reason,
    };
    let file = accumulator.store.blobs.open(digest)?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| archive_error(e.to_string()))?;
    if archive.len() > MAX_ARCHIVE_ENTRIES {
        return Err(CollectError::TooMany {
            source_name: source_name.to_owned(),
            limit: MAX_ARCHIVE_ENTRIES,
        });
    }
    let mut buffer = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| archive_error(format!("entry {index}: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_owned();
        if !name.ends_with(".json") {
            continue;
        }
        if entry.size() > crate::MAX_RECORD_BYTES as u64 {
            accumulator.skip(format!(
                "{name}: {} bytes, over the {} a record may have",
                entry.size(),
                crate::MAX_RECORD_BYTES
            ));
            continue;
        }
        buffer.clear();
        // The claimed size is the archive's word: read at most one byte more
        // than a record may have, whatever it claims.
        if let Err(error) = (&mut entry)
            .take(crate::MAX_RECORD_BYTES as u64 + 1)
            .read_to_end(&mut buffer)
        {
            return Err(archive_error(format!("entry {name}: {error}")));
        }
        if buffer.len() > crate::MAX_RECORD_BYTES {
            accumulator.skip(format!(
                "{name}: over the {} bytes a record may have",
                crate::MAX_RECORD_BYTES
            ));
            continue;
        }
        let bytes = std::mem::take(&mut buffer);
        accumulator.add(&bytes, &name)?;
        buffer = bytes;
    }
    Ok(())
}

fn read_directory(accumulator: &mut Accumulator<'_>, root: &Path) -> Result<(), CollectError> {
    let directory_error = |path: &Path, error: std::io::Error| CollectError::Directory {
        path: path.display().to_string(),
        error,
    };
    let mut pending = vec![root.to_path_buf()];
    let mut files = Vec::new();
    while let Some(directory) = pending.pop() {
        for item in std::fs::read_dir(&directory).map_err(|e| directory_error(&directory, e))? {
            let item = item.map_err(|e| directory_error(&directory, e))?;
            let kind = item
                .file_type()
                .map_err(|e| directory_error(&item.path(), e))?;
            let path = item.path();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "json") {
                files.push(path);
                if files.len() > MAX_DIRECTORY_FILES {
                    return Err(CollectError::TooMany {
                        source_name: root.display().to_string(),
                        limit: MAX_DIRECTORY_FILES,
                    });
                }
            }
        }
    }
    files.sort();
    for path in files {
        let shown = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let file = std::fs::File::open(&path).map_err(|e| directory_error(&path, e))?;
        let mut bytes = Vec::new();
        file.take(crate::MAX_RECORD_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| directory_error(&path, e))?;
        if bytes.len() > crate::MAX_RECORD_BYTES {
            accumulator.skip(format!(
                "{shown}: over the {} bytes a record may have",
                crate::MAX_RECORD_BYTES
            ));
            continue;
        }
        accumulator.add(&bytes, &shown)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_cannot_be_keys_are_refused() {
        assert!(valid_id("GHSA-abcd-efgh-ijkl"));
        assert!(valid_id("DEBIAN-CVE-2024-1"));
        assert!(!valid_id(""));
        assert!(!valid_id("../etc/passwd"));
        assert!(!valid_id("a/b"));
        assert!(!valid_id(&"x".repeat(129)));
    }
}
