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

// Errors are built once, on the way out of a failed collect.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlift_core::{Digest, SafeUrl};
use airlift_fetch::{FetchError, FetchProgress, Fetcher, Request, Secret};
use airlift_pgp::Keyring;
use airlift_store::{Entry, Store, StoreError};

use crate::relation::{self, Rel};
use crate::release::Release;
use crate::spec::AptSpec;
use crate::{control, version, xz};

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
        let authorization = match &spec.credentials {
            None => None,
            Some(name) => Some(Secret(std::env::var(format!("{name}_TOKEN")).map_err(
                |_| {
                    fail(format!(
                        "credentials = {name:?} but {name}_TOKEN is not set"
                    ))
                },
            )?)),
        };
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

/// A paragraph of an index text, kept as a range of the shared text.
#[derive(Clone, Debug)]
struct Stanza {
    text: Arc<String>,
    start: usize,
    end: usize,
}

impl Stanza {
    fn as_str(&self) -> &str {
        self.text.get(self.start..self.end).unwrap_or_default()
    }
}

/// One binary package of an index.
#[derive(Clone, Debug)]
struct Candidate {
    stanza: Stanza,
    package: String,
    version: String,
    arch: String,
    filename: String,
    size: u64,
    sha256: Digest,
    priority: String,
    essential: bool,
    provides: Vec<Rel>,
    /// `Pre-Depends` and `Depends`, as written: parsed only for packages
    /// the closure reaches.
    depends: String,
    /// `Recommends`, as written.
    recommends: String,
    /// (suite, component) pairs listing it.
    homes: BTreeSet<(String, String)>,
}

impl Candidate {
    fn label(&self) -> String {
        format!("{} {} ({})", self.package, self.version, self.arch)
    }
}

#[derive(Default)]
struct Universe {
    packages: Vec<Candidate>,
    by_name: HashMap<String, Vec<usize>>,
    providers: HashMap<String, Vec<usize>>,
    by_file: HashMap<String, usize>,
}

impl Universe {
    fn add(&mut self, c: Candidate) -> Result<(), String> {
        if let Some(&i) = self.by_file.get(&c.filename) {
            let known = &mut self.packages[i];
            if known.sha256 != c.sha256 {
                return Err(format!(
                    "{} is listed twice with different SHA256 ({} and {})",
                    c.filename, known.sha256, c.sha256
                ));
            }
            known.homes.extend(c.homes);
            return Ok(());
        }
        let i = self.packages.len();
        self.by_file.insert(c.filename.clone(), i);
        self.by_name.entry(c.package.clone()).or_default().push(i);
        for p in &c.provides {
            self.providers.entry(p.name.clone()).or_default().push(i);
        }
        self.packages.push(c);
        Ok(())
    }

    fn satisfies(&self, i: usize, rel: &Rel) -> bool {
        let c = &self.packages[i];
        if c.package == rel.name {
            return rel.accepts(&c.version);
        }
        c.provides.iter().any(|p| {
            p.name == rel.name
                && match (&rel.constraint, &p.constraint) {
                    (None, _) => true,
                    (Some(_), Some((_, v))) => rel.accepts(v),
                    (Some(_), None) => false,
                }
        })
    }

    /// The package to pick for `rel`: the newest real package that
    /// satisfies it (and the `also` constraints the same package puts on
    /// that name, as `libx (>= 2), libx (<< 3~)`), else a provider (by
    /// priority, then name).
    fn best(&self, rel: &Rel, also: &[Rel]) -> Option<usize> {
        let all_accept = |i: usize| {
            rel.accepts(&self.packages[i].version)
                && also
                    .iter()
                    .filter(|a| a.name == rel.name)
                    .all(|a| a.accepts(&self.packages[i].version))
        };
        let real = self
            .by_name
            .get(&rel.name)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| all_accept(i))
            .max_by(|&a, &b| {
                version::compare(&self.packages[a].version, &self.packages[b].version)
            });
        if real.is_some() {
            return real;
        }
        let rank = |p: &str| match p {
            "required" => 0,
            "important" => 1,
            "standard" => 2,
            "optional" => 3,
            _ => 4,
        };
        self.providers
            .get(&rel.name)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| self.satisfies(i, rel))
            .min_by(|&a, &b| {
                let (pa, pb) = (&self.packages[a], &self.packages[b]);
                rank(&pa.priority)
                    .cmp(&rank(&pb.priority))
                    .then_with(|| pa.package.cmp(&pb.package))
                    .then_with(|| version::compare(&pb.version, &pa.version))
            })
    }
}

struct Archive<'a> {
    fetcher: &'a Fetcher,
    planned: &'a Planned,
}

impl Archive<'_> {
    fn name(&self) -> &str {
        &self.planned.spec.name
    }

    fn url(&self, path: &str) -> Result<SafeUrl, CollectError> {
        self.planned
            .base
            .expose()
            .join(path)
            .ok()
            .and_then(|u| SafeUrl::parse(u.as_str()).ok())
            .ok_or_else(|| CollectError::Spec {
                archive: self.name().into(),
                message: format!("cannot form a URL for {path}"),
            })
    }

    fn authorization(&self, url: &SafeUrl) -> Option<Secret> {
        airlift_fetch::same_origin(url.expose(), self.planned.base.expose())
            .then(|| self.planned.authorization.clone())
            .flatten()
    }

    async fn get(&self, url: &SafeUrl) -> Result<Option<Vec<u8>>, String> {
        let page = self
            .fetcher
            .get_small(url, &[], self.authorization(url).as_ref(), 16 << 20)
            .await
            .map_err(|e| e.to_string())?;
        if matches!(page.status.as_u16(), 404 | 410) {
            return Ok(None);
        }
        if !page.status.is_success() {
            return Err(format!("answered {}", page.status));
        }
        Ok(Some(page.body))
    }

    /// The verified Release of `suite`, and the signed document to keep.
    async fn release(&self, suite: &str) -> Result<(Release, Vec<u8>, String), CollectError> {
        let in_release = self.url(&format!("dists/{suite}/InRelease"))?;
        let fail = |url: &SafeUrl, message: String| CollectError::Release {
            archive: self.name().into(),
            suite: suite.into(),
            url: url.redacted(),
            message,
        };
        let keyring = &self.planned.keyring;
        let hint = |e: airlift_pgp::PgpError| {
            format!("{e} (keyring {})", self.planned.keyring_path.display())
        };
        let (text, document, signer, url) = match self
            .get(&in_release)
            .await
            .map_err(|e| fail(&in_release, e))?
        {
            Some(body) => {
                let (text, signer) = keyring
                    .verify_cleartext(&body)
                    .map_err(|e| fail(&in_release, hint(e)))?;
                (text, body, signer, in_release)
            }
            None => {
                let release = self.url(&format!("dists/{suite}/Release"))?;
                let signature = self.url(&format!("dists/{suite}/Release.gpg"))?;
                let body = self
                    .get(&release)
                    .await
                    .map_err(|e| fail(&release, e))?
                    .ok_or_else(|| fail(&release, "neither InRelease nor Release exists".into()))?;
                let sig = self
                    .get(&signature)
                    .await
                    .map_err(|e| fail(&signature, e))?
                    .ok_or_else(|| {
                        fail(
                            &signature,
                            "Release is not signed (no Release.gpg); unsigned archives are refused"
                                .into(),
                        )
                    })?;
                let signer = keyring
                    .verify_detached(&body, &sig)
                    .map_err(|e| fail(&signature, hint(e)))?;
                let mut document = body.clone();
                document.extend_from_slice(b"\n");
                document.extend_from_slice(&sig);
                (body, document, signer, release)
            }
        };
        let text =
            String::from_utf8(text).map_err(|_| fail(&url, "Release is not UTF-8".into()))?;
        let release = Release::parse(&text).map_err(|e| fail(&url, e))?;
        if release.get("suite") != Some(suite) && release.get("codename") != Some(suite) {
            return Err(fail(
                &url,
                format!(
                    "the signed Release is for suite {:?} (codename {:?}), not {suite:?}: refused as mix-and-match",
                    release.get("suite").unwrap_or("?"),
                    release.get("codename").unwrap_or("?")
                ),
            ));
        }
        if let Some(until) = release.time("valid-until").map_err(|e| fail(&url, e))?
            && until < jiff::Timestamp::now()
        {
            return Err(fail(
                &url,
                format!("the Release expired at {until} (Valid-Until)"),
            ));
        }
        Ok((release, document, signer))
    }

    /// Reads one Packages index (compressed form preferred) and checks it
    /// against the Release.
    async fn packages(
        &self,
        suite: &str,
        release: &Release,
        dir: &str,
    ) -> Result<Option<String>, CollectError> {
        let fail = |path: &str, message: String| CollectError::Index {
            archive: self.name().into(),
            suite: suite.into(),
            path: path.into(),
            message,
        };
        let plain = format!("{dir}/Packages");
        let Some((path, (digest, size))) = [".gz", ".xz", ""].iter().find_map(|ext| {
            let path = format!("{plain}{ext}");
            release.sha256.get(&path).map(|d| (path, *d))
        }) else {
            return Ok(None);
        };
        let by_hash = release.get("acquire-by-hash") == Some("yes");
        let relative = if by_hash {
            format!("dists/{suite}/{dir}/by-hash/SHA256/{}", digest.hex())
        } else {
            format!("dists/{suite}/{path}")
        };
        // Indexes are read, not kept: nothing reaches the store before the
        // closure is known to be complete.
        let url = self.url(&relative)?;
        if size > INDEX_LIMIT {
            return Err(fail(
                &path,
                format!("{size} bytes is more than an index may be ({INDEX_LIMIT})"),
            ));
        }
        let page = self
            .fetcher
            .get_small(
                &url,
                &[],
                self.authorization(&url).as_ref(),
                INDEX_LIMIT as usize,
            )
            .await
            .map_err(|e| fail(&path, e.to_string()))?;
        if !page.status.is_success() {
            return Err(fail(
                &path,
                format!("{} answered {}", url.redacted(), page.status),
            ));
        }
        let actual = Digest::of(&page.body);
        if actual != digest {
            return Err(fail(
                &path,
                format!(
                    "the file hashes to {actual}, the signed Release says {digest}: refused (tampered or stale index)"
                ),
            ));
        }
        if page.body.len() as u64 != size {
            return Err(fail(
                &path,
                format!("{} bytes, the Release says {size}", page.body.len()),
            ));
        }
        let listed_plain = release.sha256.get(&plain).copied();
        let limit = listed_plain.map_or(4 << 30, |(_, s)| s);
        let text = tokio::task::spawn_blocking({
            let path = path.clone();
            move || decompress(std::io::Cursor::new(page.body), &path, limit)
        })
        .await
        .map_err(|e| fail(&path, e.to_string()))?
        .map_err(|e| fail(&path, e))?;
        if let Some((expected, _)) = listed_plain {
            let actual = Digest::of(&text);
            if actual != expected {
                return Err(fail(
                    &plain,
                    format!("decompressed text hashes to {actual}, the Release says {expected}"),
                ));
            }
        }
        Ok(Some(String::from_utf8(text).unwrap_or_else(|e| {
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        })))
    }
}

/// The largest index file read (compressed, as fetched).
const INDEX_LIMIT: u64 = 512 << 20;

fn decompress(reader: impl Read, path: &str, limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    if path.ends_with(".xz") {
        xz::decode(reader, &mut out, limit).map_err(|e| e.to_string())?;
    } else if path.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(reader)
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("gzip: {e}"))?;
    } else {
        reader
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
    }
    if out.len() as u64 > limit {
        return Err(format!(
            "decompresses to more than {limit} bytes; refused as a decompression bomb"
        ));
    }
    Ok(out)
}

/// Whether a `Filename` is a plain relative path inside the archive.
pub fn valid_filename(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 1024
        && !name.starts_with('/')
        && !name.starts_with("dists/")
        && (name.ends_with(".deb") || name.ends_with(".udeb"))
        && name
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+~-".contains(&b))
}

fn candidate(
    p: &control::Paragraph<'_>,
    text: &Arc<String>,
    suite: &str,
    component: &str,
) -> Result<Candidate, String> {
    let field = |name: &str| {
        p.get(name)
            .ok_or_else(|| format!("a stanza without {name}"))
            .map(str::to_owned)
    };
    let package = field("Package")?;
    let context = |e: String| format!("{package}: {e}");
    let version = field("Version").map_err(context)?;
    if !version::valid(&version) {
        return Err(format!("{package}: {version:?} is not a Debian version"));
    }
    let filename = field("Filename").map_err(context)?;
    if !valid_filename(&filename) {
        return Err(format!(
            "{package}: Filename {filename:?} is not a plain path inside the archive"
        ));
    }
    let size = field("Size")
        .map_err(context)?
        .parse()
        .map_err(|_| format!("{package}: Size is not a number"))?;
    let sha256 = Digest::from_hex(&field("SHA256").map_err(context)?).map_err(|_| {
        format!("{package}: SHA256 is not a SHA-256 (MD5 and SHA-1 alone are refused)")
    })?;
    let rel = |name: &str| -> Result<Vec<Vec<Rel>>, String> {
        p.get(name)
            .map(|v| relation::parse(&v.replace('\n', " ")))
            .transpose()
            .map(Option::unwrap_or_default)
            .map_err(|e| format!("{package}: {name}: {e}"))
    };
    let mut depends = p.get("Pre-Depends").unwrap_or("").to_owned();
    if let Some(more) = p.get("Depends") {
        if !depends.is_empty() {
            depends.push_str(", ");
        }
        depends.push_str(more);
    }
    let provides = match p.get("Provides") {
        None => Vec::new(),
        Some(_) => rel("Provides")?.into_iter().flatten().collect(),
    };
    Ok(Candidate {
        stanza: {
            let start = (p.text.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
            Stanza {
                text: text.clone(),
                start,
                end: start + p.text.len(),
            }
        },
        version,
        arch: field("Architecture").map_err(context)?,
        filename,
        size,
        sha256,
        priority: p.get("Priority").unwrap_or("optional").to_owned(),
        essential: p.get("Essential") == Some("yes"),
        provides,
        depends,
        recommends: p.get("Recommends").unwrap_or("").to_owned(),
        homes: [(suite.to_owned(), component.to_owned())].into(),
        package,
    })
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

fn resolve(
    spec: &AptSpec,
    roots: &[Vec<Rel>],
    arch: &str,
    universe: &Universe,
    notes: &mut Vec<String>,
) -> Result<BTreeSet<usize>, CollectError> {
    let mut chosen = BTreeSet::new();
    // (alternatives, the parent's other single-alternative relations,
    // who needs it, required).
    type Item = (Vec<Rel>, Vec<Rel>, Vec<String>, bool);
    let mut queue: VecDeque<Item> = VecDeque::new();
    let origin = format!("[[apt]] {} in airlift.toml", spec.name);
    let singles = |groups: &[Vec<Rel>]| -> Vec<Rel> {
        groups
            .iter()
            .filter(|g| g.len() == 1)
            .map(|g| g[0].clone())
            .collect()
    };
    let root_singles = singles(roots);
    for group in roots {
        queue.push_back((
            group.clone(),
            root_singles.clone(),
            vec![origin.clone()],
            true,
        ));
    }
    for (i, c) in universe.packages.iter().enumerate() {
        let newest = universe.best(
            &Rel {
                name: c.package.clone(),
                arch: None,
                constraint: None,
            },
            &[],
        ) == Some(i);
        let selected = spec.whole_components
            || (spec.essential && c.essential)
            || spec.priorities.contains(&c.priority);
        if selected && newest {
            let why = if spec.whole_components {
                "whole-components"
            } else if spec.essential && c.essential {
                "essential"
            } else {
                "priorities"
            };
            queue.push_back((
                vec![Rel {
                    name: c.package.clone(),
                    arch: None,
                    constraint: Some((relation::Op::Eq, c.version.clone())),
                }],
                Vec::new(),
                vec![format!("{origin} ({why})")],
                true,
            ));
        }
    }
    while let Some((group, also, chain, required)) = queue.pop_front() {
        let usable: Vec<&Rel> = group
            .iter()
            .filter(|r| {
                r.arch
                    .as_deref()
                    .is_none_or(|a| matches!(a, "any" | "native") || a == arch)
            })
            .collect();
        if usable
            .iter()
            .any(|rel| chosen.iter().any(|&i| universe.satisfies(i, rel)))
        {
            continue;
        }
        let Some(pick) = usable.iter().find_map(|rel| universe.best(rel, &also)) else {
            let mut text = group
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" | ");
            let with: Vec<String> = also
                .iter()
                .filter(|a| group.iter().any(|r| r.name == a.name && r != *a))
                .map(ToString::to_string)
                .collect();
            if !with.is_empty() {
                text.push_str(&format!(" together with {}", with.join(", ")));
            }
            if !required {
                notes.push(format!(
                    "{} ({arch}): recommended {text} is not available; left out{}",
                    spec.name,
                    airlift_core::needed_by(&chain)
                ));
                continue;
            }
            let versions: Vec<String> = group
                .iter()
                .flat_map(|r| universe.by_name.get(&r.name).into_iter().flatten())
                .map(|&i| universe.packages[i].label())
                .collect();
            return Err(CollectError::Unsatisfiable {
                archive: spec.name.clone(),
                arch: arch.into(),
                relation: text,
                detail: if versions.is_empty() {
                    String::new()
                } else {
                    format!(" (the index has {})", versions.join(", "))
                },
                chain,
            });
        };
        if !chosen.insert(pick) {
            continue;
        }
        let c = &universe.packages[pick];
        let mut next = vec![c.label()];
        next.extend(chain.iter().cloned());
        let parse = |field: &str, text: &str| {
            relation::parse(&text.replace('\n', " ")).map_err(|e| CollectError::Package {
                archive: spec.name.clone(),
                package: c.package.clone(),
                version: c.version.clone(),
                message: format!("{field}: {e}"),
            })
        };
        let depends = parse("Depends", &c.depends)?;
        let also = singles(&depends);
        for dep in depends {
            queue.push_back((dep, also.clone(), next.clone(), true));
        }
        if spec.recommends {
            for dep in parse("Recommends", &c.recommends)? {
                queue.push_back((dep, Vec::new(), next.clone(), false));
            }
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stanza(text: &str) -> Candidate {
        let full = format!(
            "{text}\nFilename: pool/main/x/{}.deb\nSize: 1\nSHA256: {}\n",
            text.lines().next().unwrap_or("").replace("Package: ", ""),
            "a".repeat(64)
        );
        let full = Arc::new(full);
        let ps = control::paragraphs(&full).expect("paragraph");
        candidate(&ps[0], &full, "s", "main").expect("candidate")
    }

    fn spec() -> AptSpec {
        AptSpec {
            name: "t".into(),
            url: "http://example.com/".into(),
            suites: vec!["s".into()],
            components: vec!["main".into()],
            architectures: vec!["amd64".into()],
            keyring: "k".into(),
            packages: vec![],
            essential: false,
            priorities: vec![],
            recommends: false,
            whole_components: false,
            credentials: None,
        }
    }

    fn names(u: &Universe, set: &BTreeSet<usize>) -> Vec<String> {
        let mut v: Vec<String> = set
            .iter()
            .map(|&i| format!("{}={}", u.packages[i].package, u.packages[i].version))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn closure_follows_alternatives_versions_and_virtuals() {
        let mut u = Universe::default();
        for s in [
            "Package: app\nVersion: 1.0\nArchitecture: amd64\nPre-Depends: base (>= 2)\nDepends: mta | mail-transport-agent, libz:any (>= 1.2), libz (<< 2~), gone | lib-old\nRecommends: extra",
            "Package: libz\nVersion: 2.0\nArchitecture: amd64",
            "Package: base1\nVersion: 1\nArchitecture: amd64\nProvides: base (= 1)",
            "Package: base2\nVersion: 1\nArchitecture: amd64\nProvides: base (= 2.1)",
            "Package: postfix\nVersion: 3\nArchitecture: amd64\nProvides: mail-transport-agent",
            "Package: libz\nVersion: 1.1\nArchitecture: amd64",
            "Package: libz2\nVersion: 1\nArchitecture: amd64",
            "Package: libz\nVersion: 1.3-1\nArchitecture: amd64\nDepends: libz-common",
            "Package: libz-common\nVersion: 1.3-1\nArchitecture: all",
            "Package: lib-old\nVersion: 0.1\nArchitecture: amd64",
            "Package: extra\nVersion: 1\nArchitecture: amd64",
        ] {
            let mut c = stanza(s);
            c.filename = format!("pool/{}_{}.deb", c.package, c.version);
            u.add(c).expect("adds");
        }
        let roots = relation::parse("app").expect("root");
        let mut notes = Vec::new();
        let set = resolve(&spec(), &roots, "amd64", &u, &mut notes).expect("resolves");
        assert_eq!(
            names(&u, &set),
            [
                "app=1.0",
                "base2=1",
                "lib-old=0.1",
                "libz-common=1.3-1",
                "libz=1.3-1",
                "postfix=3"
            ]
        );
        let mut with = spec();
        with.recommends = true;
        let set = resolve(&with, &roots, "amd64", &u, &mut notes).expect("resolves");
        assert!(names(&u, &set).contains(&"extra=1".to_owned()));

        // One parent's constraints on a name that no single version meets.
        let mut odd = stanza(
            "Package: odd\nVersion: 1\nArchitecture: amd64\nDepends: libz (>= 1.3), libz (<< 1.2)",
        );
        odd.filename = "pool/odd_1.deb".into();
        u.add(odd).expect("adds");
        let roots = relation::parse("odd").expect("root");
        let text = resolve(&spec(), &roots, "amd64", &u, &mut notes)
            .expect_err("conflicting constraints")
            .to_string();
        assert!(
            text.contains("libz (>= 1.3) together with libz (<< 1.2): no package satisfies it"),
            "{text}"
        );
        let roots = relation::parse("app (>= 2)").expect("root");
        let error = resolve(&spec(), &roots, "amd64", &u, &mut notes).expect_err("unsatisfiable");
        let text = error.to_string();
        assert!(
            text.contains("app (>= 2): no package satisfies it (the index has app 1.0 (amd64))"),
            "{text}"
        );

        let mut broken = Universe::default();
        for s in [
            "Package: top\nVersion: 1\nArchitecture: amd64\nDepends: mid",
            "Package: mid\nVersion: 1\nArchitecture: amd64\nDepends: missing (>= 3)",
        ] {
            let mut c = stanza(s);
            c.filename = format!("pool/{}.deb", c.package);
            broken.add(c).expect("adds");
        }
        let roots = relation::parse("top").expect("root");
        let text = resolve(&spec(), &roots, "amd64", &broken, &mut notes)
            .expect_err("missing")
            .to_string();
        assert!(
            text.contains("missing (>= 3): no package satisfies it"),
            "{text}"
        );
        assert!(
            text.contains("mid 1 (amd64)") && text.contains("top 1 (amd64)"),
            "{text}"
        );
    }

    #[test]
    fn selections_by_essential_priority_and_whole_components() {
        let mut u = Universe::default();
        for s in [
            "Package: base-files\nVersion: 12\nArchitecture: amd64\nEssential: yes\nPriority: required\nDepends: mawk | awk",
            "Package: mawk\nVersion: 1.3\nArchitecture: amd64\nPriority: required\nProvides: awk",
            "Package: base-files\nVersion: 11\nArchitecture: amd64\nEssential: yes\nPriority: required",
            "Package: tzdata\nVersion: 2024a\nArchitecture: all\nPriority: important",
            "Package: extra-tool\nVersion: 1\nArchitecture: amd64\nPriority: optional",
        ] {
            let mut c = stanza(s);
            c.filename = format!("pool/{}_{}.deb", c.package, c.version);
            u.add(c).expect("adds");
        }
        let mut notes = Vec::new();
        let mut essential = spec();
        essential.essential = true;
        let set = resolve(&essential, &[], "amd64", &u, &mut notes).expect("resolves");
        assert_eq!(names(&u, &set), ["base-files=12", "mawk=1.3"]);
        let mut important = spec();
        important.priorities = vec!["important".into()];
        let set = resolve(&important, &[], "amd64", &u, &mut notes).expect("resolves");
        assert_eq!(names(&u, &set), ["tzdata=2024a"]);
        let mut whole = spec();
        whole.whole_components = true;
        let set = resolve(&whole, &[], "amd64", &u, &mut notes).expect("resolves");
        assert_eq!(
            names(&u, &set),
            ["base-files=12", "extra-tool=1", "mawk=1.3", "tzdata=2024a"]
        );
    }

    #[test]
    fn filenames_stay_inside_the_archive() {
        assert!(valid_filename(
            "pool/main/c/curl/curl_7.88.1-10+deb12u5_amd64.deb"
        ));
        for bad in [
            "/etc/x.deb",
            "pool/../../x.deb",
            "pool//x.deb",
            "pool/x.tar",
            "pool/x y.deb",
            "",
        ] {
            assert!(!valid_filename(bad), "{bad}");
        }
    }
}
