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
use airlift_fetch::{FetchError, FetchProgress, Fetcher, Request, Secret};
use airlift_store::{Entry, Store, StoreError};
use futures_util::StreamExt;

use crate::index::{self, Release};
use crate::lockfile::{self, LockError, Pin};
use crate::spec::CargoSpec;

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
    let authorization = match &spec.credentials {
        None => None,
        Some(name) => Some(Secret(std::env::var(format!("{name}_TOKEN")).map_err(
            |_| {
                CollectError::Spec(format!(
                    "credentials = {name:?} but {name}_TOKEN is not set"
                ))
            },
        )?)),
    };
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
}

struct Upstream<'a> {
    fetcher: &'a Fetcher,
    planned: &'a Planned,
    concurrency: usize,
    files: HashMap<String, Arc<Vec<Release>>>,
    index_files: u64,
}

impl Upstream<'_> {
    fn authorization_for(&self, url: &url::Url) -> Option<Secret> {
        airlift_fetch::same_origin(url, self.planned.index.expose())
            .then(|| self.planned.authorization.clone())
            .flatten()
    }

    async fn get(&self, url: &SafeUrl) -> Result<airlift_fetch::Small, FetchError> {
        let authorization = self.authorization_for(url.expose());
        self.fetcher
            .get_small(
                url,
                &[("Accept", "text/plain"), ("cargo-protocol", "version=1")],
                authorization.as_ref(),
                64 << 20,
            )
            .await
    }

    /// The `dl` template from the upstream `config.json`.
    async fn download_template(&self) -> Result<String, CollectError> {
        let url = join(&self.planned.index, "config.json")?;
        let upstream = |message: String| CollectError::Upstream {
            krate: "(index)".into(),
            url: url.redacted(),
            message,
        };
        let page = self.get(&url).await.map_err(|e| upstream(e.to_string()))?;
        if !page.status.is_success() {
            return Err(upstream(format!("answered {}", page.status)));
        }
        let config: serde_json::Value = serde_json::from_slice(&page.body)
            .map_err(|e| upstream(format!("malformed config.json: {e}")))?;
        config
            .get("dl")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| upstream("config.json has no \"dl\"".into()))
    }

    /// Reads the index files of every crate not yet read, concurrently.
    async fn load(&mut self, wanted: Vec<(String, Vec<String>)>) -> Result<(), CollectError> {
        let wanted: Vec<(String, Vec<String>)> = wanted
            .into_iter()
            .filter(|(n, _)| !self.files.contains_key(&n.to_ascii_lowercase()))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect();
        let this = &*self;
        let results: Vec<Result<(String, Vec<Release>), CollectError>> =
            futures_util::stream::iter(wanted)
                .map(|(name, chain)| async move {
                    let url = join(&this.planned.index, &index::path(&name))?;
                    let page = this.get(&url).await.map_err(|e| CollectError::Upstream {
                        krate: name.clone(),
                        url: url.redacted(),
                        message: e.detail(),
                    })?;
                    if matches!(page.status.as_u16(), 404 | 410 | 451) {
                        return Err(CollectError::NotFound {
                            krate: name,
                            url: url.redacted(),
                            chain,
                        });
                    }
                    if !page.status.is_success() {
                        return Err(CollectError::Upstream {
                            krate: name,
                            url: url.redacted(),
                            message: format!("answered {}", page.status),
                        });
                    }
                    let releases = index::parse_file(&name, &page.body).map_err(|message| {
                        CollectError::Upstream {
                            krate: name.clone(),
                            url: url.redacted(),
                            message,
                        }
                    })?;
                    Ok((name.to_ascii_lowercase(), releases))
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        for result in results {
            let (name, releases) = result?;
            self.index_files += 1;
            self.files.insert(name, Arc::new(releases));
        }
        Ok(())
    }

    fn releases(&self, name: &str) -> Result<Arc<Vec<Release>>, CollectError> {
        self.files
            .get(&name.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| CollectError::Spec(format!("internal: index of {name} not loaded")))
    }
}

fn join(base: &SafeUrl, path: &str) -> Result<SafeUrl, CollectError> {
    base.expose()
        .join(path)
        .ok()
        .and_then(|u| SafeUrl::parse(u.as_str()).ok())
        .ok_or_else(|| CollectError::Spec(format!("cannot form a URL for {path}")))
}

/// The download URL of a crate version from the `dl` template.
pub fn download_url(template: &str, name: &str, version: &str, cksum: &Digest) -> String {
    let markers = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !markers.iter().any(|m| template.contains(m)) {
        return format!(
            "{}/{name}/{version}/download",
            template.trim_end_matches('/')
        );
    }
    let full = index::path(name);
    let lower_prefix = full.rsplit_once('/').map_or("", |(p, _)| p).to_owned();
    let prefix = match name.len() {
        1 | 2 => lower_prefix.clone(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    };
    template
        .replace("{crate}", name)
        .replace("{version}", version)
        .replace("{lowerprefix}", &lower_prefix)
        .replace("{prefix}", &prefix)
        .replace("{sha256-checksum}", &cksum.hex())
}

/// One requirement to satisfy.
#[derive(Clone, Debug)]
struct Need {
    name: String,
    req: semver::VersionReq,
    features: BTreeSet<String>,
    default: bool,
    dev: bool,
    chain: Vec<String>,
}

/// A semver-compatible range: `1.x`, `0.3.x`, `0.0.7`.
type Bucket = (u64, u64, u64);

fn bucket(version: &semver::Version) -> Bucket {
    match (version.major, version.minor) {
        (0, 0) => (0, 0, version.patch),
        (0, minor) => (0, minor, u64::MAX),
        (major, _) => (major, u64::MAX, u64::MAX),
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Activation {
    features: BTreeSet<String>,
    default: bool,
    dev: bool,
}

/// The closure of the declared crates: (lowercase name, version) → release.
async fn resolve(
    up: &mut Upstream<'_>,
    planned: &Planned,
    notes: &mut Vec<String>,
) -> Result<BTreeMap<(String, semver::Version), Release>, CollectError> {
    // Features are unified per semver-compatible range, as cargo builds one
    // version per range with the union of what every dependent asks for:
    // when the union grows, every carried version in the range is expanded
    // again, so whichever of them cargo settles on has its optional
    // dependencies carried.
    let mut active: BTreeMap<(String, Bucket), Activation> = BTreeMap::new();
    let mut picked: BTreeMap<(String, semver::Version), Release> = BTreeMap::new();
    let mut chains: BTreeMap<(String, semver::Version), Vec<String>> = BTreeMap::new();
    let mut queue: Vec<Need> = planned
        .roots
        .iter()
        .map(|root| Need {
            name: root.name.clone(),
            req: root.req.clone(),
            features: root.features.iter().cloned().collect(),
            default: true,
            dev: planned.dev,
            chain: vec![format!("{}@{} in airlift.toml crates", root.name, root.req)],
        })
        .collect();
    while !queue.is_empty() {
        up.load(
            queue
                .iter()
                .map(|n| (n.name.clone(), n.chain.clone()))
                .collect(),
        )
        .await?;
        let mut next = Vec::new();
        for need in queue {
            let releases = up.releases(&need.name)?;
            let release = choose(&need, &releases)?;
            let lower = need.name.to_ascii_lowercase();
            let key = (lower.clone(), release.version.clone());
            let range = (lower.clone(), bucket(&release.version));
            let activation = active.entry(range.clone()).or_default();
            let before = activation.clone();
            let fresh = !picked.contains_key(&key);
            activation.features.extend(need.features.iter().cloned());
            activation.default |= need.default;
            activation.dev |= need.dev;
            let grown = *activation != before;
            if !fresh && !grown {
                continue;
            }
            let activation = activation.clone();
            if fresh {
                picked.insert(key.clone(), release.clone());
                let mut chain = need.chain.clone();
                chain.insert(0, format!("{} {}", release.line.name, release.version));
                chains.insert(key.clone(), chain);
            }
            // The new version, or every version of the range when the union grew.
            let targets: Vec<(String, semver::Version)> = if grown {
                picked
                    .keys()
                    .filter(|(n, v)| *n == lower && bucket(v) == range.1)
                    .cloned()
                    .collect()
            } else {
                vec![key.clone()]
            };
            let none = BTreeSet::new();
            for target in targets {
                let (Some(release), Some(chain)) = (picked.get(&target), chains.get(&target))
                else {
                    continue;
                };
                // Features this need asked of this very version must exist.
                let strict = if target == key { &need.features } else { &none };
                next.extend(expand(release, &activation, chain, notes, strict)?);
            }
        }
        queue = next;
    }
    Ok(picked)
}

/// The newest non-yanked release matching a requirement.
fn choose<'a>(need: &Need, releases: &'a [Release]) -> Result<&'a Release, CollectError> {
    let matching: Vec<&Release> = releases
        .iter()
        .filter(|r| need.req.matches(&r.version))
        .collect();
    if let Some(best) = matching
        .iter()
        .filter(|r| !r.line.yanked)
        .max_by(|a, b| a.version.cmp(&b.version))
    {
        return Ok(best);
    }
    if !matching.is_empty() {
        return Err(CollectError::YankedOnly {
            krate: need.name.clone(),
            req: need.req.to_string(),
            versions: matching
                .iter()
                .map(|r| r.version.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            chain: need.chain.clone(),
        });
    }
    let mut versions: Vec<&semver::Version> = releases.iter().map(|r| &r.version).collect();
    versions.sort();
    let available: Vec<String> = versions
        .iter()
        .rev()
        .take(8)
        .rev()
        .map(ToString::to_string)
        .collect();
    Err(CollectError::Unsatisfiable {
        krate: need.name.clone(),
        req: need.req.to_string(),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
        chain: need.chain.clone(),
    })
}

/// The dependencies an activated release needs, with their features.
fn expand(
    release: &Release,
    activation: &Activation,
    chain: &[String],
    notes: &mut Vec<String>,
    strict: &BTreeSet<String>,
) -> Result<Vec<Need>, CollectError> {
    let deps = &release.line.deps;
    let optional: BTreeSet<&str> = deps
        .iter()
        .filter(|d| d.optional)
        .map(|d| d.name.as_str())
        .collect();
    let mut work: Vec<String> = activation.features.iter().cloned().collect();
    if activation.default && release.feature("default").is_some() {
        work.push("default".into());
    }
    let mut seen = BTreeSet::new();
    let mut enabled: BTreeSet<String> = BTreeSet::new();
    let mut dep_features: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut weak: Vec<(String, String)> = Vec::new();
    while let Some(feature) = work.pop() {
        if !seen.insert(feature.clone()) {
            continue;
        }
        match release.feature(&feature) {
            Some(items) => {
                for item in items {
                    if let Some(dep) = item.strip_prefix("dep:") {
                        enabled.insert(dep.to_owned());
                    } else if let Some((dep, sub)) = item.split_once('/') {
                        if let Some(dep) = dep.strip_suffix('?') {
                            // Cargo's resolver locks what a weak feature
                            // names even when nothing else enables it.
                            if optional.contains(dep) {
                                enabled.insert(dep.to_owned());
                            }
                            weak.push((dep.to_owned(), sub.to_owned()));
                        } else {
                            if optional.contains(dep) {
                                enabled.insert(dep.to_owned());
                            }
                            dep_features
                                .entry(dep.to_owned())
                                .or_default()
                                .insert(sub.to_owned());
                        }
                    } else {
                        work.push(item);
                    }
                }
            }
            // The implicit feature of an optional dependency.
            None if optional.contains(feature.as_str()) => {
                enabled.insert(feature);
            }
            // Asked of another version of the range: not this one's.
            None if !strict.contains(&feature) => {}
            None => {
                return Err(CollectError::Feature {
                    krate: release.line.name.clone(),
                    version: release.version.to_string(),
                    feature,
                    chain: chain[1..].to_vec(),
                });
            }
        }
    }
    for (dep, sub) in weak {
        let on = enabled.contains(&dep) || deps.iter().any(|d| d.name == dep && !d.optional);
        if on {
            dep_features.entry(dep).or_default().insert(sub);
        }
    }
    let mut needs = Vec::new();
    for dep in deps {
        let wanted = match dep.kind() {
            "dev" => activation.dev,
            _ => true,
        };
        if !wanted || (dep.optional && !enabled.contains(&dep.name)) {
            continue;
        }
        if !index::valid_name(dep.crate_name()) {
            return Err(CollectError::Upstream {
                krate: release.line.name.clone(),
                url: format!("index line of {}", release.version),
                message: format!("dependency {:?} is not a crate name", dep.crate_name()),
            });
        }
        if let Some(registry) = &dep.registry {
            notes.push(format!(
                "{} {}: dependency {} comes from another registry ({registry}) and is not carried",
                release.line.name,
                release.version,
                dep.crate_name()
            ));
            continue;
        }
        let req = semver::VersionReq::parse(&dep.req).map_err(|e| CollectError::Upstream {
            krate: release.line.name.clone(),
            url: format!("index line of {}", release.version),
            message: format!("dependency {} has requirement {:?}: {e}", dep.name, dep.req),
        })?;
        let mut features: BTreeSet<String> = dep.features.iter().cloned().collect();
        if let Some(more) = dep_features.get(&dep.name) {
            features.extend(more.iter().cloned());
        }
        needs.push(Need {
            name: dep.crate_name().to_owned(),
            req,
            features,
            default: dep.default_features,
            dev: false,
            chain: chain.to_vec(),
        });
    }
    Ok(needs)
}

/// Collects everything `[cargo]` declares.
pub async fn collect(
    store: &Store,
    fetcher: &Fetcher,
    planned: &Planned,
    concurrency: usize,
    progress: Arc<dyn FetchProgress>,
) -> Result<Collected, CollectError> {
    let mut up = Upstream {
        fetcher,
        planned,
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
                authorization: up.authorization_for(url.expose()),
                url,
                expected: Some(r.cksum),
            })
        })
        .collect::<Result<Vec<_>, CollectError>>()?;
    let results = fetcher.fetch_all(store, requests, progress).await;
    let mut collected = Collected::default();
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
        collected.entries.push(index::entry(release, fetched.size));
    }
    collected.index_files = up.index_files;
    notes.sort();
    notes.dedup();
    collected.notes = notes;
    Ok(collected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_urls_follow_the_template() {
        let d = Digest::of(b"x");
        assert_eq!(
            download_url("https://dl.example.com/api/v1/crates", "serde", "1.0.0", &d),
            "https://dl.example.com/api/v1/crates/serde/1.0.0/download"
        );
        assert_eq!(
            download_url(
                "https://dl.example.com/{prefix}/{crate}/{crate}-{version}.crate",
                "Serde",
                "1.0.0",
                &d
            ),
            "https://dl.example.com/Se/rd/Serde/Serde-1.0.0.crate"
        );
        assert_eq!(
            download_url(
                "https://dl.example.com/{lowerprefix}/{sha256-checksum}",
                "abc",
                "1.0.0",
                &d
            ),
            format!("https://dl.example.com/3/a/{}", d.hex())
        );
    }

    fn release(line: &str) -> Release {
        index::parse_file("x", line.as_bytes())
            .expect("line")
            .remove(0)
    }

    #[test]
    fn features_enable_optional_dependencies() {
        let hex = "a".repeat(64);
        let line = format!(
            r#"{{"name":"x","vers":"1.0.0","cksum":"{hex}","deps":[
              {{"name":"always","req":"^1","kind":"normal"}},
              {{"name":"builder","req":"^1","kind":"build"}},
              {{"name":"tester","req":"^1","kind":"dev"}},
              {{"name":"opt-a","req":"^1","optional":true}},
              {{"name":"opt-b","req":"^1","optional":true}},
              {{"name":"opt-c","req":"^1","optional":true}},
              {{"name":"renamed","package":"real-name","req":"^2","optional":true,"default_features":false}}
            ],"features":{{"default":["a"],"a":["opt-a/extra"],"weak":["opt-b?/w"]}},"features2":{{"r":["dep:renamed","renamed/f"]}}}}"#
        )
        .replace('\n', "");
        let r = release(&line);
        let names = |needs: &[Need]| needs.iter().map(|n| n.name.clone()).collect::<Vec<_>>();
        let mut notes = Vec::new();
        let base = Activation {
            features: BTreeSet::new(),
            default: true,
            dev: false,
        };
        let needs =
            expand(&r, &base, &["x".into()], &mut notes, &BTreeSet::new()).expect("expands");
        assert_eq!(names(&needs), ["always", "builder", "opt-a"]);
        assert!(needs[2].features.contains("extra"));
        let more = Activation {
            features: ["weak".to_owned(), "r".to_owned(), "opt-c".to_owned()].into(),
            default: false,
            dev: true,
        };
        let needs =
            expand(&r, &more, &["x".into()], &mut notes, &BTreeSet::new()).expect("expands");
        // The weak `opt-b?/w` brings opt-b: cargo's lockfile resolver
        // reaches it, so `cargo generate-lockfile` in the gap needs it.
        assert_eq!(
            names(&needs),
            ["always", "builder", "tester", "opt-b", "opt-c", "real-name"]
        );
        assert!(needs[3].features.contains("w"));
        assert!(!needs[5].default && needs[5].features.contains("f"));
        let bad = Activation {
            features: ["nope".to_owned()].into(),
            ..base
        };
        let error = expand(
            &r,
            &bad,
            &["x 1.0.0".into(), "root".into()],
            &mut notes,
            &bad.features,
        )
        .expect_err("unknown");
        assert!(
            error
                .to_string()
                .contains("x 1.0.0: has no feature \"nope\""),
            "{error}"
        );
    }
}
