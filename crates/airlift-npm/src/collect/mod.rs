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
use airlift_ecosystem::CollectContext;
use airlift_fetch::credentials::{self, AuthScheme};
use airlift_fetch::index::{Index, IndexError, IndexProfile};
use airlift_fetch::{FetchError, Request, Secret, StatusCode};
use airlift_store::{Entry, StoreError};
use futures_util::StreamExt;
use serde_json::Value;

use crate::lockfile::{self, LockError, Pin};
use crate::range::{Range, compare, parse_version};
use crate::spec::NpmSpec;

mod closure;
mod targets;
mod upstream;

use closure::*;
use targets::*;
use upstream::*;

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
    let authorization =
        credentials::resolve_optional(spec.credentials.as_deref(), AuthScheme::Bearer)
            .map_err(|e| CollectError::Spec(e.to_string()))?;
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
    /// For each carried package, the versions its packument lists that are
    /// newer than the oldest carried one (deprecated ones kept, since npm
    /// still installs them; unpublished ones are not in `versions`): read
    /// from the packuments collect fetched anyway.
    pub upstream: Vec<airlift_ecosystem::UpstreamVersions>,
}

/// Collects everything `[npm]` declares.
pub async fn collect(
    planned: &Planned,
    context: &CollectContext<'_>,
) -> Result<Collected, CollectError> {
    let (store, fetcher, concurrency) = (context.store, context.fetcher, context.concurrency);
    let progress = context.progress.clone();
    let mut up = Upstream {
        index: Index::new(
            fetcher,
            planned.registry.clone(),
            planned.authorization.clone(),
            PROFILE,
        ),
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
                    authorization: up.index.authorization_for(url.expose()),
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
    collected.upstream = newer_upstream(&chosen, &up.packuments);
    collected.left_out = left_out.len() as u64;
    collected.left_out_bytes = left_out_bytes;
    notes.sort();
    notes.dedup();
    collected.notes = notes;
    Ok(collected)
}

/// For each carried package of `chosen` ((name, version) keys), the
/// versions its packument in `packuments` lists that are newer than the
/// oldest carried one (an empty list says it is up to date).
fn newer_upstream<T>(
    chosen: &BTreeMap<(String, String), T>,
    packuments: &HashMap<String, std::sync::Arc<Value>>,
) -> Vec<airlift_ecosystem::UpstreamVersions> {
    let compare = |a: &str, b: &str| match (
        crate::range::parse_version(a),
        crate::range::parse_version(b),
    ) {
        (Some(a), Some(b)) => crate::range::compare(&a, &b),
        _ => a.cmp(b),
    };
    let oldest = airlift_ecosystem::UpstreamVersions::oldest_carried(
        chosen
            .keys()
            .map(|(name, version)| (name.as_str(), version.as_str())),
        compare,
    );
    oldest
        .into_iter()
        .filter_map(|(name, oldest)| {
            let offered = packuments
                .get(&name)?
                .get("versions")?
                .as_object()?
                .keys()
                .cloned()
                .collect::<Vec<_>>();
            Some(airlift_ecosystem::UpstreamVersions::newer_than(
                name, &oldest, offered, compare,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests;
