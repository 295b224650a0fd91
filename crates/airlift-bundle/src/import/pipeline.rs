//! The one pass over a bundle that verify, plan and import share: metadata
//! into quarantine and verified first, then every target checked against it
//! (and quarantined, for an import), then the index documents, the pack
//! statement and the custody chain checked before anything is committed.

use super::*;

/// The most bytes of small blobs a verify with an admission check keeps
/// for it.
const KEEP_BUDGET: u64 = 512 << 20;

pub(super) fn run(
    form: &BundleForm,
    store: &Store,
    options: &ImportOptions<'_>,
    mode: Mode,
    progress: &dyn Progress,
) -> Result<Checked, BundleError> {
    let work = options.layout.quarantine_dir().join(format!(
        "work-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    let mut pipeline = match Pipeline::new(form.path(), &work, store, options, mode) {
        Ok(pipeline) => pipeline,
        Err(e) => {
            remove_work(&work);
            return Err(e);
        }
    };
    progress.start("verify", None);
    let streamed = for_each_entry(form, &mut |name, size, reader| {
        let counted = pipeline.visit(name, size, reader);
        progress.advance(size);
        counted
    });
    progress.finish();
    let result = streamed.and_then(|()| pipeline.finish());
    if result.is_err() {
        remove_work(&work);
    }
    result
}

struct Pipeline<'a> {
    bundle: PathBuf,
    work: PathBuf,
    store: &'a Store,
    mode: Mode,
    trusted_root: Vec<u8>,
    last_version: Option<u64>,
    last_id: Option<String>,
    time_floor: Option<i64>,
    site_id: Option<String>,
    /// Destination and sequence checks apply to this home's own trust; a
    /// verify against an explicit root (the connected side checking its
    /// media) skips them.
    site_checks: bool,
    last_sequence: Option<u64>,
    /// The id of the last imported bundle that carried a pack statement.
    last_sequenced: Option<String>,
    statement: Option<Vec<u8>>,
    seen: BTreeSet<String>,
    pointer: Option<Vec<u8>>,
    verified: Option<(VerifiedMetadata, Digest, bool)>,
    index_documents: BTreeMap<String, Vec<u8>>,
    quarantined: Vec<(Digest, PathBuf, u64)>,
    bytes: u64,
    /// In verify mode with an admission check: the bytes of small blobs
    /// still allowed into quarantine, so that the check can read the
    /// records a plan needs (bounded; past it the check reads what the
    /// store has and says what it could not).
    keep_budget: u64,
    custody_policy: PathBuf,
}

impl<'a> Pipeline<'a> {
    fn new(
        bundle: &Path,
        work: &Path,
        store: &'a Store,
        options: &ImportOptions<'_>,
        mode: Mode,
    ) -> Result<Self, BundleError> {
        let root_path = options
            .trusted_root
            .map(Path::to_path_buf)
            .unwrap_or_else(|| options.layout.trusted_root());
        let trusted_root = match fs::read(&root_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(BundleError::NoTrust { path: root_path });
            }
            Err(e) => return Err(BundleError::io("read", &root_path)(e)),
        };
        fs::create_dir_all(work.join("metadata"))
            .map_err(BundleError::io("create directory", work))?;
        fs::create_dir_all(work.join("blobs"))
            .map_err(BundleError::io("create directory", work))?;
        // Verify against a copy of the client state: a rejected bundle must
        // not advance what the importer trusts.
        let state_copy = work.join("tuf-state");
        fs::create_dir_all(&state_copy)
            .map_err(BundleError::io("create directory", &state_copy))?;
        if options.trusted_root.is_none() {
            let live = options.layout.tuf_state_dir();
            let old = options.layout.tuf_state_backup();
            if !live.exists() && old.is_dir() {
                // A crash in the middle of promoting state: the old state is
                // the last complete one.
                fs::rename(&old, &live).map_err(BundleError::io("restore", &old))?;
            }
            if live.is_dir() {
                for entry in fs::read_dir(&live).map_err(BundleError::io("list", &live))? {
                    let entry = entry.map_err(BundleError::io("list", &live))?;
                    let target = state_copy.join(entry.file_name());
                    fs::copy(entry.path(), &target)
                        .map_err(BundleError::io("copy", entry.path()))?;
                }
            }
        }
        let parse = |value: Option<String>| value.and_then(|v| v.parse::<u64>().ok());
        Ok(Self {
            bundle: bundle.to_path_buf(),
            work: work.to_path_buf(),
            store,
            mode,
            trusted_root,
            last_version: parse(store.meta.state(state_keys::LAST_BUNDLE_VERSION)?),
            last_id: store.meta.state(state_keys::LAST_BUNDLE_ID)?,
            time_floor: store
                .meta
                .state(state_keys::TIME_FLOOR)?
                .and_then(|v| v.parse::<i64>().ok()),
            site_id: options
                .layout
                .site_id()
                .map_err(BundleError::io("read", &options.layout.site_id_file()))?,
            site_checks: options.trusted_root.is_none(),
            custody_policy: options.layout.custody_policy(),
            last_sequence: store
                .meta
                .state(state_keys::LAST_SEQUENCE)?
                .and_then(|v| v.parse::<u64>().ok()),
            last_sequenced: store.meta.state(state_keys::LAST_SEQUENCED_BUNDLE)?,
            statement: None,
            seen: BTreeSet::new(),
            pointer: None,
            verified: None,
            index_documents: BTreeMap::new(),
            quarantined: Vec::new(),
            bytes: 0,
            keep_budget: if options.admission.is_some() {
                KEEP_BUDGET
            } else {
                0
            },
        })
    }

    fn visit(&mut self, name: &str, size: u64, reader: &mut dyn Read) -> Result<(), BundleError> {
        let kind = format::classify(name)?;
        if !self.seen.insert(name.to_owned()) {
            return Err(BundleError::entry(name, "appears twice"));
        }
        match kind {
            EntryKind::Pointer | EntryKind::Metadata(_) => {
                if self.verified.is_some() {
                    return Err(BundleError::entry(
                        name,
                        "comes after the targets; metadata must come first (reordered archive?)",
                    ));
                }
                let limit = format::metadata_limit(&kind);
                if size > limit {
                    return Err(BundleError::entry(
                        name,
                        format!("is {size} bytes, over the {limit}-byte limit"),
                    ));
                }
                let truncated =
                    || BundleError::entry(name, "is shorter than its header says (truncated)");
                match kind {
                    EntryKind::Pointer => {
                        let mut bytes = Vec::with_capacity(size as usize);
                        let (_, length) = copy_hashing(reader, &mut bytes, limit)
                            .map_err(BundleError::io("read", name))?;
                        if length != size {
                            return Err(truncated());
                        }
                        self.pointer = Some(bytes);
                    }
                    EntryKind::Metadata(file) => {
                        // Streamed to quarantine, never held in memory: until
                        // TUF has verified the role that lists it, this file is
                        // read only up to the length a verified role gives.
                        let path = self.work.join("metadata").join(file);
                        let out =
                            fs::File::create(&path).map_err(BundleError::io("write", &path))?;
                        let mut out = io::BufWriter::new(out);
                        let (_, length) = copy_hashing(reader, &mut out, limit)
                            .map_err(BundleError::io("read", name))?;
                        io::Write::flush(&mut out).map_err(BundleError::io("write", &path))?;
                        if length != size {
                            return Err(truncated());
                        }
                    }
                    EntryKind::Target(_) => {}
                }
                Ok(())
            }
            EntryKind::Target(target) => {
                self.ensure_verified()?;
                self.target(&target, size, reader)
            }
        }
    }

    /// Runs TUF verification once all metadata is in quarantine.
    fn ensure_verified(&mut self) -> Result<(), BundleError> {
        if self.verified.is_some() {
            return Ok(());
        }
        let pointer = self.pointer.as_ref().ok_or_else(|| {
            BundleError::entry(format::POINTER, "is missing or does not come first")
        })?;
        let parsed: serde_json::Value = serde_json::from_slice(pointer)
            .map_err(|e| BundleError::entry(format::POINTER, format!("is not JSON: {e}")))?;
        if parsed["format"] != format::FORMAT {
            return Err(BundleError::entry(
                format::POINTER,
                format!(
                    "has format {}, this airlift reads {}",
                    parsed["format"],
                    format::FORMAT
                ),
            ));
        }
        let metadata_dir = self.work.join("metadata");
        for required in [
            "timestamp.json",
            "snapshot.json",
            "targets.json",
            "1.root.json",
        ] {
            if !metadata_dir.join(required).is_file() {
                return Err(BundleError::entry(
                    &format!("metadata/{required}"),
                    "is missing from the bundle",
                ));
            }
        }
        let timestamp = metadata_dir.join("timestamp.json");
        let timestamp_bytes = fs::read(&timestamp).map_err(BundleError::io("read", &timestamp))?;
        let bundle_id = Digest::of(&timestamp_bytes);
        let already = self.last_id.as_deref() == Some(bundle_id.to_string().as_str());
        self.check_root_files(&metadata_dir)?;
        let verified = airlift_trust::verify_metadata(
            &self.trusted_root,
            &metadata_dir,
            &self.work.join("tuf-state"),
        )
        .map_err(|error| self.explain_refusal(error, &timestamp_bytes, already))?;
        if !already
            && let Some(floor) = self.time_floor
            && verified.expires.as_second() < floor
        {
            return Err(BundleError::ExpiredBeforeFloor {
                expires: airlift_trust::metadata::format_time(verified.expires),
                floor: jiff::Timestamp::from_second(floor)
                    .map(airlift_trust::metadata::format_time)
                    .unwrap_or_else(|_| floor.to_string()),
            });
        }
        if !already
            && let Some(last) = self.last_version
            && verified.version <= last
        {
            return Err(BundleError::Rollback {
                version: verified.version,
                last,
            });
        }
        self.verified = Some((verified, bundle_id, already));
        Ok(())
    }

    /// The bundle's copy of the trusted root's version must be byte-identical
    /// to the trusted root: TUF only reads newer roots, so without this check
    /// a damaged copy of an old root would pass unnoticed.
    fn check_root_files(&self, metadata_dir: &Path) -> Result<(), BundleError> {
        // The chain must be whole: a version after a missing one would never
        // be read by TUF, and a bundle that carries one was tampered with.
        let mut versions: Vec<u64> = fs::read_dir(metadata_dir)
            .map_err(BundleError::io("list", metadata_dir))?
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".root.json"))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .collect();
        versions.sort_unstable();
        for pair in versions.windows(2) {
            if pair[1] != pair[0] + 1 {
                return Err(BundleError::entry(
                    &format!("metadata/{}.root.json", pair[1]),
                    format!(
                        "the root chain skips version {} (it has {} and {}): refused",
                        pair[0] + 1,
                        pair[0],
                        pair[1]
                    ),
                ));
            }
        }
        let trusted_version = serde_json::from_slice::<serde_json::Value>(&self.trusted_root)
            .ok()
            .and_then(|v| v["signed"]["version"].as_u64());
        let Some(version) = trusted_version else {
            return Ok(());
        };
        let name = format!("{version}.root.json");
        match fs::read(metadata_dir.join(&name)) {
            Ok(bytes) if bytes == self.trusted_root => Ok(()),
            Ok(_) => Err(BundleError::entry(
                &format!("metadata/{name}"),
                "differs from the trusted root of the same version (altered, or packed for another site)",
            )),
            // Older bundles may start their chain later; TUF decides.
            Err(_) => Ok(()),
        }
    }

    /// Names the bundle rather than the quarantine copy, and recognises a
    /// rollback that the TUF client refused before our own version check.
    fn explain_refusal(
        &self,
        error: airlift_trust::TrustError,
        timestamp: &[u8],
        already: bool,
    ) -> BundleError {
        let unverified_version = serde_json::from_slice::<serde_json::Value>(timestamp)
            .ok()
            .and_then(|v| v["signed"]["version"].as_u64());
        let tuf_rollback = matches!(&error, airlift_trust::TrustError::Older { .. });
        if let (Some(version), Some(last)) = (unverified_version, self.last_version)
            && !already
            && version <= last
            && tuf_rollback
        {
            return BundleError::Rollback { version, last };
        }
        let path = self.bundle.join("metadata");
        BundleError::Trust(match error {
            airlift_trust::TrustError::Verification { message, .. } => {
                airlift_trust::TrustError::Verification { path, message }
            }
            airlift_trust::TrustError::Expired { message, .. } => {
                airlift_trust::TrustError::Expired { path, message }
            }
            airlift_trust::TrustError::Older { message, .. } => {
                airlift_trust::TrustError::Older { path, message }
            }
            other => other,
        })
    }

    fn target(
        &mut self,
        target: &str,
        size: u64,
        reader: &mut dyn Read,
    ) -> Result<(), BundleError> {
        let Some((verified, _, _)) = self.verified.as_ref() else {
            return Err(BundleError::entry(target, "arrived before verification"));
        };
        let info: TargetInfo = verified.targets.get(target).cloned().ok_or_else(|| {
            BundleError::entry(
                &format!("targets/{target}"),
                "is not listed in the signed targets metadata",
            )
        })?;
        if size != info.length {
            return Err(BundleError::entry(
                &format!("targets/{target}"),
                format!("is {size} bytes but the signed length is {}", info.length),
            ));
        }
        let mismatch = |actual: Digest, actual_length: u64| BundleError::TargetMismatch {
            name: target.to_owned(),
            expected: info.sha256,
            expected_length: info.length,
            actual,
            actual_length,
        };
        let read_error = |e: io::Error| BundleError::Io {
            action: "read bundle entry",
            path: PathBuf::from(format!("targets/{target}")),
            source: e,
        };
        if target == format::PACK_STATEMENT {
            if info.length > format::MAX_STATEMENT_SIZE {
                return Err(BundleError::entry(
                    target,
                    "pack statement over the size limit",
                ));
            }
            let mut bytes = Vec::with_capacity(info.length as usize);
            let (digest, length) =
                copy_hashing(reader, &mut bytes, info.length).map_err(read_error)?;
            if digest != info.sha256 || length != info.length {
                return Err(mismatch(digest, length));
            }
            self.statement = Some(bytes);
        } else if target.starts_with("index/") {
            if info.length > format::MAX_INDEX_SIZE {
                return Err(BundleError::entry(
                    target,
                    "index document over the size limit",
                ));
            }
            let mut bytes = Vec::with_capacity(info.length as usize);
            let (digest, length) =
                copy_hashing(reader, &mut bytes, info.length).map_err(read_error)?;
            if digest != info.sha256 || length != info.length {
                return Err(mismatch(digest, length));
            }
            self.index_documents.insert(target.to_owned(), bytes);
        } else if (self.mode == Mode::Import
            || (info.length <= crate::import::ADMISSION_BLOB_LIMIT
                && info.length <= self.keep_budget))
            && self.store.blobs.size(&info.sha256)?.is_none()
        {
            if self.mode != Mode::Import {
                self.keep_budget -= info.length;
            }
            let path = self.work.join("blobs").join(info.sha256.hex());
            let (digest, length) = write_quarantined(reader, &path, info.length)?;
            if digest != info.sha256 || length != info.length {
                return Err(mismatch(digest, length));
            }
            self.quarantined.push((info.sha256, path, length));
        } else {
            let (digest, length) =
                copy_hashing(reader, &mut io::sink(), info.length).map_err(read_error)?;
            if digest != info.sha256 || length != info.length {
                return Err(mismatch(digest, length));
            }
        }
        self.bytes += info.length;
        Ok(())
    }

    fn finish(mut self) -> Result<Checked, BundleError> {
        self.ensure_verified()?;
        let Some((verified, bundle_id, already)) = self.verified.take() else {
            return Err(BundleError::entry(
                format::POINTER,
                "bundle was not verified",
            ));
        };
        let mut sequence = None;
        if let Some(bytes) = &self.statement {
            let bad = |reason: String| BundleError::BadIndex {
                name: format::PACK_STATEMENT.into(),
                reason,
            };
            let statement = crate::PackStatement::parse(bytes).map_err(bad)?;
            let destination = statement.destination.clone();
            let got = statement.sequence;
            if self.site_checks && self.site_id.as_deref() != Some(destination.as_str()) {
                return Err(BundleError::WrongDestination {
                    destination,
                    site: match &self.site_id {
                        Some(site) => format!("{site:?}"),
                        None => "unnamed (name it with `airlift init --site NAME`)".into(),
                    },
                });
            }
            if self.site_checks && !already {
                let expected = self.last_sequence.map_or(1, |last| last + 1);
                if let Some(last) = self.last_sequence
                    && got <= last
                {
                    return Err(BundleError::SequenceReplay {
                        destination,
                        got,
                        last,
                    });
                }
                if got > expected {
                    return Err(BundleError::SequenceGap {
                        destination,
                        expected,
                        got,
                    });
                }
                // Continuity: the bundle must follow the one this site last
                // imported for it, not another connected side's.
                if let (Some(previous), Some(last)) = (&statement.previous, &self.last_sequenced)
                    && previous != last
                {
                    return Err(BundleError::Fork {
                        destination,
                        previous: previous.to_owned(),
                        last: last.clone(),
                    });
                }
            }
            sequence = Some(got);
        }
        // The chain of custody: checked against the site's policy when it
        // has one; without one, a chain that is present is still checked in
        // all but who signed it, and a broken one is refused.
        let mut handoffs = Vec::new();
        let mut handoffs_verified = false;
        if self.site_checks && !already {
            let policy_path = self.custody_policy.clone();
            let chain_path = custody_chain_path(&self.bundle);
            let subject = |bundle_id_hex| airlift_trust::custody::Subject {
                bundle_id_hex,
                created: self
                    .statement
                    .as_deref()
                    .and_then(|b| crate::PackStatement::parse(b).ok())
                    .and_then(|s| s.created_at())
                    .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
                expires: verified.expires,
                now: jiff::Timestamp::now(),
            };
            match fs::read(&policy_path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => match read_chain(&chain_path) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(BundleError::io("read", &chain_path)(e)),
                    Ok(text) => {
                        handoffs = airlift_trust::custody::inspect_chain(
                            &text,
                            &subject(&bundle_id.hex()),
                        )
                        .map_err(|e| {
                            BundleError::Custody(format!("{}: {e}", chain_path.display()))
                        })?;
                    }
                },
                Err(e) => return Err(BundleError::io("read", &policy_path)(e)),
                Ok(bytes) => {
                    let policy: airlift_trust::custody::Policy = serde_json::from_slice(&bytes)
                        .map_err(|e| {
                            BundleError::Custody(format!("{}: {e}", policy_path.display()))
                        })?;
                    let text = match read_chain(&chain_path) {
                        Ok(text) => text,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {
                            return Err(BundleError::Custody(format!(
                                "this site's custody policy requires hand-off statements, and {} is missing",
                                chain_path.display()
                            )));
                        }
                        Err(e) => return Err(BundleError::io("read", &chain_path)(e)),
                    };
                    handoffs = airlift_trust::custody::verify_chain(
                        &text,
                        &policy,
                        &subject(&bundle_id.hex()),
                    )
                    .map_err(|e| BundleError::Custody(format!("{}: {e}", chain_path.display())))?;
                    handoffs_verified = true;
                }
            }
        }
        // Every signed target must be accounted for.
        for (name, info) in &verified.targets {
            if self.seen.contains(&format!("targets/{name}")) {
                continue;
            }
            let in_store = name.starts_with("blobs/")
                && self.store.blobs.size(&info.sha256)? == Some(info.length);
            if !in_store {
                return Err(BundleError::MissingTarget {
                    name: name.clone(),
                    digest: info.sha256,
                });
            }
        }
        let mut entries = Vec::new();
        let mut keys = BTreeSet::new();
        for (name, bytes) in &self.index_documents {
            let bad = |reason: String| BundleError::BadIndex {
                name: name.clone(),
                reason,
            };
            let document: IndexDocument =
                serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
            if format::index_target(&document.ecosystem) != *name {
                return Err(bad(format!("declares ecosystem {:?}", document.ecosystem)));
            }
            for entry in document.entries {
                if entry.ecosystem != document.ecosystem {
                    return Err(bad(format!(
                        "entry {:?} belongs to {:?}",
                        entry.key, entry.ecosystem
                    )));
                }
                if entry.key.is_empty()
                    || entry.key.len() > 4096
                    || entry.key.chars().any(char::is_control)
                {
                    return Err(bad(format!("entry key {:?} is not acceptable", entry.key)));
                }
                match verified.targets.get(&format::blob_target(&entry.digest)) {
                    Some(info) if info.length == entry.size => {}
                    _ => {
                        return Err(bad(format!(
                            "entry {:?} refers to {} which is not a signed target of that size",
                            entry.key, entry.digest
                        )));
                    }
                }
                if !keys.insert((entry.ecosystem.clone(), entry.key.clone())) {
                    return Err(bad(format!("entry {:?} appears twice", entry.key)));
                }
                entries.push(entry);
            }
        }
        Ok(Checked {
            work: self.work,
            verified,
            bundle_id,
            already_imported: already,
            entries,
            quarantined: self.quarantined,
            bytes: self.bytes,
            time_floor: self.time_floor,
            sequence,
            handoffs,
            handoffs_verified,
        })
    }
}
