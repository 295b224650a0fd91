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

// Errors name the package, file and both digests; they are built once, on
// the way out of a failed collect, so their size costs nothing.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use airlift_core::{Digest, SafeUrl};
use airlift_fetch::{FetchError, FetchProgress, Fetcher, Quiet, Request, Secret};
use airlift_store::{Entry, Store, StoreError};
use base64::Engine;
use futures_util::StreamExt;

use crate::lockfile::{self, LockError, Pin};
use crate::metadata::{self, Metadata};
use crate::requirement::{Requirement, normalize};
use crate::spec::PypiSpec;
use crate::tags::{Target, parse_filename, targets};
use crate::upstream::{self, Project, UpFile};
use crate::version::Version;

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
    let authorization = match &spec.credentials {
        None => None,
        Some(name) => {
            let user = std::env::var(format!("{name}_USERNAME")).ok();
            let password = std::env::var(format!("{name}_PASSWORD")).ok();
            match (user, password) {
                (Some(user), Some(password)) => Some(Secret(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
                ))),
                _ => {
                    return Err(CollectError::Spec(format!(
                        "credentials = {name:?} but {name}_USERNAME and {name}_PASSWORD are not both set"
                    )));
                }
            }
        }
    };
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
}

/// A file chosen to carry.
#[derive(Clone, Debug)]
struct Chosen {
    file: UpFile,
    version: String,
    expected: Option<Digest>,
}

struct Upstream<'a> {
    fetcher: &'a Fetcher,
    store: &'a Store,
    planned: &'a Planned,
    concurrency: usize,
    projects: HashMap<String, Arc<Project>>,
    /// (project, filename) → metadata blob digest and parsed metadata.
    metadata: HashMap<(String, String), (Digest, Arc<Metadata>)>,
    pages: u64,
}

impl Upstream<'_> {
    fn authorization_for(&self, url: &url::Url) -> Option<Secret> {
        airlift_fetch::same_origin(url, self.planned.index.expose())
            .then(|| self.planned.authorization.clone())
            .flatten()
    }

    /// Fetches the pages of every name not yet read, concurrently.
    async fn load_projects(
        &mut self,
        names: impl IntoIterator<Item = (String, Vec<String>)>,
    ) -> Result<(), CollectError> {
        let wanted: Vec<(String, Vec<String>)> = names
            .into_iter()
            .filter(|(n, _)| !self.projects.contains_key(n))
            .collect();
        let index = &self.planned.index;
        let fetcher = self.fetcher;
        let this = &*self;
        let results: Vec<Result<Project, CollectError>> = futures_util::stream::iter(wanted)
            .map(|(name, chain)| async move {
                let url = index
                    .expose()
                    .join(&format!("{name}/"))
                    .ok()
                    .and_then(|u| SafeUrl::parse(u.as_str()).ok())
                    .ok_or_else(|| CollectError::Spec(format!("cannot form a URL for {name}")))?;
                let page = fetcher
                    .get_small(
                        &url,
                        &[("Accept", upstream::ACCEPT)],
                        this.authorization_for(url.expose()).as_ref(),
                        64 << 20,
                    )
                    .await
                    .map_err(|e| CollectError::Upstream {
                        project: name.clone(),
                        url: url.redacted(),
                        message: e.detail(),
                    })?;
                if page.status.as_u16() == 404 {
                    return Err(CollectError::NotFound {
                        project: name,
                        url: url.redacted(),
                        chain,
                    });
                }
                if !page.status.is_success() {
                    return Err(CollectError::Upstream {
                        project: name,
                        url: url.redacted(),
                        message: format!("answered {}", page.status),
                    });
                }
                let content_type = page
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("text/html")
                    .to_ascii_lowercase();
                upstream::parse_page(&name, &url, &content_type, &page.body).map_err(|message| {
                    CollectError::Upstream {
                        project: name.clone(),
                        url: url.redacted(),
                        message,
                    }
                })
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for result in results {
            let project = result?;
            self.pages += 1;
            self.projects
                .insert(project.name.clone(), Arc::new(project));
        }
        Ok(())
    }

    /// Reads the metadata of each (project, file), concurrently: the PEP 658
    /// file when advertised, else the whole file's embedded metadata.
    async fn load_metadata(&mut self, wanted: Vec<(String, UpFile)>) -> Result<(), CollectError> {
        let wanted: Vec<(String, UpFile)> = wanted
            .into_iter()
            .filter(|(p, f)| !self.metadata.contains_key(&(p.clone(), f.filename.clone())))
            .collect();
        let this = &*self;
        let results: Vec<Result<(String, String, Digest, Metadata), CollectError>> =
            futures_util::stream::iter(wanted)
                .map(|(project, file)| async move {
                    let (digest, metadata) = this.read_metadata(&project, &file).await?;
                    Ok((project, file.filename, digest, metadata))
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        for result in results {
            let (project, filename, digest, metadata) = result?;
            self.metadata
                .insert((project, filename), (digest, Arc::new(metadata)));
        }
        Ok(())
    }

    async fn read_metadata(
        &self,
        project: &str,
        file: &UpFile,
    ) -> Result<(Digest, Metadata), CollectError> {
        let fail = |message: String| CollectError::Metadata {
            project: project.to_owned(),
            filename: file.filename.clone(),
            message,
        };
        let fetch_error = |source| CollectError::Fetch {
            project: project.to_owned(),
            filename: file.filename.clone(),
            source,
        };
        let is_wheel = file.filename.ends_with(".whl");
        let bytes = if let (true, Some(expected)) = (is_wheel, &file.core_metadata) {
            let mut url = file.url.clone();
            url.set_path(&format!("{}.metadata", url.path()));
            let url = SafeUrl::parse(url.as_str()).map_err(|e| fail(e.to_string()))?;
            let fetched = self
                .fetcher
                .fetch(
                    self.store,
                    &Request {
                        authorization: self.authorization_for(url.expose()),
                        url,
                        expected: *expected,
                    },
                    &Quiet,
                )
                .await
                .map_err(|e| match e {
                    FetchError::DigestMismatch {
                        expected, actual, ..
                    } => CollectError::HashMismatch {
                        project: project.to_owned(),
                        filename: format!("{}.metadata", file.filename),
                        expected_from: "the upstream index".into(),
                        expected,
                        actual_from: "the metadata file hashes to".into(),
                        actual,
                    },
                    other => fetch_error(other),
                })?;
            (fetched.digest, None)
        } else {
            let fetched = self
                .fetcher
                .fetch(
                    self.store,
                    &Request {
                        url: SafeUrl::parse(file.url.as_str()).map_err(|e| fail(e.to_string()))?,
                        expected: file.sha256,
                        authorization: self.authorization_for(&file.url),
                    },
                    &Quiet,
                )
                .await
                .map_err(|e| self.mismatch(project, &file.filename, e))?;
            (fetched.digest, Some(file.filename.clone()))
        };
        let store = self.store.clone();
        let (digest, embedded_from) = bytes;
        let (digest, raw) =
            tokio::task::spawn_blocking(move || -> Result<(Digest, Vec<u8>), String> {
                let mut blob = store.blobs.open(&digest).map_err(|e| e.to_string())?;
                match embedded_from {
                    None => {
                        let mut raw = Vec::new();
                        blob.take(16 << 20)
                            .read_to_end(&mut raw)
                            .map_err(|e| e.to_string())?;
                        Ok((digest, raw))
                    }
                    Some(filename) => {
                        let raw = if filename.ends_with(".whl") {
                            metadata::wheel_metadata(&mut blob)
                        } else {
                            metadata::sdist_metadata(&filename, &mut blob)
                        }
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| "no METADATA or PKG-INFO inside".to_owned())?;
                        let metadata_digest = Digest::of(&raw);
                        if store
                            .blobs
                            .size(&metadata_digest)
                            .map_err(|e| e.to_string())?
                            .is_none()
                        {
                            let mut writer = store.blobs.writer().map_err(|e| e.to_string())?;
                            std::io::Write::write_all(&mut writer, &raw)
                                .map_err(|e| e.to_string())?;
                            writer
                                .commit(Some(&metadata_digest))
                                .map_err(|e| e.to_string())?;
                        }
                        Ok((metadata_digest, raw))
                    }
                }
            })
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(fail)?;
        let metadata = Metadata::parse(&raw).map_err(fail)?;
        if normalize(&metadata.name) != project {
            return Err(fail(format!("it names project {:?}", metadata.name)));
        }
        Ok((digest, metadata))
    }

    /// What building an sdist needs (PEP 518 `[build-system] requires`;
    /// without one, `setuptools>=40.8.0`, as pip assumes).
    async fn build_requirements(
        &self,
        project: &str,
        choice: &Chosen,
    ) -> Result<Vec<Requirement>, CollectError> {
        let filename = choice.file.filename.clone();
        let fail = |message: String| CollectError::Metadata {
            project: project.to_owned(),
            filename: filename.clone(),
            message,
        };
        let fetched = self
            .fetcher
            .fetch(
                self.store,
                &Request {
                    url: SafeUrl::parse(choice.file.url.as_str())
                        .map_err(|e| fail(e.to_string()))?,
                    expected: choice.expected,
                    authorization: self.authorization_for(&choice.file.url),
                },
                &Quiet,
            )
            .await
            .map_err(|e| self.mismatch(project, &filename, e))?;
        let store = self.store.clone();
        let name = filename.clone();
        let pyproject = tokio::task::spawn_blocking(move || {
            let mut blob = store
                .blobs
                .open(&fetched.digest)
                .map_err(|e| e.to_string())?;
            metadata::sdist_member(&name, &mut blob, "pyproject.toml").map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(fail)?;
        let requires: Vec<String> = match pyproject {
            None => vec!["setuptools>=40.8.0".into()],
            Some(bytes) => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| fail("pyproject.toml is not UTF-8".into()))?;
                let table: toml::Table = toml::from_str(&text)
                    .map_err(|e| fail(format!("pyproject.toml: {}", e.message().trim())))?;
                match table.get("build-system").and_then(|b| b.get("requires")) {
                    None => vec!["setuptools>=40.8.0".into()],
                    Some(toml::Value::Array(items)) => items
                        .iter()
                        .map(|v| {
                            v.as_str().map(str::to_owned).ok_or_else(|| {
                                fail(
                                    "pyproject.toml: build-system.requires holds a non-string"
                                        .into(),
                                )
                            })
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => {
                        return Err(fail(
                            "pyproject.toml: build-system.requires is not an array".into(),
                        ));
                    }
                }
            }
        };
        requires
            .iter()
            .map(|text| {
                Requirement::parse(text)
                    .map_err(|e| fail(format!("pyproject.toml build-system.requires: {e}")))
            })
            .collect()
    }

    fn mismatch(&self, project: &str, filename: &str, error: FetchError) -> CollectError {
        match error {
            FetchError::DigestMismatch {
                expected, actual, ..
            } => CollectError::HashMismatch {
                project: project.to_owned(),
                filename: filename.to_owned(),
                expected_from: "the upstream index / lockfile".into(),
                expected,
                actual_from: "the downloaded file hashes to".into(),
                actual,
            },
            other => CollectError::Fetch {
                project: project.to_owned(),
                filename: filename.to_owned(),
                source: other,
            },
        }
    }
}

/// A release of a project: its version and files.
struct Release<'a> {
    version: Version,
    files: Vec<&'a UpFile>,
}

fn releases(project: &Project) -> Vec<Release<'_>> {
    let mut by_version: BTreeMap<Version, Vec<&UpFile>> = BTreeMap::new();
    for file in &project.files {
        let Some(name) = parse_filename(&file.filename, &project.name) else {
            continue;
        };
        let Some(version) = Version::parse(&name.version) else {
            continue;
        };
        by_version.entry(version).or_default().push(file);
    }
    by_version
        .into_iter()
        .map(|(version, files)| Release { version, files })
        .collect()
}

/// The files of a release a target can install (wheels that fit, and the
/// sdist), Requires-Python and yanking considered.
fn usable<'a>(
    project: &str,
    files: &[&'a UpFile],
    target: &Target,
    allow_yanked: bool,
) -> Vec<&'a UpFile> {
    files
        .iter()
        .copied()
        .filter(|f| allow_yanked || f.yanked.is_none())
        .filter(|f| target.accepts_python(f.requires_python.as_deref()))
        .filter(|f| match parse_filename(&f.filename, project) {
            Some(name) if name.is_wheel() => target.accepts_wheel(&name.tags),
            Some(_) => true,
            None => false,
        })
        .collect()
}

/// What is carried of a release for a target: fitting wheels, plus the sdist
/// when sdists are wanted or no wheel fits.
fn carried<'a>(project: &str, usable: &[&'a UpFile], sdist: bool) -> Vec<&'a UpFile> {
    let any_wheel = usable.iter().any(|f| f.filename.ends_with(".whl"));
    usable
        .iter()
        .copied()
        .filter(|f| f.filename.ends_with(".whl") || sdist || !any_wheel)
        .filter(|f| parse_filename(&f.filename, project).is_some())
        .collect()
}

/// The file whose metadata stands for a release on a target: a wheel with
/// PEP 658 metadata, else any fitting wheel, else the sdist.
fn metadata_source<'a>(usable: &[&'a UpFile]) -> Option<&'a UpFile> {
    usable
        .iter()
        .find(|f| f.filename.ends_with(".whl") && f.core_metadata.is_some())
        .or_else(|| usable.iter().find(|f| f.filename.ends_with(".whl")))
        .or_else(|| usable.first())
        .copied()
}

/// The sdists some target must build: a carried sdist whose release has no
/// carried wheel that fits every target.
fn to_build(
    chosen: &BTreeMap<(String, String), Chosen>,
    targets: &[Target],
) -> Vec<(String, Chosen)> {
    let mut out = Vec::new();
    for ((project, filename), choice) in chosen {
        if filename.ends_with(".whl") {
            continue;
        }
        let wheels: Vec<Vec<(String, String, String)>> = chosen
            .iter()
            .filter(|((p, f), c)| {
                p == project && c.version == choice.version && f.ends_with(".whl")
            })
            .filter_map(|((p, f), _)| parse_filename(f, p).map(|n| n.tags))
            .collect();
        if targets
            .iter()
            .any(|t| !wheels.iter().any(|tags| t.accepts_wheel(tags)))
        {
            out.push((project.clone(), choice.clone()));
        }
    }
    out
}

const ROOT: &str = "";

#[derive(Default)]
struct TargetState {
    /// project → requiring project (ROOT for declared) → requirements.
    constraints: BTreeMap<String, BTreeMap<String, Vec<Requirement>>>,
    /// project → (version, extras) picked.
    picked: BTreeMap<String, (Version, BTreeSet<String>)>,
}

impl TargetState {
    /// Who needs `project`: one path back to the declaration.
    fn chain(&self, project: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = project.to_owned();
        let mut seen = BTreeSet::new();
        while seen.insert(current.clone()) {
            let Some(parents) = self.constraints.get(&current) else {
                break;
            };
            let Some((parent, requirements)) = parents.iter().next() else {
                break;
            };
            let text = requirements
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            if parent == ROOT {
                out.push(format!("{text} in airlift.toml packages"));
                break;
            }
            let version = self
                .picked
                .get(parent)
                .map(|(v, _)| format!(" {v}"))
                .unwrap_or_default();
            out.push(format!("{text} required by {parent}{version}"));
            current = parent.clone();
        }
        out
    }
}

const MAX_ROUNDS: usize = 500;

/// Computes the closure of `planned.roots` for every target; returns the
/// releases picked, per target.
async fn resolve(
    up: &mut Upstream<'_>,
    planned: &Planned,
    roots: &[Requirement],
) -> Result<Vec<TargetState>, CollectError> {
    let mut states: Vec<TargetState> = planned
        .targets
        .iter()
        .map(|_| TargetState::default())
        .collect();
    for (state, target) in states.iter_mut().zip(&planned.targets) {
        for root in roots {
            if root.applies(&target.env, &BTreeSet::new()) {
                state
                    .constraints
                    .entry(root.key())
                    .or_default()
                    .entry(ROOT.into())
                    .or_default()
                    .push(root.clone());
            }
        }
    }
    for _round in 0..MAX_ROUNDS {
        // Pages for every constrained project.
        let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for state in &states {
            for name in state.constraints.keys() {
                names
                    .entry(name.clone())
                    .or_insert_with(|| state.chain(name));
            }
        }
        up.load_projects(names).await?;
        // Pick.
        let mut dirty: Vec<(usize, String, UpFile)> = Vec::new();
        let mut wanted_metadata: Vec<(String, UpFile)> = Vec::new();
        for (t, (state, target)) in states.iter_mut().zip(&planned.targets).enumerate() {
            let mut updates = Vec::new();
            for (name, parents) in &state.constraints {
                let project = up.projects.get(name).cloned().ok_or_else(|| {
                    CollectError::Spec(format!("internal: page of {name} not loaded"))
                })?;
                let requirements: Vec<&Requirement> = parents.values().flatten().collect();
                let extras: BTreeSet<String> = requirements
                    .iter()
                    .flat_map(|r| r.extras.iter().cloned())
                    .collect();
                let (version, source) =
                    pick(&project, target, &requirements, planned.prereleases, || {
                        state.chain(name)
                    })?;
                if state.picked.get(name) != Some(&(version.clone(), extras.clone())) {
                    wanted_metadata.push((name.clone(), source.clone()));
                    updates.push((name.clone(), version, extras, source));
                }
            }
            for (name, version, extras, source) in updates {
                state.picked.insert(name.clone(), (version, extras));
                dirty.push((t, name, source));
            }
        }
        if dirty.is_empty() {
            return Ok(states);
        }
        up.load_metadata(wanted_metadata.clone()).await?;
        // Apply each newly picked release's dependencies.
        for (t, name, source) in dirty {
            let target = &planned.targets[t];
            let state = &mut states[t];
            let Some((version, extras)) = state.picked.get(&name).cloned() else {
                continue;
            };
            // The file `pick` chose to describe the release.
            let source = &source;
            let (_, metadata) = up
                .metadata
                .get(&(name.clone(), source.filename.clone()))
                .cloned()
                .ok_or_else(|| {
                    CollectError::Spec(format!("internal: metadata of {name} not loaded"))
                })?;
            if Version::parse(&metadata.version).as_ref() != Some(&version) {
                return Err(CollectError::Metadata {
                    project: name.clone(),
                    filename: source.filename.clone(),
                    message: format!(
                        "it says version {:?}, the file name says {version}",
                        metadata.version
                    ),
                });
            }
            for parents in state.constraints.values_mut() {
                parents.remove(&name);
            }
            for line in &metadata.requires_dist {
                let dependency = Requirement::parse(line).map_err(|e| CollectError::Metadata {
                    project: name.clone(),
                    filename: source.filename.clone(),
                    message: format!("Requires-Dist: {e}"),
                })?;
                if !dependency.applies(&target.env, &extras) {
                    continue;
                }
                if dependency.url.is_some() {
                    let mut chain = state.chain(&name);
                    chain.insert(0, format!("{name} {version}"));
                    return Err(CollectError::DirectUrl {
                        requirement: dependency.to_string(),
                        chain,
                    });
                }
                state
                    .constraints
                    .entry(dependency.key())
                    .or_default()
                    .entry(name.clone())
                    .or_default()
                    .push(dependency);
            }
        }
        // Withdraw what nothing needs any more.
        for state in &mut states {
            loop {
                let orphans: Vec<String> = state
                    .constraints
                    .iter()
                    .filter(|(_, parents)| parents.is_empty())
                    .map(|(name, _)| name.clone())
                    .collect();
                if orphans.is_empty() {
                    break;
                }
                for orphan in orphans {
                    state.constraints.remove(&orphan);
                    state.picked.remove(&orphan);
                    for parents in state.constraints.values_mut() {
                        parents.remove(&orphan);
                    }
                }
            }
        }
    }
    Err(CollectError::Unsettled(MAX_ROUNDS))
}

/// The newest release satisfying every requirement on a target, and the file
/// whose metadata describes it.
fn pick(
    project: &Project,
    target: &Target,
    requirements: &[&Requirement],
    prereleases: bool,
    chain: impl Fn() -> Vec<String>,
) -> Result<(Version, UpFile), CollectError> {
    let exact = requirements.iter().any(|r| r.specifiers.is_exact_pin());
    let admit_pre = prereleases
        || requirements
            .iter()
            .any(|r| r.specifiers.admits_prereleases());
    let all = releases(project);
    let matching: Vec<&Release> = all
        .iter()
        .filter(|r| {
            requirements
                .iter()
                .all(|q| q.specifiers.contains(&r.version))
        })
        .collect();
    let candidates: Vec<(&Release, Vec<&UpFile>)> = matching
        .iter()
        .map(|r| (*r, usable(&project.name, &r.files, target, exact)))
        .filter(|(_, files)| !files.is_empty())
        .collect();
    let best = candidates
        .iter()
        .rev()
        .find(|(r, _)| admit_pre || !r.version.is_prerelease())
        .or_else(|| candidates.last());
    if let Some((release, files)) = best {
        let source = metadata_source(files)
            .cloned()
            .ok_or_else(|| CollectError::NoFile {
                project: project.name.clone(),
                version: release.version.to_string(),
                target: target.to_string(),
                chain: chain(),
            })?;
        return Ok((release.version.clone(), source));
    }
    let constraints = requirements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    // Why nothing fits: yanked, or no file for the target, or no version.
    let yanked: Vec<String> = matching
        .iter()
        .filter(|r| !usable(&project.name, &r.files, target, true).is_empty())
        .map(|r| r.version.to_string())
        .collect();
    if !yanked.is_empty() {
        return Err(CollectError::YankedOnly {
            project: project.name.clone(),
            constraints,
            versions: yanked.join(", "),
            chain: chain(),
        });
    }
    if let Some(newest) = matching.last() {
        return Err(CollectError::NoFile {
            project: project.name.clone(),
            version: newest.version.to_string(),
            target: target.to_string(),
            chain: chain(),
        });
    }
    let available: Vec<String> = all
        .iter()
        .rev()
        .take(8)
        .map(|r| r.version.to_string())
        .rev()
        .collect();
    Err(CollectError::Unsatisfiable {
        project: project.name.clone(),
        constraints,
        target: target.to_string(),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
        chain: chain(),
    })
}

/// The files a lockfile pin carries, checked against the upstream.
fn pinned_files(
    project: &Project,
    pin: &Pin,
    planned: &Planned,
) -> Result<Vec<Chosen>, CollectError> {
    let version = Version::parse(&pin.version).ok_or_else(|| CollectError::Missing {
        origin: pin.origin.clone(),
        project: pin.project.clone(),
        what: pin.version.clone(),
    })?;
    let release = releases(project)
        .into_iter()
        .find(|r| r.version == version)
        .ok_or_else(|| CollectError::Missing {
            origin: pin.origin.clone(),
            project: pin.project.clone(),
            what: format!("version {}", pin.version),
        })?;
    let mut allowed: Vec<(&UpFile, Option<Digest>)> = Vec::new();
    if pin.files.is_empty() {
        for file in &release.files {
            match (file.sha256, pin.hashes.is_empty()) {
                (_, true) => allowed.push((file, None)),
                (Some(sha), false) if pin.hashes.contains(&sha) => allowed.push((file, Some(sha))),
                // Not among the locked hashes: not a file the lock allows.
                (Some(_), false) => {}
                // The upstream states no hash: check the lock's on download.
                (None, false) => allowed.push((file, None)),
            }
        }
    } else {
        for (filename, digest) in &pin.files {
            let file = release
                .files
                .iter()
                .find(|f| &f.filename == filename)
                .ok_or_else(|| CollectError::Missing {
                    origin: pin.origin.clone(),
                    project: pin.project.clone(),
                    what: format!("file {filename}"),
                })?;
            if let (Some(locked), Some(upstream)) = (digest, file.sha256)
                && *locked != upstream
            {
                return Err(CollectError::HashMismatch {
                    project: pin.project.clone(),
                    filename: filename.clone(),
                    expected_from: pin.origin.clone(),
                    expected: *locked,
                    actual_from: "the upstream index says".into(),
                    actual: upstream,
                });
            }
            allowed.push((file, *digest));
        }
    }
    if allowed.is_empty() {
        return Err(CollectError::NoLockedFile {
            origin: pin.origin.clone(),
            project: pin.project.clone(),
            version: pin.version.clone(),
        });
    }
    let files: Vec<&UpFile> = allowed.iter().map(|(f, _)| *f).collect();
    let mut out: Vec<Chosen> = Vec::new();
    for target in &planned.targets {
        if let Some(marker) = &pin.marker
            && !marker.evaluate(&target.env, &BTreeSet::new())
        {
            continue;
        }
        let fits = usable(&pin.project, &files, target, true);
        if fits.is_empty() {
            return Err(CollectError::NoFile {
                project: pin.project.clone(),
                version: pin.version.clone(),
                target: target.to_string(),
                chain: vec![pin.origin.clone()],
            });
        }
        for file in carried(&pin.project, &fits, planned.sdist) {
            if out.iter().any(|c| c.file.filename == file.filename) {
                continue;
            }
            let locked = allowed
                .iter()
                .find(|(f, _)| f.filename == file.filename)
                .and_then(|(_, d)| *d);
            out.push(Chosen {
                file: file.clone(),
                version: pin.version.clone(),
                expected: locked.or(file.sha256),
            });
        }
    }
    // Without a per-file hash, the download must match one of the lock's.
    Ok(out)
}

/// Collects everything `[pypi]` declares.
pub async fn collect(
    store: &Store,
    fetcher: &Fetcher,
    planned: &Planned,
    concurrency: usize,
    progress: Arc<dyn FetchProgress>,
) -> Result<Collected, CollectError> {
    let mut up = Upstream {
        fetcher,
        store,
        planned,
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
    for (project, choice, got) in fetched {
        let metadata = up
            .metadata
            .get(&(project.clone(), choice.file.filename.clone()))
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
        ));
        projects.insert(project);
        collected.files += 1;
        collected.bytes += got.size;
    }
    collected.projects = projects.len() as u64;
    collected.pages = up.pages;
    notes.sort();
    collected.notes = notes;
    Ok(collected)
}
