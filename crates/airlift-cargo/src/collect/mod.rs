//! Collecting crates: `Cargo.lock` packages as they are, and declared crates
//! with their dependency closure from the upstream sparse index.
//!
//! The closure follows cargo's rules for what a build can need: normal and
//! build dependencies of every target platform (dev-dependencies only of the
//! declared crates, and only with `dev = true`), and optional dependencies
//! when an enabled feature turns them on (`dep:x`, `x/feature`, the
//! implicit feature of an optional dependency, and weak `x?/feature` too).
//! A weak feature does not turn its dependency on in a build, but cargo's
//! lockfile resolver reaches it all the same (so `cargo generate-lockfile`
//! in the gap would fail without it): the closure is what *locking* needs,
//! a superset of what a build compiles. Each distinct requirement gets the
//! newest non-yanked version that matches it.
//! Features are unified per semver-compatible range (`1.x`, `0.3.x`,
//! `0.0.7`), as cargo builds one version per range with the union of what
//! its dependents ask for: when the union grows, every carried version of
//! the range is expanded again. A feature that only another version of the
//! range defines is skipped there; a feature a dependent asks of the very
//! version it gets must exist.
//! Carrying the newest match of every requirement leaves cargo's resolver in
//! the gap a solution, since it too prefers the newest version.

// Errors name the crate, version and both checksums; they are built once,
// on the way out of a failed collect, so their size costs nothing.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use airlift_core::{Digest, SafeUrl};
use airlift_ecosystem::CollectContext;
use airlift_fetch::credentials::{self, AuthScheme};
use airlift_fetch::index::{Index, IndexError, IndexProfile};
use airlift_fetch::{FetchError, Request, Secret, StatusCode};
use airlift_store::{Entry, StoreError};
use futures_util::StreamExt;

use crate::index::{self, Release};
use crate::lockfile::{self, LockError, Pin};
use crate::spec::CargoSpec;

mod closure;
mod upstream;

use closure::*;
use upstream::*;

/// Why a collect failed; every message names the crate involved.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// `[cargo]` cannot be used as written.
    #[error("[cargo]: {0}")]
    Spec(String),
    /// A lockfile cannot be used.
    #[error("{0}")]
    Lock(#[from] LockError),
    /// The upstream index has no such crate.
    #[error(
        "{krate}: not found in the upstream index ({url}){}",
        airlift_core::needed_by(chain)
    )]
    NotFound {
        /// The crate.
        krate: String,
        /// The index file URL.
        url: String,
        /// Who needs it.
        chain: Vec<String>,
    },
    /// The upstream answered something unusable.
    #[error("{krate}: {url}: {message}")]
    Upstream {
        /// The crate.
        krate: String,
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// No version satisfies a requirement.
    #[error(
        "{krate}: no version matches {req}; available: {available}{}",
        airlift_core::needed_by(chain)
    )]
    Unsatisfiable {
        /// The crate.
        krate: String,
        /// The requirement.
        req: String,
        /// Versions the index lists (newest last).
        available: String,
        /// Who needs it.
        chain: Vec<String>,
    },
    /// Only yanked versions satisfy a requirement.
    #[error(
        "{krate}: every version that matches {req} is yanked ({versions}){}",
        airlift_core::needed_by(chain)
    )]
    YankedOnly {
        /// The crate.
        krate: String,
        /// The requirement.
        req: String,
        /// The yanked versions.
        versions: String,
        /// Who needs it.
        chain: Vec<String>,
    },
    /// A requested feature does not exist.
    #[error(
        "{krate} {version}: has no feature {feature:?}{}",
        airlift_core::needed_by(chain)
    )]
    Feature {
        /// The crate.
        krate: String,
        /// The version.
        version: String,
        /// The feature.
        feature: String,
        /// Who asked for it.
        chain: Vec<String>,
    },
    /// A lockfile names a version the index does not list.
    #[error("{origin}: {krate} {version} is not in the upstream index")]
    Missing {
        /// Lockfile position.
        origin: String,
        /// The crate.
        krate: String,
        /// The version.
        version: String,
    },
    /// A checksum disagrees; nothing was indexed.
    #[error(
        "{krate} {version}: checksum mismatch: {expected_from} says {expected}, {actual_from} {actual}; nothing was stored in the index"
    )]
    ChecksumMismatch {
        /// The crate.
        krate: String,
        /// The version.
        version: String,
        /// Who states the expected value.
        expected_from: String,
        /// Expected.
        expected: Digest,
        /// Where the other value came from.
        actual_from: String,
        /// The other value.
        actual: Digest,
    },
    /// A download failed.
    #[error("{krate} {version}: {source}")]
    Fetch {
        /// The crate.
        krate: String,
        /// The version.
        version: String,
        /// The cause.
        source: FetchError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A declared crate.
#[derive(Clone, Debug)]
pub struct Root {
    /// The crate name.
    pub name: String,
    /// The requirement.
    pub req: semver::VersionReq,
    /// Features to enable.
    pub features: Vec<String>,
}

/// `[cargo]`, checked.
#[derive(Debug)]
pub struct Planned {
    /// The upstream sparse index base (without `sparse+`), ending in `/`.
    pub index: SafeUrl,
    /// A token for the index host.
    pub authorization: Option<Secret>,
    /// Declared crates.
    pub roots: Vec<Root>,
    /// Locked packages.
    pub pins: Vec<Pin>,
    /// Carry dev-dependencies of declared crates.
    pub dev: bool,
}

/// Checks `[cargo]`; lockfile paths are relative to `base`.
pub fn plan(spec: &CargoSpec, base: &Path) -> Result<Planned, CollectError> {
    let Some(stripped) = spec.index.strip_prefix("sparse+") else {
        return Err(CollectError::Spec(format!(
            "index {:?} must be a sparse index URL starting with sparse+ (sparse+https://index.example.com/); git indexes are not supported",
            if spec.index.contains('@') {
                "<hidden: contains '@'>"
            } else {
                spec.index.as_str()
            }
        )));
    };
    let mut text = stripped.to_owned();
    if !text.ends_with('/') {
        text.push('/');
    }
    let index = SafeUrl::parse(&text)
        .map_err(|e| CollectError::Spec(format!("index is not a URL: {e}")))?;
    if !matches!(index.expose().scheme(), "http" | "https") {
        return Err(CollectError::Spec(format!(
            "index {} must be a sparse index over http or https (sparse+https://…/)",
            index.redacted()
        )));
    }
    let mut roots = Vec::new();
    for entry in &spec.crates {
        let (name, req) = match entry.split_once('@') {
            Some((name, req)) => (name.trim(), req.trim()),
            None => (entry.trim(), "*"),
        };
        if !index::valid_name(name) {
            return Err(CollectError::Spec(format!(
                "crates: {entry:?}: {name:?} is not a crate name"
            )));
        }
        let req = semver::VersionReq::parse(req)
            .map_err(|e| CollectError::Spec(format!("crates: {entry:?}: {e}")))?;
        roots.push(Root {
            name: name.to_owned(),
            req,
            features: spec.features.get(name).cloned().unwrap_or_default(),
        });
    }
    for name in spec.features.keys() {
        if !roots.iter().any(|r| &r.name == name) {
            return Err(CollectError::Spec(format!(
                "features names {name:?}, which is not in crates"
            )));
        }
    }
    let mut pins = Vec::new();
    for path in &spec.lockfiles {
        pins.extend(lockfile::read(&base.join(path))?);
    }
    let authorization =
        credentials::resolve_optional(spec.credentials.as_deref(), AuthScheme::Token)
            .map_err(|e| CollectError::Spec(e.to_string()))?;
    Ok(Planned {
        index,
        authorization,
        roots,
        pins,
        dev: spec.dev,
    })
}

/// What a collect produced.
#[derive(Debug, Default)]
pub struct Collected {
    /// One entry per crate version.
    pub entries: Vec<Entry>,
    /// Crate versions carried.
    pub crates: u64,
    /// Bytes of `.crate` files.
    pub bytes: u64,
    /// Files downloaded now (the rest were in the store).
    pub downloaded: u64,
    /// Index files read.
    pub index_files: u64,
    /// Notes (dependencies from other registries, which are not carried).
    pub notes: Vec<String>,
    /// For each carried crate, the versions its index file lists that are
    /// newer than the oldest carried one, yanked ones left out: read from
    /// the index files collect fetched anyway.
    pub upstream: Vec<airlift_ecosystem::UpstreamVersions>,
}

/// Collects everything `[cargo]` declares.
pub async fn collect(
    planned: &Planned,
    context: &CollectContext<'_>,
) -> Result<Collected, CollectError> {
    let (store, fetcher, concurrency) = (context.store, context.fetcher, context.concurrency);
    let progress = context.progress.clone();
    let mut up = Upstream {
        index: Index::new(
            fetcher,
            planned.index.clone(),
            planned.authorization.clone(),
            PROFILE,
        ),
        concurrency: concurrency.max(1),
        files: HashMap::new(),
        index_files: 0,
    };
    if planned.pins.is_empty() && planned.roots.is_empty() {
        return Ok(Collected::default());
    }
    let template = up.download_template().await?;
    let mut chosen: BTreeMap<(String, semver::Version), Release> = BTreeMap::new();
    up.load(
        planned
            .pins
            .iter()
            .map(|p| (p.name.clone(), vec![p.origin.clone()]))
            .collect(),
    )
    .await?;
    for pin in &planned.pins {
        let releases = up.releases(&pin.name)?;
        let release = releases
            .iter()
            .find(|r| r.line.vers == pin.version)
            .ok_or_else(|| CollectError::Missing {
                origin: pin.origin.clone(),
                krate: pin.name.clone(),
                version: pin.version.clone(),
            })?;
        if release.cksum != pin.checksum {
            return Err(CollectError::ChecksumMismatch {
                krate: pin.name.clone(),
                version: pin.version.clone(),
                expected_from: pin.origin.clone(),
                expected: pin.checksum,
                actual_from: "the upstream index says".into(),
                actual: release.cksum,
            });
        }
        chosen.insert(
            (pin.name.to_ascii_lowercase(), release.version.clone()),
            release.clone(),
        );
    }
    let mut notes = Vec::new();
    chosen.extend(resolve(&mut up, planned, &mut notes).await?);
    let list: Vec<Release> = chosen.into_values().collect();
    let requests = list
        .iter()
        .map(|r| {
            let url = download_url(&template, &r.line.name, &r.line.vers, &r.cksum);
            let url = planned
                .index
                .expose()
                .join(&url)
                .ok()
                .and_then(|u| SafeUrl::parse(u.as_str()).ok())
                .filter(|u| matches!(u.expose().scheme(), "http" | "https"))
                .ok_or_else(|| CollectError::Upstream {
                    krate: r.line.name.clone(),
                    url,
                    message: "the registry's dl template does not give an http or https URL for this crate".into(),
                })?;
            Ok(Request {
                authorization: up.index.authorization_for(url.expose()),
                url,
                expected: Some(r.cksum),
            })
        })
        .collect::<Result<Vec<_>, CollectError>>()?;
    let results = fetcher.fetch_all(store, requests, progress).await;
    let mut collected = Collected::default();
    let mut carried = Vec::new();
    for (release, result) in list.iter().zip(results) {
        let fetched = result.map_err(|e| match e {
            FetchError::DigestMismatch {
                expected, actual, ..
            } => CollectError::ChecksumMismatch {
                krate: release.line.name.clone(),
                version: release.line.vers.clone(),
                expected_from: "the upstream index".into(),
                expected,
                actual_from: "the downloaded .crate hashes to".into(),
                actual,
            },
            other => CollectError::Fetch {
                krate: release.line.name.clone(),
                version: release.line.vers.clone(),
                source: other,
            },
        })?;
        if !fetched.cached {
            collected.downloaded += 1;
        }
        collected.bytes += fetched.size;
        collected.crates += 1;
        carried.push((release.clone(), fetched.size));
    }
    collected.upstream = newer_upstream(&list, &up);
    // The licence each `.crate` states, read from the store off the async
    // threads (the sparse index has none).
    let blobs = store.clone();
    collected.entries = tokio::task::spawn_blocking(move || {
        carried
            .into_iter()
            .map(|(release, size)| {
                let blob = blobs.blobs.open(&release.cksum)?;
                let license =
                    crate::manifest::crate_license(blob, &release.line.name, &release.line.vers);
                Ok(index::entry(&release, size, license.as_deref()))
            })
            .collect::<Result<Vec<Entry>, StoreError>>()
    })
    .await
    .map_err(|e| CollectError::Spec(format!("internal: reading licences: {e}")))??;
    collected.index_files = up.index_files;
    notes.sort();
    notes.dedup();
    collected.notes = notes;
    Ok(collected)
}

/// For each crate of `carried`, the versions its index file (read by `up`)
/// lists that are newer than the oldest carried one, yanked ones left out
/// (an empty list says it is up to date); names lowercase, as its index
/// entries are keyed.
fn newer_upstream(
    carried: &[Release],
    up: &Upstream<'_>,
) -> Vec<airlift_ecosystem::UpstreamVersions> {
    let compare = |a: &str, b: &str| match (semver::Version::parse(a), semver::Version::parse(b)) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => a.cmp(b),
    };
    let names: Vec<(String, &str)> = carried
        .iter()
        .map(|r| (r.line.name.to_ascii_lowercase(), r.line.vers.as_str()))
        .collect();
    let oldest = airlift_ecosystem::UpstreamVersions::oldest_carried(
        names
            .iter()
            .map(|(name, version)| (name.as_str(), *version)),
        compare,
    );
    oldest
        .into_iter()
        .filter_map(|(name, oldest)| {
            let releases = up.files.get(&name)?;
            let offered = releases
                .iter()
                .filter(|r| !r.line.yanked)
                .map(|r| r.line.vers.clone());
            Some(airlift_ecosystem::UpstreamVersions::newer_than(
                name, &oldest, offered, compare,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests;
