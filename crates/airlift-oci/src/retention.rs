//! Retention rules for hosted repositories, as Harbor and Nexus offer them:
//! keep the newest N tags of a repository, and remove manifests that no tag
//! reaches once they are older than D days.
//!
//! Only what was pushed to this server carries a push time (`pushed_at` in
//! its index entry's meta); imported content has none, and no rule ever
//! removes it. A manifest stays while anything kept reaches it: a kept tag,
//! an image index that is kept (its child manifests), or a kept manifest it
//! refers to as an OCI 1.1 subject (signatures, SBOMs). A repository's blob
//! links go with the last manifest that used them, once they too are older
//! than the cutoff, so that a push in progress (blobs linked, manifest not
//! yet pushed) keeps its blobs. The blobs themselves are reclaimed by
//! `airlift gc` once no kept generation references them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use airlift_core::Digest;
use airlift_store::{Entry, Store, StoreError};
use serde_json::Value;

use crate::index::{Key, parse_key};

/// What to keep in a repository.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    /// Keep this many tags, the most recently pushed; `None` keeps all.
    pub keep_tags: Option<usize>,
    /// Remove manifests no kept tag reaches once they are older than this
    /// many days; `None` keeps them.
    pub untagged_days: Option<u64>,
}

/// What a rule removes from one generation.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Removals {
    /// Index keys of the `oci` ecosystem to remove.
    pub keys: Vec<String>,
    /// Tags among them.
    pub tags: u64,
    /// Manifests among them.
    pub manifests: u64,
    /// Blob links among them.
    pub blob_links: u64,
}

/// The largest manifest read to follow an index's children or a
/// manifest's blobs.
const MAX_MANIFEST: u64 = crate::serve::MAX_MANIFEST as u64;

fn pushed_at(entry: &Entry) -> Option<i64> {
    entry.meta.get("pushed_at").and_then(Value::as_i64)
}

/// Reads a stored manifest (bounded); `None` when it is not there or not
/// JSON (then it protects nothing and references nothing).
fn manifest(store: &Store, digest: &Digest) -> Option<Value> {
    let mut reader = store.blobs.open(digest).ok()?;
    let mut bytes = Vec::new();
    (&mut reader)
        .take(MAX_MANIFEST)
        .read_to_end(&mut bytes)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Digests of the descriptors listed under `field` of a manifest.
fn digests(document: &Value, field: &str) -> Vec<String> {
    document
        .get(field)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|d| d["digest"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What `rule` removes from the repositories of `entries` (the `oci`
/// entries of one generation) that `applies` to, at `now` (Unix seconds).
pub fn plan(
    store: &Store,
    entries: &[Entry],
    applies: &dyn Fn(&str) -> bool,
    rule: Rule,
    now: i64,
) -> Result<Removals, StoreError> {
    #[derive(Default)]
    struct Repository<'a> {
        tags: Vec<&'a Entry>,
        manifests: BTreeMap<String, &'a Entry>,
        blobs: Vec<&'a Entry>,
    }
    let mut repositories: BTreeMap<&str, Repository<'_>> = BTreeMap::new();
    for entry in entries {
        let Some(key) = parse_key(&entry.key) else {
            continue;
        };
        let (name, slot) = match key {
            Key::Tag { repository, .. } => (repository, 0),
            Key::Manifest { repository, .. } => (repository, 1),
            Key::Blob { repository, .. } => (repository, 2),
        };
        if !applies(name) {
            continue;
        }
        let repo = repositories.entry(name).or_default();
        match slot {
            0 => repo.tags.push(entry),
            1 => {
                repo.manifests.insert(entry.digest.to_string(), entry);
            }
            _ => repo.blobs.push(entry),
        }
    }
    let cutoff = rule.untagged_days.map(|days| {
        now.saturating_sub(i64::try_from(days.saturating_mul(86_400)).unwrap_or(i64::MAX))
    });
    let mut removals = Removals::default();
    for repo in repositories.values_mut() {
        // Tags: the newest N pushed stay; imported tags (no push time) always stay.
        let mut kept_tags: Vec<&Entry> = Vec::new();
        let mut pushed: Vec<&Entry> = Vec::new();
        for tag in &repo.tags {
            if pushed_at(tag).is_some() {
                pushed.push(tag);
            } else {
                kept_tags.push(tag);
            }
        }
        pushed.sort_by(|a, b| {
            pushed_at(b)
                .cmp(&pushed_at(a))
                .then_with(|| a.key.cmp(&b.key))
        });
        let keep = rule.keep_tags.unwrap_or(usize::MAX);
        for (index, tag) in pushed.into_iter().enumerate() {
            if index < keep {
                kept_tags.push(tag);
            } else {
                removals.keys.push(tag.key.clone());
                removals.tags += 1;
            }
        }
        let Some(cutoff) = cutoff else {
            continue;
        };
        // Manifests: what kept tags reach, their children, their referrers.
        let mut protected: BTreeSet<String> =
            kept_tags.iter().map(|t| t.digest.to_string()).collect();
        for (digest, manifest_entry) in &repo.manifests {
            let young = pushed_at(manifest_entry).is_none_or(|at| at > cutoff);
            if young {
                protected.insert(digest.clone());
            }
        }
        let mut documents: BTreeMap<String, Option<Value>> = BTreeMap::new();
        let mut changed = true;
        while changed {
            changed = false;
            for (digest, manifest_entry) in &repo.manifests {
                let document = documents
                    .entry(digest.clone())
                    .or_insert_with(|| manifest(store, &manifest_entry.digest));
                if protected.contains(digest) {
                    if let Some(document) = document {
                        for child in digests(document, "manifests") {
                            changed |= protected.insert(child);
                        }
                    }
                } else if manifest_entry.meta["subject"]
                    .as_str()
                    .is_some_and(|subject| protected.contains(subject))
                {
                    protected.insert(digest.clone());
                    changed = true;
                }
            }
        }
        let mut used: BTreeSet<String> = BTreeSet::new();
        for (digest, manifest_entry) in &repo.manifests {
            if protected.contains(digest) {
                if let Some(Some(document)) = documents.get(digest) {
                    used.extend(digests(document, "layers"));
                    used.extend(digests(document, "blobs"));
                    if let Some(config) = document["config"]["digest"].as_str() {
                        used.insert(config.to_owned());
                    }
                }
            } else {
                removals.keys.push(manifest_entry.key.clone());
                removals.manifests += 1;
            }
        }
        for blob in &repo.blobs {
            let old = pushed_at(blob).is_some_and(|at| at <= cutoff);
            if old && !used.contains(&blob.digest.to_string()) {
                removals.keys.push(blob.key.clone());
                removals.blob_links += 1;
            }
        }
    }
    Ok(removals)
}
