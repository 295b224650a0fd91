//! Collecting npm packages: lockfile packages as they are, and declared
//! packages with their closure from upstream packuments.
//!
//! npm installs a tree in which conflicting versions nest, so the closure
//! needs no unification: every distinct (name, specifier) gets the version
//! npm itself would pick (the `latest` tag when it satisfies the range, else
//! the highest satisfying version that is not deprecated, else the highest
//! satisfying one), and the union of those is carried. Dependencies followed:
//! `dependencies`, `optionalDependencies` (every platform; failures there
//! are notes, as npm tolerates them) and non-optional `peerDependencies`;
//! bundled dependencies travel inside their parent's tarball.

// Errors name the package, version and both digests; they are built once,
// on the way out of a failed collect, so their size costs nothing.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use airlift_core::{Digest, Integrity, SafeUrl};
use airlift_fetch::{FetchError, FetchProgress, Fetcher, Request, Secret};
use airlift_store::{Entry, Store, StoreError};
use futures_util::StreamExt;
use serde_json::Value;

use crate::lockfile::{self, LockError, Pin};
use crate::range::{Range, compare, parse_version};
use crate::spec::NpmSpec;

/// Why a collect failed; every message names the package involved.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// `[npm]` cannot be used as written.
    #[error("[npm]: {0}")]
    Spec(String),
    /// A lockfile cannot be used.
    #[error("{0}")]
    Lock(#[from] LockError),
    /// The registry has no such package.
    #[error(
        "{package}: not found at the upstream registry ({url}){}",
        airlift_core::needed_by(chain)
    )]
    NotFound {
        /// The package.
        package: String,
        /// The packument URL.
        url: String,
        /// Who needs it.
        chain: Vec<String>,
    },
    /// The registry answered something unusable.
    #[error("{package}: {url}: {message}")]
    Upstream {
        /// The package.
        package: String,
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// No version satisfies a specifier.
    #[error(
        "{package}: no version matches {spec:?}; available: {available}{}",
        airlift_core::needed_by(chain)
    )]
    Unsatisfiable {
        /// The package.
        package: String,
        /// The specifier.
        spec: String,
        /// Versions the packument lists (newest last).
        available: String,
        /// Who needs it.
        chain: Vec<String>,
    },
    /// A specifier a registry cannot satisfy (git, file, URL).
    #[error(
        "{package}@{spec}: not a registry specifier; it cannot be mirrored{}",
        airlift_core::needed_by(chain)
    )]
    Unsupported {
        /// The package.
        package: String,
        /// The specifier.
        spec: String,
        /// Who needs it.
        chain: Vec<String>,
    },
    /// A lockfile names a version the registry does not list.
    #[error("{origin}: {package}@{version} is not at the upstream registry")]
    Missing {
        /// Lockfile position.
        origin: String,
        /// The package.
        package: String,
        /// The version.
        version: String,
    },
    /// An integrity digest disagrees; nothing was indexed.
    #[error(
        "{package}@{version}: integrity mismatch: {expected_from} says {expected}, {actual_from} {actual}; nothing was stored"
    )]
    IntegrityMismatch {
        /// The package.
        package: String,
        /// The version.
        version: String,
        /// Who states the expected value.
        expected_from: String,
        /// Expected.
        expected: String,
        /// Where the other value came from.
        actual_from: String,
        /// The other value.
        actual: String,
    },
    /// A download failed.
    #[error("{package}@{version}: {source}")]
    Fetch {
        /// The package.
        package: String,
        /// The version.
        version: String,
        /// The cause.
        source: FetchError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `[npm]`, checked.
#[derive(Debug)]
pub struct Planned {
    /// The upstream registry, ending in `/`.
    pub registry: SafeUrl,
    /// A bearer token for the registry host.
    pub authorization: Option<Secret>,
    /// Declared packages: (name, specifier).
    pub roots: Vec<(String, String)>,
    /// Locked packages.
    pub pins: Vec<Pin>,
    /// Follow optionalDependencies.
    pub optional: bool,
    /// Follow peerDependencies.
    pub peer: bool,
    /// The platforms the packages are for.
    pub targets: Targets,
}

/// The platforms that will install, by npm's names; an empty list means
/// every value. A package whose `os`, `cpu` or `libc` field excludes every
/// target is left out: npm refuses to install it there (EBADPLATFORM).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Targets {
    /// Operating systems (`process.platform`).
    pub os: Vec<String>,
    /// CPUs (`process.arch`).
    pub cpu: Vec<String>,
    /// C libraries, on Linux.
    pub libc: Vec<String>,
}

/// npm's operating system names.
const OS_NAMES: &[&str] = &[
    "aix", "android", "cygwin", "darwin", "freebsd", "linux", "netbsd", "openbsd", "sunos", "win32",
];
/// npm's CPU names.
const CPU_NAMES: &[&str] = &[
    "arm", "arm64", "ia32", "loong64", "mips", "mipsel", "ppc", "ppc64", "riscv64", "s390",
    "s390x", "x64",
];
/// npm's C library names.
const LIBC_NAMES: &[&str] = &["glibc", "musl"];

impl Targets {
    /// Whether every platform is carried.
    pub fn all(&self) -> bool {
        self.os.is_empty() && self.cpu.is_empty() && self.libc.is_empty()
    }

    /// `None` when `manifest` installs on some target; otherwise why not
    /// (`os ["win32"]`).
    pub fn excludes(&self, manifest: &Value) -> Option<String> {
        // One field as npm-install-checks reads it: a list (or a single
        // string) of names, `!name` excluding one.
        fn allows(field: Option<&Value>, value: &str) -> bool {
            let items: Vec<&str> = match field {
                Some(Value::String(one)) => vec![one.as_str()],
                Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
                _ => return true,
            };
            if items.iter().any(|i| i.strip_prefix('!') == Some(value)) {
                return false;
            }
            let positive: Vec<&&str> = items.iter().filter(|i| !i.starts_with('!')).collect();
            positive.is_empty() || positive.iter().any(|i| **i == value)
        }
        let check = |key: &str, targets: &[String]| {
            let field = manifest.get(key);
            if targets.is_empty() || targets.iter().any(|t| allows(field, t)) {
                None
            } else {
                Some(format!(
                    "{key} {}",
                    field.map(Value::to_string).unwrap_or_default()
                ))
            }
        };
        let linux = self.os.is_empty() || self.os.iter().any(|o| o == "linux");
        check("os", &self.os)
            .or_else(|| check("cpu", &self.cpu))
            .or_else(|| {
                if linux {
                    check("libc", &self.libc)
                } else {
                    None
                }
            })
    }
}

/// Splits `name@spec` (`@scope/name@spec`); a bare name means `latest`.
pub fn split_spec(text: &str) -> (String, String) {
    let text = text.trim();
    // Skip a scope's leading '@' (one byte) when looking for the separator.
    let rest = text.strip_prefix('@').unwrap_or(text);
    let offset = text.len() - rest.len();
    match rest.rfind('@') {
        Some(at) => (
            text[..offset + at].to_owned(),
            text[offset + at + 1..].trim().to_owned(),
        ),
        None => (text.to_owned(), "latest".to_owned()),
    }
}

/// Checks `[npm]`; lockfile paths are relative to `base`.
pub fn plan(spec: &NpmSpec, base: &Path) -> Result<Planned, CollectError> {
    let mut text = spec.registry.clone();
    if !text.ends_with('/') {
        text.push('/');
    }
    let registry = SafeUrl::parse(&text)
        .map_err(|e| CollectError::Spec(format!("registry is not a URL: {e}")))?;
    if !matches!(registry.expose().scheme(), "http" | "https") {
        return Err(CollectError::Spec(format!(
            "registry {} must be http or https",
            registry.redacted()
        )));
    }
    let mut roots = Vec::new();
    for entry in &spec.packages {
        let (name, version) = split_spec(entry);
        if !crate::valid_name(&name) {
            return Err(CollectError::Spec(format!(
                "packages: {entry:?}: {name:?} is not a package name"
            )));
        }
        let is_tag = version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && version
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic());
        if !is_tag && let Err(e) = Range::parse(&version) {
            return Err(CollectError::Spec(format!("packages: {entry:?}: {e}")));
        }
        roots.push((name, version));
    }
    let mut pins = Vec::new();
    for path in &spec.lockfiles {
        pins.extend(lockfile::read(&base.join(path))?);
    }
    for (key, values, known) in [
        ("os", &spec.os, OS_NAMES),
        ("cpu", &spec.cpu, CPU_NAMES),
        ("libc", &spec.libc, LIBC_NAMES),
    ] {
        if let Some(bad) = values.iter().find(|v| !known.contains(&v.as_str())) {
            return Err(CollectError::Spec(format!(
                "{key}: {bad:?} is not one of npm's names ({})",
                known.join(", ")
            )));
        }
    }
    let targets = Targets {
        os: spec.os.clone(),
        cpu: spec.cpu.clone(),
        libc: spec.libc.clone(),
    };
    let authorization = match &spec.credentials {
        None => None,
        Some(name) => Some(Secret(format!(
            "Bearer {}",
            std::env::var(format!("{name}_TOKEN")).map_err(|_| {
                CollectError::Spec(format!(
                    "credentials = {name:?} but {name}_TOKEN is not set"
                ))
            })?
        ))),
    };
    Ok(Planned {
        registry,
        authorization,
        roots,
        pins,
        optional: spec.optional,
        peer: spec.peer,
        targets,
    })
}

/// What a collect produced.
#[derive(Debug, Default)]
pub struct Collected {
    /// Index entries.
    pub entries: Vec<Entry>,
    /// Packages carried.
    pub packages: u64,
    /// Versions carried.
    pub versions: u64,
    /// Bytes of tarballs.
    pub bytes: u64,
    /// Tarballs downloaded now.
    pub downloaded: u64,
    /// Notes (optional dependencies that could not be carried, …).
    pub notes: Vec<String>,
    /// Versions left out because no target platform can install them.
    pub left_out: u64,
    /// Their unpacked size, as the registry states it (`dist.unpackedSize`).
    pub left_out_bytes: u64,
}

struct Upstream<'a> {
    fetcher: &'a Fetcher,
    planned: &'a Planned,
    concurrency: usize,
    packuments: HashMap<String, Arc<Value>>,
}

/// The packument path of a name: `@scope%2fname` for scoped packages.
pub fn encode_name(name: &str) -> String {
    name.replace('/', "%2f")
}

impl Upstream<'_> {
    fn authorization_for(&self, url: &url::Url) -> Option<Secret> {
        airlift_fetch::same_origin(url, self.planned.registry.expose())
            .then(|| self.planned.authorization.clone())
            .flatten()
    }

    /// Loads packuments not yet read, concurrently. Names whose packument is
    /// missing are returned for optional needs instead of failing.
    async fn load(
        &mut self,
        wanted: Vec<(String, Vec<String>, bool)>,
    ) -> Result<BTreeMap<String, CollectError>, CollectError> {
        let mut unique: BTreeMap<String, (Vec<String>, bool)> = BTreeMap::new();
        for (name, chain, optional) in wanted {
            if self.packuments.contains_key(&name) {
                continue;
            }
            let slot = unique.entry(name).or_insert((chain, true));
            slot.1 &= optional;
        }
        let this = &*self;
        let results: Vec<(String, bool, Result<Value, CollectError>)> =
            futures_util::stream::iter(unique)
                .map(|(name, (chain, optional))| async move {
                    let result = this.fetch_packument(&name, chain).await;
                    (name, optional, result)
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        let mut failed = BTreeMap::new();
        for (name, optional, result) in results {
            match result {
                Ok(packument) => {
                    self.packuments.insert(name, Arc::new(packument));
                }
                Err(e) if optional => {
                    failed.insert(name, e);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(failed)
    }

    async fn fetch_packument(&self, name: &str, chain: Vec<String>) -> Result<Value, CollectError> {
        let url = self
            .planned
            .registry
            .expose()
            .join(&encode_name(name))
            .ok()
            .and_then(|u| SafeUrl::parse(u.as_str()).ok())
            .ok_or_else(|| CollectError::Spec(format!("cannot form a URL for {name}")))?;
        let upstream = |message: String| CollectError::Upstream {
            package: name.to_owned(),
            url: url.redacted(),
            message,
        };
        let authorization = self.authorization_for(url.expose());
        let page = self
            .fetcher
            .get_small(
                &url,
                &[("Accept", "application/json")],
                authorization.as_ref(),
                256 << 20,
            )
            .await
            .map_err(|e| upstream(e.detail()))?;
        if page.status.as_u16() == 404 {
            return Err(CollectError::NotFound {
                package: name.to_owned(),
                url: url.redacted(),
                chain,
            });
        }
        if !page.status.is_success() {
            return Err(upstream(format!("answered {}", page.status)));
        }
        let packument: Value = serde_json::from_slice(&page.body)
            .map_err(|e| upstream(format!("malformed packument: {e}")))?;
        if packument.get("name").and_then(|n| n.as_str()) != Some(name) {
            return Err(upstream("the packument names another package".into()));
        }
        if !packument.get("versions").is_some_and(Value::is_object) {
            return Err(upstream(
                "malformed packument: no \"versions\" object".into(),
            ));
        }
        Ok(packument)
    }
}

/// The version npm picks for `spec` from a packument.
fn pick(
    name: &str,
    packument: &Value,
    spec: &str,
    chain: &[String],
) -> Result<String, CollectError> {
    let versions = packument
        .get("versions")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let tags = packument.get("dist-tags").and_then(Value::as_object);
    let spec = spec.trim();
    let unsupported = || CollectError::Unsupported {
        package: name.to_owned(),
        spec: spec.to_owned(),
        chain: chain.to_vec(),
    };
    if spec.contains(':') || spec.contains('/') {
        return Err(unsupported());
    }
    // `*` and an empty range mean what `latest` names, when it exists.
    let tag = if spec.is_empty() || spec == "*" {
        "latest"
    } else {
        spec
    };
    if let Some(version) = tags.and_then(|t| t.get(tag)).and_then(Value::as_str)
        && versions.contains_key(version)
    {
        return Ok(version.to_owned());
    }
    let range = match Range::parse(spec) {
        Ok(range) => range,
        Err(_)
            if spec
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
        {
            // A tag the packument does not have.
            return Err(CollectError::Unsatisfiable {
                package: name.to_owned(),
                spec: spec.to_owned(),
                available: format!(
                    "tags {}",
                    tags.map(|t| t.keys().cloned().collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                ),
                chain: chain.to_vec(),
            });
        }
        Err(_) => return Err(unsupported()),
    };
    let mut candidates: Vec<(semver::Version, &String, bool)> = versions
        .iter()
        .filter_map(|(text, manifest)| {
            let version = parse_version(text)?;
            let deprecated = manifest
                .get("deprecated")
                .is_some_and(|d| !d.is_null() && d != "");
            range
                .satisfies(&version)
                .then_some((version, text, deprecated))
        })
        .collect();
    candidates.sort_by(|a, b| compare(&a.0, &b.0));
    if let Some(latest) = tags.and_then(|t| t.get("latest")).and_then(Value::as_str)
        && candidates
            .iter()
            .any(|(_, text, deprecated)| text.as_str() == latest && !deprecated)
    {
        return Ok(latest.to_owned());
    }
    if let Some((_, text, _)) = candidates
        .iter()
        .rev()
        .find(|(_, _, deprecated)| !deprecated)
    {
        return Ok((*text).clone());
    }
    if let Some((_, text, _)) = candidates.last() {
        return Ok((*text).clone());
    }
    let mut all: Vec<semver::Version> = versions.keys().filter_map(|v| parse_version(v)).collect();
    all.sort_by(compare);
    let available: Vec<String> = all
        .iter()
        .rev()
        .take(8)
        .rev()
        .map(ToString::to_string)
        .collect();
    Err(CollectError::Unsatisfiable {
        package: name.to_owned(),
        spec: spec.to_owned(),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
        chain: chain.to_vec(),
    })
}

/// A dependency to satisfy.
struct Need {
    name: String,
    spec: String,
    optional: bool,
    chain: Vec<String>,
}

/// The dependencies of a version's manifest that an install follows.
fn dependencies(manifest: &Value, planned: &Planned) -> Vec<(String, String, bool)> {
    let map = |key: &str| -> Vec<(String, String)> {
        manifest
            .get(key)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let bundled: BTreeSet<String> = ["bundleDependencies", "bundledDependencies"]
        .iter()
        .filter_map(|k| manifest.get(*k))
        .flat_map(|v| match v {
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            Value::Bool(true) => map("dependencies").into_iter().map(|(k, _)| k).collect(),
            _ => Vec::new(),
        })
        .collect();
    let mut out = Vec::new();
    let optional: BTreeMap<String, String> = map("optionalDependencies").into_iter().collect();
    for (name, spec) in map("dependencies") {
        if !optional.contains_key(&name) {
            out.push((name, spec, false));
        }
    }
    if planned.optional {
        for (name, spec) in &optional {
            out.push((name.clone(), spec.clone(), true));
        }
    }
    if planned.peer {
        for (name, spec) in map("peerDependencies") {
            let optional_peer = manifest
                .get("peerDependenciesMeta")
                .and_then(|m| m.get(&name))
                .and_then(|m| m.get("optional"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !optional_peer {
                out.push((name, spec, false));
            }
        }
    }
    out.retain(|(name, _, _)| !bundled.contains(name));
    out
}

/// An `npm:real@spec` alias becomes (real, spec).
fn unalias(name: String, spec: String) -> (String, String) {
    match spec.strip_prefix("npm:") {
        Some(rest) => split_spec(rest),
        None => (name, spec),
    }
}

/// Collects everything `[npm]` declares.
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
        packuments: HashMap::new(),
    };
    let mut notes = Vec::new();
    // (name, version) → expected integrity.
    let mut chosen: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    // (name, version) → why no target installs it, and its unpacked size.
    let mut left_out: BTreeMap<(String, String), (String, Option<u64>)> = BTreeMap::new();
    let unpacked = |manifest: &Value| {
        manifest
            .get("dist")
            .and_then(|d| d.get("unpackedSize"))
            .and_then(Value::as_u64)
    };
    up.load(
        planned
            .pins
            .iter()
            .map(|p| (p.name.clone(), vec![p.origin.clone()], false))
            .collect(),
    )
    .await?;
    for pin in &planned.pins {
        let packument = up.packuments.get(&pin.name).cloned().ok_or_else(|| {
            CollectError::Spec(format!("internal: packument of {} not loaded", pin.name))
        })?;
        let manifest = packument
            .get("versions")
            .and_then(|v| v.get(&pin.version))
            .ok_or_else(|| CollectError::Missing {
                origin: pin.origin.clone(),
                package: pin.name.clone(),
                version: pin.version.clone(),
            })?;
        let upstream = manifest
            .get("dist")
            .and_then(|d| d.get("integrity"))
            .and_then(Value::as_str);
        if let (Some(locked), Some(upstream)) = (pin.integrity.as_deref(), upstream)
            && let (Some(a), Some(b)) =
                (Integrity::parse_sri(locked), Integrity::parse_sri(upstream))
            && std::mem::discriminant(&a) == std::mem::discriminant(&b)
            && a != b
        {
            return Err(CollectError::IntegrityMismatch {
                package: pin.name.clone(),
                version: pin.version.clone(),
                expected_from: pin.origin.clone(),
                expected: a.to_sri(),
                actual_from: "the upstream packument says".into(),
                actual: b.to_sri(),
            });
        }
        if let Some(reason) = planned.targets.excludes(manifest) {
            left_out.insert(
                (pin.name.clone(), pin.version.clone()),
                (reason, unpacked(manifest)),
            );
            continue;
        }
        chosen.insert(
            (pin.name.clone(), pin.version.clone()),
            pin.integrity.clone(),
        );
    }
    // Declared packages and their closure.
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut queue: Vec<Need> = planned
        .roots
        .iter()
        .map(|(name, spec)| Need {
            name: name.clone(),
            spec: spec.clone(),
            optional: false,
            chain: vec![format!("{name}@{spec} in airlift.toml packages")],
        })
        .collect();
    while !queue.is_empty() {
        let failed = up
            .load(
                queue
                    .iter()
                    .map(|n| (n.name.clone(), n.chain.clone(), n.optional))
                    .collect(),
            )
            .await?;
        let mut next = Vec::new();
        for need in queue {
            // A requirement met optionally is met again when it is needed for
            // real, so that its failures are errors then, not notes.
            let marker = if need.optional { "?" } else { "" };
            if (need.optional && seen.contains(&(need.name.clone(), need.spec.clone())))
                || !seen.insert((format!("{marker}{}", need.name), need.spec.clone()))
            {
                continue;
            }
            if let Some(error) = failed.get(&need.name) {
                notes.push(format!("optional dependency skipped: {error}"));
                continue;
            }
            let Some(packument) = up.packuments.get(&need.name).cloned() else {
                continue;
            };
            let version = match pick(&need.name, &packument, &need.spec, &need.chain) {
                Ok(version) => version,
                Err(e) if need.optional => {
                    notes.push(format!("optional dependency skipped: {e}"));
                    continue;
                }
                Err(e) => return Err(e),
            };
            // Declared packages are carried whatever their platform; their
            // dependencies only when some target can install them.
            if need.chain.len() > 1
                && let Some(manifest) = packument.get("versions").and_then(|v| v.get(&version))
                && let Some(reason) = planned.targets.excludes(manifest)
            {
                left_out.insert((need.name.clone(), version), (reason, unpacked(manifest)));
                continue;
            }
            let key = (need.name.clone(), version.clone());
            chosen.entry(key).or_insert(None);
            // Each version's dependencies are followed once, and once more
            // when a version first reached optionally is needed for real (the
            // NUL-prefixed names cannot clash with a real (name, specifier)).
            let expanded = format!("\u{0}{}", need.name);
            let expanded_optionally = format!("\u{0}?{}", need.name);
            if seen.contains(&(expanded.clone(), version.clone()))
                || (need.optional && seen.contains(&(expanded_optionally.clone(), version.clone())))
            {
                continue;
            }
            seen.insert((
                if need.optional {
                    expanded_optionally
                } else {
                    expanded
                },
                version.clone(),
            ));
            let manifest = packument
                .get("versions")
                .and_then(|v| v.get(&version))
                .cloned()
                .unwrap_or(Value::Null);
            let mut chain = need.chain.clone();
            chain.insert(0, format!("{}@{version}", need.name));
            for (name, spec, optional) in dependencies(&manifest, planned) {
                let (name, spec) = unalias(name, spec);
                next.push(Need {
                    name,
                    spec,
                    optional: optional || need.optional,
                    chain: chain.clone(),
                });
            }
        }
        queue = next;
    }
    // What some other path needed after all is carried, not left out.
    left_out.retain(|key, _| !chosen.contains_key(key));
    let mut left_out_bytes = 0u64;
    for ((name, version), (reason, size)) in &left_out {
        left_out_bytes += size.unwrap_or(0);
        notes.push(format!(
            "left out by [npm] os/cpu/libc: {name}@{version} ({reason}{})",
            size.map(|s| format!(", {s} bytes unpacked"))
                .unwrap_or_default()
        ));
    }
    if !left_out.is_empty() {
        notes.push(format!(
            "[npm] os/cpu/libc left out {} versions, {left_out_bytes} bytes unpacked",
            left_out.len()
        ));
    }
    // Tarballs, each checked against its integrity while it streams.
    let current: BTreeMap<String, Entry> = match store.meta.current()? {
        Some(generation) => store
            .meta
            .entries(generation.id, Some(crate::ECOSYSTEM))?
            .into_iter()
            .map(|e| (e.key.clone(), e))
            .collect(),
        None => BTreeMap::new(),
    };
    let mut work = Vec::new();
    for ((name, version), locked) in &chosen {
        let packument = up.packuments.get(name).cloned().ok_or_else(|| {
            CollectError::Spec(format!("internal: packument of {name} not loaded"))
        })?;
        let manifest = packument
            .get("versions")
            .and_then(|v| v.get(version))
            .cloned()
            .unwrap_or(Value::Null);
        let dist = manifest.get("dist").cloned().unwrap_or(Value::Null);
        // The lockfile is the trust anchor when it states a digest (even a
        // legacy SHA-1); otherwise the registry's.
        let integrity = locked
            .as_deref()
            .and_then(Integrity::parse_sri)
            .or_else(|| {
                dist.get("integrity")
                    .and_then(Value::as_str)
                    .and_then(Integrity::parse_sri)
            })
            .or_else(|| {
                dist.get("shasum")
                    .and_then(Value::as_str)
                    .and_then(Integrity::from_sha1_hex)
            })
            .ok_or_else(|| CollectError::Upstream {
                package: name.clone(),
                url: format!("version {version}"),
                message: "no integrity or shasum: the tarball cannot be verified".into(),
            })?;
        let tarball = dist
            .get("tarball")
            .and_then(Value::as_str)
            .and_then(|t| planned.registry.expose().join(t).ok())
            .and_then(|u| SafeUrl::parse(u.as_str()).ok())
            .filter(|u| matches!(u.expose().scheme(), "http" | "https"))
            .ok_or_else(|| CollectError::Upstream {
                package: name.clone(),
                url: format!("version {version}"),
                message: "no usable dist.tarball (an http or https URL)".into(),
            })?;
        // Already carried with the same integrity: reuse the stored blob.
        let known = current
            .get(&format!("{}{name}/{version}", crate::index::VERSION))
            .filter(|e| {
                e.meta.get("integrity").and_then(Value::as_str) == Some(&integrity.to_sri())
            })
            .map(|e| e.digest);
        work.push((
            name.clone(),
            version.clone(),
            manifest,
            integrity,
            tarball,
            known,
        ));
    }
    let requests = work
        .iter()
        .map(|(_, _, _, integrity, url, known)| {
            (
                Request {
                    authorization: up.authorization_for(url.expose()),
                    url: url.clone(),
                    expected: *known,
                },
                Some(*integrity),
            )
        })
        .collect();
    let results = fetcher.fetch_all_checked(store, requests, progress).await;
    let mut collected = Collected::default();
    let mut names = BTreeSet::new();
    for ((name, version, manifest, integrity, _, _), result) in work.iter().zip(results) {
        let fetched = result.map_err(|e| match e {
            FetchError::IntegrityMismatch {
                expected, actual, ..
            } => CollectError::IntegrityMismatch {
                package: name.clone(),
                version: version.clone(),
                expected_from: "the registry / lockfile".into(),
                expected: expected.to_sri(),
                actual_from: "the downloaded tarball hashes to".into(),
                actual: actual.to_sri(),
            },
            other => CollectError::Fetch {
                package: name.clone(),
                version: version.clone(),
                source: other,
            },
        })?;
        if !fetched.cached {
            collected.downloaded += 1;
        }
        let mut manifest = manifest.clone();
        if let Some(object) = manifest.as_object_mut() {
            object.remove("readme");
            object.remove("readmeFilename");
        }
        let packument = up.packuments.get(name).cloned().unwrap_or_default();
        let time = packument.get("time").and_then(|t| t.get(version));
        collected.entries.push(crate::index::version_entry(
            name,
            version,
            fetched.digest,
            fetched.size,
            &manifest,
            time,
            &integrity.to_sri(),
        ));
        collected.bytes += fetched.size;
        collected.versions += 1;
        names.insert(name.clone());
    }
    for name in &names {
        let packument = up.packuments.get(name).cloned().unwrap_or_default();
        let time = packument.get("time");
        let document = serde_json::json!({
            "name": name,
            "description": packument.get("description"),
            "dist-tags": packument.get("dist-tags"),
            "time": {
                "created": time.and_then(|t| t.get("created")),
                "modified": time.and_then(|t| t.get("modified")),
            },
        });
        let bytes = serde_json::to_vec(&document).map_err(|e| CollectError::Spec(e.to_string()))?;
        let digest = Digest::of(&bytes);
        if store.blobs.size(&digest)?.is_none() {
            let mut writer = store.blobs.writer()?;
            std::io::Write::write_all(&mut writer, &bytes).map_err(|source| StoreError::Io {
                action: "write package document",
                path: name.into(),
                source,
            })?;
            writer.commit(Some(&digest))?;
        }
        collected.entries.push(crate::index::package_entry(
            name,
            digest,
            bytes.len() as u64,
        ));
    }
    collected.packages = names.len() as u64;
    collected.left_out = left_out.len() as u64;
    collected.left_out_bytes = left_out_bytes;
    notes.sort();
    notes.dedup();
    collected.notes = notes;
    Ok(collected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_targets_follow_npm_install_checks() {
        let targets = Targets {
            os: vec!["linux".into()],
            cpu: vec!["x64".into()],
            libc: vec!["glibc".into()],
        };
        let m = |v: Value| targets.excludes(&v);
        assert_eq!(m(serde_json::json!({})), None);
        assert_eq!(
            m(serde_json::json!({"os": ["linux"], "cpu": ["x64"]})),
            None
        );
        assert_eq!(m(serde_json::json!({"os": "linux"})), None);
        assert_eq!(m(serde_json::json!({"os": ["!win32"]})), None);
        assert!(m(serde_json::json!({"os": ["win32"]})).is_some_and(|r| r.starts_with("os ")));
        assert!(m(serde_json::json!({"os": ["!linux"]})).is_some());
        assert!(m(serde_json::json!({"cpu": ["arm64"]})).is_some_and(|r| r.starts_with("cpu ")));
        assert!(m(serde_json::json!({"libc": ["musl"]})).is_some_and(|r| r.starts_with("libc ")));
        // No targets: every platform.
        assert!(Targets::default().all());
        assert_eq!(
            Targets::default().excludes(&serde_json::json!({"os": ["aix"]})),
            None
        );
        // libc only matters when a target is Linux.
        let mac = Targets {
            os: vec!["darwin".into()],
            cpu: Vec::new(),
            libc: vec!["glibc".into()],
        };
        assert_eq!(
            mac.excludes(&serde_json::json!({"os": ["darwin"], "libc": ["musl"]})),
            None
        );
    }

    #[test]
    fn specs_split() {
        assert_eq!(split_spec("express@^4"), ("express".into(), "^4".into()));
        assert_eq!(
            split_spec("@types/node@20"),
            ("@types/node".into(), "20".into())
        );
        assert_eq!(
            split_spec("@types/node"),
            ("@types/node".into(), "latest".into())
        );
        assert_eq!(split_spec("lodash"), ("lodash".into(), "latest".into()));
        assert_eq!(split_spec("\u{e9}@1"), ("\u{e9}".into(), "1".into()));
        assert_eq!(split_spec("@"), ("@".into(), "latest".into()));
        assert_eq!(
            unalias("x".into(), "npm:@s/y@^2".into()),
            ("@s/y".into(), "^2".into())
        );
    }

    #[test]
    fn npm_picks_like_npm() {
        let packument = serde_json::json!({
            "name": "p",
            "dist-tags": {"latest": "1.2.0", "next": "2.0.0-rc.1"},
            "versions": {
                "1.0.0": {}, "1.2.0": {}, "1.3.0": {}, "1.4.0": {"deprecated": "broken"},
                "2.0.0-rc.1": {}
            }
        });
        let chain = Vec::new();
        assert_eq!(
            pick("p", &packument, "^1", &chain).expect("pick"),
            "1.2.0",
            "latest wins when it satisfies"
        );
        assert_eq!(
            pick("p", &packument, ">=1.3", &chain).expect("pick"),
            "1.3.0",
            "deprecated avoided"
        );
        assert_eq!(
            pick("p", &packument, "1.4.0", &chain).expect("pick"),
            "1.4.0"
        );
        assert_eq!(
            pick("p", &packument, "next", &chain).expect("pick"),
            "2.0.0-rc.1"
        );
        assert_eq!(
            pick("p", &packument, "latest", &chain).expect("pick"),
            "1.2.0"
        );
        assert_eq!(pick("p", &packument, "*", &chain).expect("pick"), "1.2.0");
        assert!(pick("p", &packument, "^3", &chain).is_err());
        assert!(matches!(
            pick("p", &packument, "git+https://example.com/p.git", &chain),
            Err(CollectError::Unsupported { .. })
        ));
        assert!(matches!(
            pick("p", &packument, "beta", &chain),
            Err(CollectError::Unsatisfiable { .. })
        ));
    }
}
