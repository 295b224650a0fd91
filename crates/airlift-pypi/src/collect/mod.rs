//! Collecting Python packages: lockfile pins as they are, plain requirements
//! with their dependency closure for every target, every file verified
//! against the upstream's hash and the lockfile's.
//!
//! Resolution works in waves. In each wave, every target picks, for every
//! constrained project, the newest version that satisfies all constraints on
//! it (the same choice pip makes first), then the metadata of every newly
//! picked release is fetched at once (PEP 658 `.metadata` files, otherwise
//! the wheel's `METADATA` or the sdist's `PKG-INFO`), and its
//! `Requires-Dist` lines, evaluated for the target and requested extras,
//! become the next wave's constraints. Constraints from a release that is no
//! longer picked are withdrawn. It ends when a wave picks nothing new, so the
//! carried set is consistent: a resolver inside the gap finds a solution.
//!
//! The steps live in their own modules: `download` reads the upstream
//! (project pages, metadata, build requirements), `resolve` runs the waves
//! and picks releases and files, `pins` checks lockfile pins against the
//! upstream; this module plans, runs them in order and downloads and
//! verifies what was chosen.

// Errors name the package, file and both digests; they are built once, on
// the way out of a failed collect, so their size costs nothing.
#![allow(clippy::result_large_err)]

mod download;
mod pins;
mod resolve;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use airlift_core::{Digest, SafeUrl};
use airlift_ecosystem::CollectContext;
use airlift_fetch::credentials::{self, AuthScheme};
use airlift_fetch::index::Index;
use airlift_fetch::{FetchError, Request, Secret};
use airlift_store::{Entry, StoreError};

use crate::lockfile::{self, LockError, Pin};
use crate::requirement::Requirement;
use crate::spec::PypiSpec;
use crate::tags::{Target, targets};
use crate::upstream::UpFile;
use download::Upstream;
use pins::pinned_files;
use resolve::{carried, releases, resolve, to_build, usable};

/// Why a collect failed; every message names the package involved.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// `[pypi]` cannot be used as written.
    #[error("[pypi]: {0}")]
    Spec(String),
    /// A lockfile cannot be used.
    #[error("{0}")]
    Lock(#[from] LockError),
    /// The upstream has no such project.
    #[error(
        "{project}: not found at the upstream index ({url}){}",
        airlift_core::needed_by(chain)
    )]
    NotFound {
        /// The project.
        project: String,
        /// The page URL.
        url: String,
        /// Who needs it.
        chain: Vec<String>,
    },
    /// The upstream answered something unusable.
    #[error("{project}: {url}: {message}")]
    Upstream {
        /// The project.
        project: String,
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// No release satisfies the constraints.
    #[error(
        "{project}: no release satisfies {constraints} for {target}; available: {available}{}",
        airlift_core::needed_by(chain)
    )]
    Unsatisfiable {
        /// The project.
        project: String,
        /// Every constraint on it.
        constraints: String,
        /// The target.
        target: String,
        /// Versions upstream has (newest last).
        available: String,
        /// Who needs it.
        chain: Vec<String>,
    },
    /// Only yanked releases satisfy the constraints.
    #[error(
        "{project}: every release that satisfies {constraints} is yanked ({versions}); pin one with == to accept it{}",
        airlift_core::needed_by(chain)
    )]
    YankedOnly {
        /// The project.
        project: String,
        /// Every constraint on it.
        constraints: String,
        /// The yanked versions.
        versions: String,
        /// Who needs it.
        chain: Vec<String>,
    },
    /// Releases match, but none has a file for a target.
    #[error(
        "{project} {version}: no file fits {target} (no compatible wheel, no sdist, or Requires-Python excludes it){}",
        airlift_core::needed_by(chain)
    )]
    NoFile {
        /// The project.
        project: String,
        /// The version (or constraint).
        version: String,
        /// The target.
        target: String,
        /// Who needs it.
        chain: Vec<String>,
    },
    /// A lockfile names a file or version the upstream does not list.
    #[error("{origin}: {project} {what} is not at the upstream index")]
    Missing {
        /// Lockfile position.
        origin: String,
        /// The project.
        project: String,
        /// The version or file.
        what: String,
    },
    /// No upstream file of a locked release has a hash the lockfile allows.
    #[error(
        "{origin}: {project} {version}: no file at the upstream has a hash the lockfile allows; the lockfile or the upstream changed"
    )]
    NoLockedFile {
        /// Lockfile position.
        origin: String,
        /// The project.
        project: String,
        /// The version.
        version: String,
    },
    /// A hash disagrees; nothing was indexed.
    #[error(
        "{project}: {filename}: hash mismatch: {expected_from} says {expected}, {actual_from} {actual}; nothing was stored in the index"
    )]
    HashMismatch {
        /// The project.
        project: String,
        /// The file.
        filename: String,
        /// Who states the expected value.
        expected_from: String,
        /// The expected digest.
        expected: Digest,
        /// Where the other value came from.
        actual_from: String,
        /// The other digest.
        actual: Digest,
    },
    /// Core metadata is unusable.
    #[error("{project}: {filename}: malformed metadata: {message}")]
    Metadata {
        /// The project.
        project: String,
        /// The file it came from.
        filename: String,
        /// What is wrong.
        message: String,
    },
    /// A requirement points at a URL, which an index cannot serve.
    #[error(
        "{requirement}: a direct URL requirement cannot be mirrored{}",
        airlift_core::needed_by(chain)
    )]
    DirectUrl {
        /// The requirement.
        requirement: String,
        /// Who needs it.
        chain: Vec<String>,
    },
    /// Resolution kept changing its mind.
    #[error("resolution did not settle after {0} rounds; pin the packages that keep changing")]
    Unsettled(usize),
    /// A download failed.
    #[error("{project}: {filename}: {source}")]
    Fetch {
        /// The project.
        project: String,
        /// The file.
        filename: String,
        /// The cause.
        source: FetchError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `[pypi]`, checked: what to fetch and for which targets.
#[derive(Debug)]
pub struct Planned {
    /// The upstream Simple API base, ending in `/`.
    pub index: SafeUrl,
    /// Basic credentials for the index host.
    pub authorization: Option<Secret>,
    /// Target interpreters and platforms.
    pub targets: Vec<Target>,
    /// Requirements to resolve.
    pub roots: Vec<Requirement>,
    /// Locked releases.
    pub pins: Vec<Pin>,
    /// Carry sdists.
    pub sdist: bool,
    /// Let the resolver pick pre-releases.
    pub prereleases: bool,
}

/// Checks `[pypi]`; lockfile paths are relative to `base`.
pub fn plan(spec: &PypiSpec, base: &Path) -> Result<Planned, CollectError> {
    let mut text = spec.index.clone();
    if !text.ends_with('/') {
        text.push('/');
    }
    let index = SafeUrl::parse(&text)
        .map_err(|e| CollectError::Spec(format!("index is not a URL: {e}")))?;
    if !matches!(index.expose().scheme(), "http" | "https") {
        return Err(CollectError::Spec(format!(
            "index {} must be http or https",
            index.redacted()
        )));
    }
    if spec.python.is_empty() {
        return Err(CollectError::Spec(
            "python must name at least one target version, such as [\"3.12\"]".into(),
        ));
    }
    let targets = targets(&spec.python, &spec.platforms).map_err(CollectError::Spec)?;
    let mut roots = Vec::new();
    for text in &spec.packages {
        let requirement =
            Requirement::parse(text).map_err(|e| CollectError::Spec(format!("packages: {e}")))?;
        if requirement.url.is_some() {
            return Err(CollectError::DirectUrl {
                requirement: text.clone(),
                chain: vec!["airlift.toml packages".into()],
            });
        }
        roots.push(requirement);
    }
    let mut pins = Vec::new();
    for path in &spec.lockfiles {
        let read = lockfile::read(&base.join(path))?;
        for pin in &read {
            lockfile::check_version(pin).map_err(CollectError::Spec)?;
        }
        pins.extend(read);
    }
    let authorization =
        credentials::resolve_optional(spec.credentials.as_deref(), AuthScheme::Basic)
            .map_err(|e| CollectError::Spec(e.to_string()))?;
    Ok(Planned {
        index,
        authorization,
        targets,
        roots,
        pins,
        sdist: spec.sdist,
        prereleases: spec.prereleases,
    })
}

/// What a collect produced.
#[derive(Debug, Default)]
pub struct Collected {
    /// Index entries: every file and every metadata file.
    pub entries: Vec<Entry>,
    /// Projects carried.
    pub projects: u64,
    /// Distribution files carried.
    pub files: u64,
    /// Bytes of distribution files.
    pub bytes: u64,
    /// Files downloaded now (the rest were in the store).
    pub downloaded: u64,
    /// Upstream index pages read.
    pub pages: u64,
    /// Notes for the user (sdists whose dependencies are dynamic, …).
    pub notes: Vec<String>,
    /// For each carried project, the releases its upstream page lists that
    /// are newer than the oldest carried one (a release whose every file
    /// is yanked left out): read from the pages collect fetched anyway.
    pub upstream: Vec<airlift_ecosystem::UpstreamVersions>,
}

/// A file chosen to carry.
#[derive(Clone, Debug)]
struct Chosen {
    file: UpFile,
    version: String,
    expected: Option<Digest>,
}

/// Collects everything `[pypi]` declares.
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
            crate::upstream::PROFILE,
        ),
        fetcher,
        store,
        concurrency: concurrency.max(1),
        projects: HashMap::new(),
        metadata: HashMap::new(),
        pages: 0,
    };
    // Lockfile pins.
    up.load_projects(
        planned
            .pins
            .iter()
            .map(|p| (p.project.clone(), vec![p.origin.clone()])),
    )
    .await?;
    let mut chosen: BTreeMap<(String, String), Chosen> = BTreeMap::new();
    let mut lock_hashes: HashMap<(String, String), BTreeSet<Digest>> = HashMap::new();
    for pin in &planned.pins {
        let project = up.projects.get(&pin.project).cloned().ok_or_else(|| {
            CollectError::Spec(format!("internal: page of {} not loaded", pin.project))
        })?;
        for file in pinned_files(&project, pin, planned)? {
            if file.expected.is_none() && !pin.hashes.is_empty() {
                lock_hashes.insert(
                    (pin.project.clone(), file.file.filename.clone()),
                    pin.hashes.clone(),
                );
            }
            chosen.insert((pin.project.clone(), file.file.filename.clone()), file);
        }
    }
    // Plain requirements, resolved; then the build requirements of every
    // sdist a target will have to build (no carried wheel fits it), until
    // nothing new is needed.
    let mut notes = Vec::new();
    let mut roots = planned.roots.clone();
    let mut examined: BTreeSet<(String, String)> = BTreeSet::new();
    let locked = chosen.clone();
    for _round in 0..4 {
        let mut round = locked.clone();
        if !roots.is_empty() {
            let states = resolve(&mut up, planned, &roots).await?;
            for (state, target) in states.iter().zip(&planned.targets) {
                for (name, (version, _)) in &state.picked {
                    let Some(project) = up.projects.get(name).cloned() else {
                        continue;
                    };
                    let exact = state
                        .constraints
                        .get(name)
                        .is_some_and(|p| p.values().flatten().any(|r| r.specifiers.is_exact_pin()));
                    let Some(release) = releases(&project)
                        .into_iter()
                        .find(|r| &r.version == version)
                    else {
                        continue;
                    };
                    let fits = usable(name, &release.files, target, exact);
                    for file in carried(name, &fits, planned.sdist) {
                        round
                            .entry((name.clone(), file.filename.clone()))
                            .or_insert_with(|| Chosen {
                                file: file.clone(),
                                version: version.to_string(),
                                expected: file.sha256,
                            });
                    }
                }
            }
        }
        chosen = round;
        let mut added = false;
        for (project, choice) in to_build(&chosen, &planned.targets) {
            if !examined.insert((project.clone(), choice.file.filename.clone())) {
                continue;
            }
            for requirement in up.build_requirements(&project, &choice).await? {
                let text = requirement.to_string();
                if requirement.url.is_some() {
                    return Err(CollectError::DirectUrl {
                        requirement: text,
                        chain: vec![format!("the build of {}", choice.file.filename)],
                    });
                }
                if !roots.iter().any(|r| r.to_string() == text) {
                    notes.push(format!(
                        "{project}: {} is built from source in the gap; its build requirement {text} is carried",
                        choice.file.filename
                    ));
                    roots.push(requirement);
                    added = true;
                }
            }
        }
        if !added {
            break;
        }
    }
    for ((project, filename), (_, metadata)) in &up.metadata {
        if !filename.ends_with(".whl") && metadata.dynamic.iter().any(|d| d == "requires-dist") {
            notes.push(format!(
                "{project}: {filename} declares its dependencies dynamic; they were read from PKG-INFO and may be incomplete"
            ));
        }
    }
    // Download every chosen file, verified.
    let list: Vec<((String, String), Chosen)> = chosen.into_iter().collect();
    let requests = list
        .iter()
        .map(|(_, c)| {
            Ok(Request {
                url: SafeUrl::parse(c.file.url.as_str()).map_err(|e| CollectError::Upstream {
                    project: String::new(),
                    url: c.file.filename.clone(),
                    message: e.to_string(),
                })?,
                expected: c.expected,
                authorization: up.authorization_for(&c.file.url),
            })
        })
        .collect::<Result<Vec<_>, CollectError>>()?;
    let results = fetcher.fetch_all(store, requests, progress).await;
    let mut collected = Collected::default();
    let mut fetched = Vec::new();
    for (((project, filename), choice), result) in list.iter().zip(results) {
        let got = result.map_err(|e| up.mismatch(project, filename, e))?;
        if let Some(allowed) = lock_hashes.get(&(project.clone(), filename.clone()))
            && !allowed.contains(&got.digest)
        {
            return Err(CollectError::HashMismatch {
                project: project.clone(),
                filename: filename.clone(),
                expected_from: "the lockfile".into(),
                expected: *allowed.iter().next().unwrap_or(&got.digest),
                actual_from: "the downloaded file hashes to".into(),
                actual: got.digest,
            });
        }
        if !got.cached {
            collected.downloaded += 1;
        }
        fetched.push((project.clone(), choice.clone(), got));
    }
    // Metadata for every wheel (PEP 658 file, or extracted), so that the
    // gap can offer it to pip and uv.
    let wheels: Vec<(String, UpFile)> = fetched
        .iter()
        .filter(|(_, c, _)| c.file.filename.ends_with(".whl"))
        .map(|(p, c, got)| {
            let mut file = c.file.clone();
            file.sha256 = Some(got.digest);
            (p.clone(), file)
        })
        .collect();
    up.load_metadata(wheels).await?;
    let mut projects = BTreeSet::new();
    let mut versions: Vec<(String, String)> = Vec::new();
    for (project, choice, got) in fetched {
        versions.push((project.clone(), choice.version.clone()));
        let described = up
            .metadata
            .get(&(project.clone(), choice.file.filename.clone()));
        let metadata = described
            .filter(|_| choice.file.filename.ends_with(".whl"))
            .map(|(digest, _)| *digest);
        let metadata_size = match metadata {
            Some(d) => store.blobs.size(&d)?,
            None => None,
        };
        collected.entries.extend(crate::index::entries(
            &project,
            &choice.file,
            &choice.version,
            got.digest,
            got.size,
            metadata.zip(metadata_size),
            described.map(|(_, parsed)| parsed.as_ref()),
        ));
        projects.insert(project);
        collected.files += 1;
        collected.bytes += got.size;
    }
    collected.projects = projects.len() as u64;
    collected.upstream = newer_upstream(&versions, &up.projects);
    collected.pages = up.pages;
    notes.sort();
    collected.notes = notes;
    Ok(collected)
}

/// For each carried project of `carried` (project, version) pairs, the
/// versions its upstream page in `pages` lists that are newer than the
/// oldest carried one (an empty list says the project is up to date);
/// a release is left out when every file of it is
/// yanked (PEP 592), since installers then skip it too.
fn newer_upstream(
    carried: &[(String, String)],
    pages: &HashMap<String, std::sync::Arc<crate::upstream::Project>>,
) -> Vec<airlift_ecosystem::UpstreamVersions> {
    let compare = |a: &str, b: &str| match (
        crate::version::Version::parse(a),
        crate::version::Version::parse(b),
    ) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => a.cmp(b),
    };
    let oldest = airlift_ecosystem::UpstreamVersions::oldest_carried(
        carried.iter().map(|(p, v)| (p.as_str(), v.as_str())),
        compare,
    );
    oldest
        .into_iter()
        .filter_map(|(project, oldest)| {
            let page = pages.get(&project)?;
            let offered = releases(page)
                .into_iter()
                .filter(|release| release.files.iter().any(|f| f.yanked.is_none()))
                .map(|release| release.version.to_string());
            Some(airlift_ecosystem::UpstreamVersions::newer_than(
                project, &oldest, offered, compare,
            ))
        })
        .collect()
}
