//! Collecting Debian packages.
//!
//! For every `[[apt]]` archive: fetch each suite's `InRelease` (or
//! `Release` + `Release.gpg`) and verify it with the configured keyring;
//! refuse an expired Release or one for another suite; fetch each
//! `Packages` index by the hash the Release lists (by-hash when the archive
//! offers it) and check the uncompressed text against its own listed hash
//! when there is one; compute the closure of the declared packages over
//! `Pre-Depends` and `Depends` (and `Recommends` when asked), alternatives
//! in order, versioned constraints with dpkg ordering and virtual packages
//! through `Provides`; then fetch every `.deb`, checked against the
//! `SHA256` and `Size` of its Packages stanza while it streams. Nothing
//! reaches the index unless everything checked out.
//!
//! The work is split along those steps: `verify` fetches and checks the
//! signed Release, `indexes` reads the Packages indexes it lists into
//! candidates, `closure` picks the packages to carry, and this module
//! plans, runs the steps for each archive and downloads what was picked.

// Errors are built once, on the way out of a failed collect.
#![allow(clippy::result_large_err)]

mod closure;
mod indexes;
mod verify;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlift_core::{Digest, SafeUrl};
use airlift_fetch::credentials::{self, AuthScheme};
use airlift_fetch::{FetchError, FetchProgress, Fetcher, Request, Secret};
use airlift_pgp::Keyring;
use airlift_store::{Entry, Store, StoreError};

use crate::control;
use crate::relation::{self, Rel};
use crate::spec::AptSpec;
use closure::{Universe, resolve};
pub use indexes::valid_filename;
use indexes::{Candidate, candidate};
use verify::Archive;

/// Why a collect failed; every message names the archive, suite or
/// package involved.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// `[[apt]]` cannot be used as written.
    #[error("[[apt]] {archive}: {message}")]
    Spec {
        /// The archive name.
        archive: String,
        /// What is wrong.
        message: String,
    },
    /// The upstream Release is not acceptable (signature, suite, expiry).
    #[error("{archive} {suite}: {url}: {message}")]
    Release {
        /// The archive.
        archive: String,
        /// The suite.
        suite: String,
        /// The Release URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// An index file is missing, does not match the Release, or is
    /// malformed.
    #[error("{archive} {suite}: {path}: {message}")]
    Index {
        /// The archive.
        archive: String,
        /// The suite.
        suite: String,
        /// The index path under `dists/<suite>/`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// No package satisfies a relation.
    #[error(
        "{archive} ({arch}): {relation}: no package satisfies it{detail}{}",
        airlift_core::needed_by(chain)
    )]
    Unsatisfiable {
        /// The archive.
        archive: String,
        /// The architecture.
        arch: String,
        /// The relation.
        relation: String,
        /// Versions that exist but do not satisfy it.
        detail: String,
        /// Who needs it.
        chain: Vec<String>,
    },
    /// A `.deb` could not be fetched or does not match its stanza.
    #[error("{archive}: {package} {version}: {message}")]
    Package {
        /// The archive.
        archive: String,
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// What is wrong.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One `[[apt]]`, checked.
#[derive(Debug)]
pub struct Planned {
    spec: AptSpec,
    base: SafeUrl,
    keyring: Keyring,
    keyring_path: PathBuf,
    roots: Vec<Vec<Rel>>,
    authorization: Option<Secret>,
}

fn valid_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        && !s.starts_with('.')
}

/// Checks every `[[apt]]`; keyring paths are relative to `base`.
pub fn plan(specs: &[AptSpec], base: &Path) -> Result<Vec<Planned>, CollectError> {
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for spec in specs {
        let fail = |message: String| CollectError::Spec {
            archive: spec.name.clone(),
            message,
        };
        if !valid_word(&spec.name) {
            return Err(fail(format!(
                "name {:?} must be letters, digits, '.', '_', '+' or '-'",
                spec.name
            )));
        }
        if !names.insert(spec.name.clone()) {
            return Err(fail("two [[apt]] tables share this name".into()));
        }
        for (what, list) in [
            ("suites", &spec.suites),
            ("components", &spec.components),
            ("architectures", &spec.architectures),
        ] {
            if list.is_empty() {
                return Err(fail(format!("{what} is empty")));
            }
            if let Some(bad) = list.iter().find(|s| !valid_word(s)) {
                return Err(fail(format!("{what}: {bad:?} is not a plain name")));
            }
        }
        if spec.architectures.iter().any(|a| a == "all") {
            return Err(fail(
                "architectures: \"all\" comes with every architecture; name real ones".into(),
            ));
        }
        if let Some(bad) = spec.priorities.iter().find(|p| {
            !["required", "important", "standard", "optional", "extra"].contains(&p.as_str())
        }) {
            return Err(fail(format!(
                "priorities: {bad:?} is not a Debian priority"
            )));
        }
        if spec.packages.is_empty()
            && !spec.essential
            && spec.priorities.is_empty()
            && !spec.whole_components
        {
            return Err(fail(
                "nothing selected: give packages, essential, priorities or whole-components".into(),
            ));
        }
        let mut text = spec.url.clone();
        if !text.ends_with('/') {
            text.push('/');
        }
        let url = SafeUrl::parse(&text).map_err(|e| fail(format!("url is not a URL: {e}")))?;
        if !matches!(url.expose().scheme(), "http" | "https") {
            return Err(fail(format!(
                "url {} must be http or https (serve a local archive with any web server on loopback)",
                url.redacted()
            )));
        }
        let keyring_path = base.join(&spec.keyring);
        let bytes = std::fs::read(&keyring_path)
            .map_err(|e| fail(format!("keyring {}: {e}", keyring_path.display())))?;
        let keyring = Keyring::parse(&bytes)
            .map_err(|e| fail(format!("keyring {}: {e}", keyring_path.display())))?;
        let mut roots = Vec::new();
        for entry in &spec.packages {
            let groups =
                relation::parse(entry).map_err(|e| fail(format!("packages: {entry:?}: {e}")))?;
            if groups.len() != 1 {
                return Err(fail(format!(
                    "packages: {entry:?}: one package (or alternatives) per entry"
                )));
            }
            roots.extend(groups);
        }
        let authorization =
            credentials::resolve_optional(spec.credentials.as_deref(), AuthScheme::Token)
                .map_err(|e| fail(e.to_string()))?;
        out.push(Planned {
            spec: spec.clone(),
            base: url,
            keyring,
            keyring_path,
            roots,
            authorization,
        });
    }
    Ok(out)
}

/// What a collect produced.
#[derive(Debug, Default)]
pub struct Collected {
    /// One entry per `.deb` and one per suite.
    pub entries: Vec<Entry>,
    /// `.deb` files carried.
    pub packages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files downloaded now (the rest were in the store).
    pub downloaded: u64,
    /// Notes (recommendations that could not be satisfied).
    pub notes: Vec<String>,
}

/// Collects every `[[apt]]` archive.
pub async fn collect(
    store: &Store,
    fetcher: &Fetcher,
    planned: &[Planned],
    progress: Arc<dyn FetchProgress>,
) -> Result<Collected, CollectError> {
    let mut collected = Collected::default();
    for p in planned {
        collect_one(store, fetcher, p, progress.clone(), &mut collected).await?;
    }
    collected.notes.sort();
    collected.notes.dedup();
    Ok(collected)
}

async fn collect_one(
    store: &Store,
    fetcher: &Fetcher,
    planned: &Planned,
    progress: Arc<dyn FetchProgress>,
    collected: &mut Collected,
) -> Result<(), CollectError> {
    let archive = Archive { fetcher, planned };
    let spec = &planned.spec;
    let mut universes: BTreeMap<String, Universe> = spec
        .architectures
        .iter()
        .map(|a| (a.clone(), Universe::default()))
        .collect();
    let mut suite_entries = Vec::new();
    let mut documents = Vec::new();
    for suite in &spec.suites {
        let (release, document, signer) = archive.release(suite).await?;
        let listed = release.list("components");
        for component in &spec.components {
            if !listed.is_empty() && !listed.contains(component) {
                return Err(CollectError::Index {
                    archive: spec.name.clone(),
                    suite: suite.clone(),
                    path: component.clone(),
                    message: format!(
                        "the Release lists components {}, not this one",
                        listed.join(" ")
                    ),
                });
            }
        }
        let arch_all_inline = release.get("no-support-for-architecture-all") == Some("Packages");
        for component in &spec.components {
            let all = if arch_all_inline {
                None
            } else {
                archive
                    .packages(suite, &release, &format!("{component}/binary-all"))
                    .await?
                    .map(Arc::new)
            };
            for (arch, universe) in &mut universes {
                let dir = format!("{component}/binary-{arch}");
                let text = archive
                    .packages(suite, &release, &dir)
                    .await?
                    .ok_or_else(|| CollectError::Index {
                        archive: spec.name.clone(),
                        suite: suite.clone(),
                        path: format!("{dir}/Packages"),
                        message: "not listed in the Release (no such component or architecture)"
                            .into(),
                    })?;
                let text = Arc::new(text);
                for text in std::iter::once(&text).chain(all.as_ref()) {
                    let paragraphs =
                        control::paragraphs(text).map_err(|e| CollectError::Index {
                            archive: spec.name.clone(),
                            suite: suite.clone(),
                            path: format!("{dir}/Packages"),
                            message: e,
                        })?;
                    for paragraph in &paragraphs {
                        // A stanza airlift cannot use (no SHA256, a path
                        // outside the archive, a bad version) is left out,
                        // with a note: it cannot be carried, and the rest of
                        // the index still can.
                        let c = match candidate(paragraph, text, suite, component) {
                            Ok(c) => c,
                            Err(message) => {
                                collected.notes.push(format!(
                                    "{} {suite} {dir}/Packages: left out: {message}",
                                    spec.name
                                ));
                                continue;
                            }
                        };
                        if c.arch != *arch && c.arch != "all" {
                            continue;
                        }
                        universe.add(c).map_err(|message| CollectError::Index {
                            archive: spec.name.clone(),
                            suite: suite.clone(),
                            path: format!("{dir}/Packages"),
                            message,
                        })?;
                    }
                }
            }
        }
        let digest = Digest::of(&document);
        suite_entries.push(Entry {
            ecosystem: crate::ECOSYSTEM.into(),
            key: format!("{}/dists/{suite}", spec.name),
            digest,
            size: document.len() as u64,
            meta: serde_json::json!({
                "suite": suite,
                "fields": release.fields.iter()
                    .filter(|(k, _)| ["origin", "label", "suite", "codename", "version", "description"].contains(&k.as_str()))
                    .collect::<BTreeMap<_, _>>(),
                "components": spec.components,
                "architectures": spec.architectures,
                "upstream_signer": signer,
            }),
        });
        documents.push(document);
    }
    // The closure, per architecture.
    let mut chosen: BTreeMap<String, (Candidate, BTreeSet<String>)> = BTreeMap::new();
    for (arch, universe) in &universes {
        for i in resolve(spec, &planned.roots, arch, universe, &mut collected.notes)? {
            let c = &universe.packages[i];
            chosen
                .entry(c.filename.clone())
                .or_insert_with(|| (c.clone(), BTreeSet::new()))
                .1
                .insert(arch.clone());
        }
    }
    let list: Vec<Candidate> = chosen.into_values().map(|(c, _)| c).collect();
    let requests = list
        .iter()
        .map(|c| {
            let url = archive.url(&c.filename)?;
            Ok(Request {
                authorization: archive.authorization(&url),
                url,
                expected: Some(c.sha256),
            })
        })
        .collect::<Result<Vec<_>, CollectError>>()?;
    let results = fetcher.fetch_all(store, requests, progress).await;
    let mut entries = Vec::new();
    for (c, result) in list.iter().zip(results) {
        let fail = |message: String| CollectError::Package {
            archive: spec.name.clone(),
            package: c.package.clone(),
            version: c.version.clone(),
            message,
        };
        let fetched = result.map_err(|e| match e {
            FetchError::DigestMismatch { actual, .. } => fail(format!(
                "{} hashes to {actual}, the signed Packages index says {}: refused",
                c.filename, c.sha256
            )),
            other => fail(other.to_string()),
        })?;
        if fetched.size != c.size {
            return Err(fail(format!(
                "{} is {} bytes, the Packages index says {}",
                c.filename, fetched.size, c.size
            )));
        }
        if !fetched.cached {
            collected.downloaded += 1;
        }
        collected.bytes += fetched.size;
        collected.packages += 1;
        entries.push(Entry {
            ecosystem: crate::ECOSYSTEM.into(),
            key: format!("{}/{}", spec.name, c.filename),
            digest: c.sha256,
            size: c.size,
            meta: serde_json::json!({
                "stanza": c.stanza.as_str(),
                "package": c.package,
                "version": c.version,
                "architecture": c.arch,
                "homes": c.homes.iter().map(|(s, comp)| format!("{s}/{comp}")).collect::<Vec<_>>(),
            }),
        });
    }
    // The signed Release documents, kept as the provenance of each suite.
    for document in &documents {
        let mut writer = store.blobs.writer()?;
        std::io::Write::write_all(&mut writer, document).map_err(|e| StoreError::Io {
            action: "storing",
            path: PathBuf::from("InRelease"),
            source: e,
        })?;
        writer.commit(Some(&Digest::of(document)))?;
    }
    collected.entries.extend(suite_entries);
    collected.entries.extend(entries);
    Ok(())
}
