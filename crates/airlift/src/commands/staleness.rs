//! The staleness record: what the upstreams offered of every carried
//! package at collect time, written by `collect` on the connected side and
//! read by `drift` and `report` on the isolated side.
//!
//! `collect` asks nothing extra of the network for it: each ecosystem's
//! collect returns, with its entries, the versions its upstream lists that
//! are newer than the oldest carried one of each name
//! ([`airlift_ecosystem::UpstreamVersions`]). They are assembled here into
//! one JSON document, stored as a blob and carried as an index entry of
//! the site's own documents (ecosystem `site`, key `staleness.json`), so
//! that the bundle signs it like everything else. Its shape:
//!
//! ```json
//! {"collected": "2026-01-02T03:04:05Z",
//!  "ecosystems": {"pypi": [{"name": "flask", "versions": ["3.1.0"]}]},
//!  "as_of": {"pypi": "2026-01-02T03:04:05Z"}}
//! ```
//!
//! `as_of` says when each ecosystem's part was read: an ecosystem that was
//! not collected this time keeps its part (and date) from the previous
//! generation's document, as long as the generation still carries its
//! packages. On the isolated side this module only reads the document
//! back; what is out of date is decided by `drift` with each ecosystem's
//! version order.

use std::collections::{BTreeMap, BTreeSet};

use airlift_ecosystem::{UPSTREAM_VERSIONS_LIMIT, UpstreamVersions};
use airlift_store::Entry;

use super::*;

/// The ecosystem of the site's own documents (SBOMs, staleness), and the
/// key of the staleness document among them.
pub(crate) use airlift_sbom::ecosystem::{ECOSYSTEM as SITE, STALENESS};

/// The most bytes a staleness document may have when it is read back: a
/// hostile or damaged one is refused rather than parsed whole.
const MAX_DOCUMENT_BYTES: u64 = 64 << 20;

/// The staleness document (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct Staleness {
    /// When the collect that wrote it ran (RFC 3339).
    pub(crate) collected: String,
    /// Each ecosystem's carried names with the newer upstream versions,
    /// names sorted.
    pub(crate) ecosystems: BTreeMap<String, Vec<UpstreamVersions>>,
    /// When each ecosystem's part was read (RFC 3339); absent parts date
    /// from `collected`.
    #[serde(default)]
    pub(crate) as_of: BTreeMap<String, String>,
}

impl Staleness {
    /// When `ecosystem`'s part was read.
    pub(crate) fn as_of(&self, ecosystem: &str) -> &str {
        self.as_of
            .get(ecosystem)
            .map_or(self.collected.as_str(), String::as_str)
    }

    /// The newer upstream versions of `name` in `ecosystem`; `None` when
    /// the document has no record of that name.
    pub(crate) fn versions(&self, ecosystem: &str, name: &str) -> Option<&[String]> {
        let part = self.ecosystems.get(ecosystem)?;
        part.binary_search_by(|u| u.name.as_str().cmp(name))
            .ok()
            .map(|position| part[position].versions.as_slice())
    }
}

/// The staleness document of a collect at `now`: the parts of the
/// ecosystems in `collected` as they came, sorted by name; every other
/// part of `previous` (the previous generation's document) as it was,
/// with its date.
pub(crate) fn staleness_document(
    previous: Option<&serde_json::Value>,
    collected: &[(&'static str, Vec<UpstreamVersions>)],
    now: jiff::Timestamp,
) -> serde_json::Value {
    let previous: Staleness = previous
        .and_then(|value| serde_json::from_value(value.clone()).ok())
        .unwrap_or_default();
    let collected_at = second_precision(now);
    let mut document = Staleness {
        collected: collected_at.clone(),
        ..Staleness::default()
    };
    let fresh: BTreeSet<&str> = collected.iter().map(|(name, _)| *name).collect();
    for (ecosystem, part) in &previous.ecosystems {
        if !fresh.contains(ecosystem.as_str()) {
            document
                .as_of
                .insert(ecosystem.clone(), previous.as_of(ecosystem).to_owned());
            document.ecosystems.insert(ecosystem.clone(), part.clone());
        }
    }
    for (ecosystem, part) in collected {
        let mut part = part.clone();
        part.sort_by(|a, b| a.name.cmp(&b.name));
        part.dedup_by(|a, b| a.name == b.name);
        document
            .as_of
            .insert((*ecosystem).to_owned(), collected_at.clone());
        document.ecosystems.insert((*ecosystem).to_owned(), part);
    }
    serde_json::to_value(&document).unwrap_or(serde_json::Value::Null)
}

/// `time` in RFC 3339 to the second, as every date of the document is.
fn second_precision(time: jiff::Timestamp) -> String {
    jiff::Timestamp::from_second(time.as_second())
        .unwrap_or(time)
        .to_string()
}

/// The staleness entry of the generation a collect commits: its document
/// (see [`staleness_document`]) stored as a blob. Parts of ecosystems not
/// collected now are kept only for the names `entries` (the new
/// generation, without its site documents) still carries, so that a part
/// never outlives its packages. `None` when there is nothing to record
/// (no ecosystem records upstream versions and no previous document).
pub(crate) fn staleness_entry(
    ecosystems: &Registry,
    store: &airlift_store::Store,
    entries: &[Entry],
    previous: &[Entry],
    collected: &[(&'static str, Vec<UpstreamVersions>)],
) -> Result<Option<Entry>, Failure> {
    use std::io::Write as _;
    let before = read_staleness(store, previous)?;
    if before.is_none() && collected.iter().all(|(_, part)| part.is_empty()) {
        return Ok(None);
    }
    let before = before.map(|document| {
        let mut document = document;
        let carried = carried_names(ecosystems, entries);
        for (ecosystem, part) in &mut document.ecosystems {
            part.retain(|u| carried.contains(&(ecosystem.clone(), u.name.clone())));
        }
        document.ecosystems.retain(|_, part| !part.is_empty());
        serde_json::to_value(&document).unwrap_or(serde_json::Value::Null)
    });
    let mut document = staleness_document(before.as_ref(), collected, now()?);
    // An ecosystem that carries nothing now has nothing to record.
    if let Some(parts) = document
        .get_mut("ecosystems")
        .and_then(serde_json::Value::as_object_mut)
    {
        let empty: Vec<String> = parts
            .iter()
            .filter(|(_, part)| part.as_array().is_some_and(Vec::is_empty))
            .map(|(name, _)| name.clone())
            .collect();
        for name in &empty {
            parts.remove(name);
        }
        if let Some(as_of) = document
            .get_mut("as_of")
            .and_then(serde_json::Value::as_object_mut)
        {
            for name in &empty {
                as_of.remove(name);
            }
        }
    }
    if document["ecosystems"]
        .as_object()
        .is_none_or(serde_json::Map::is_empty)
    {
        return Ok(None);
    }
    let mut bytes = serde_json::to_vec_pretty(&document).map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot encode the staleness document: {e}"),
        )
    })?;
    bytes.push(b'\n');
    let mut writer = store.blobs.writer()?;
    writer.write_all(&bytes).map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot store the staleness document: {e}"),
        )
    })?;
    let (digest, size) = writer.commit(None)?;
    let names: usize = document["ecosystems"].as_object().map_or(0, |parts| {
        parts
            .values()
            .filter_map(|p| p.as_array())
            .map(Vec::len)
            .sum()
    });
    Ok(Some(Entry {
        ecosystem: SITE.into(),
        key: STALENESS.into(),
        digest,
        size,
        meta: serde_json::json!({
            "collected": document["collected"],
            "names": names,
        }),
    }))
}

/// Every (ecosystem, package name) that `entries` carries.
fn carried_names(ecosystems: &Registry, entries: &[Entry]) -> BTreeSet<(String, String)> {
    let mut names = BTreeSet::new();
    for entry in entries {
        if let Some(ecosystem) = ecosystems.iter().find(|e| e.name() == entry.ecosystem)
            && let Some(package) = ecosystem.package(entry)
        {
            names.insert((entry.ecosystem.clone(), package.name));
        }
    }
    names
}

/// The staleness document among a generation's `entries`, read from the
/// store; `None` when the generation carries none.
pub(crate) fn read_staleness(
    store: &airlift_store::Store,
    entries: &[Entry],
) -> Result<Option<Staleness>, Failure> {
    use std::io::Read as _;
    let Some(entry) = entries
        .iter()
        .find(|e| e.ecosystem == SITE && e.key == STALENESS)
    else {
        return Ok(None);
    };
    let damaged = |detail: String| {
        Failure::new(
            Exit::Damaged,
            format!(
                "the staleness document {SITE}:{STALENESS} (blob {}): {detail}",
                entry.digest
            ),
        )
        .hint("run airlift fsck")
    };
    if entry.size > MAX_DOCUMENT_BYTES {
        return Err(damaged(format!(
            "{} bytes, over the {MAX_DOCUMENT_BYTES} a staleness document may have",
            entry.size
        )));
    }
    let reader = store
        .blobs
        .open(&entry.digest)
        .map_err(|e| damaged(e.to_string()))?;
    let mut bytes = Vec::new();
    reader
        .take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| damaged(e.to_string()))?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(damaged(format!(
            "over the {MAX_DOCUMENT_BYTES} bytes a staleness document may have"
        )));
    }
    let mut document: Staleness = serde_json::from_slice(&bytes)
        .map_err(|e| damaged(format!("not a staleness document: {e}")))?;
    // Whatever wrote it, lookups need the names sorted and the lists
    // bounded as collect writes them.
    for part in document.ecosystems.values_mut() {
        part.sort_by(|a, b| a.name.cmp(&b.name));
        for upstream in part.iter_mut() {
            if upstream.versions.len() > UPSTREAM_VERSIONS_LIMIT {
                let excess = upstream.versions.len() - UPSTREAM_VERSIONS_LIMIT;
                upstream.versions.drain(..excess);
            }
        }
    }
    Ok(Some(document))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn upstream(name: &str, versions: &[&str]) -> UpstreamVersions {
        UpstreamVersions {
            name: name.into(),
            versions: versions.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn a_document_is_sorted_and_the_same_for_the_same_data() {
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let collected = [
            (
                "pypi",
                vec![upstream("zeta", &["2"]), upstream("alpha", &[])],
            ),
            ("cargo", vec![upstream("serde", &["1.0.1"])]),
        ];
        let document = staleness_document(None, &collected, now);
        assert_eq!(
            document,
            serde_json::json!({
                "collected": "2023-11-14T22:13:20Z",
                "ecosystems": {
                    "cargo": [{"name": "serde", "versions": ["1.0.1"]}],
                    "pypi": [{"name": "alpha", "versions": []}, {"name": "zeta", "versions": ["2"]}],
                },
                "as_of": {"cargo": "2023-11-14T22:13:20Z", "pypi": "2023-11-14T22:13:20Z"},
            })
        );
        let reversed = [collected[1].clone(), collected[0].clone()];
        assert_eq!(
            serde_json::to_vec(&staleness_document(None, &reversed, now)).unwrap(),
            serde_json::to_vec(&document).unwrap()
        );
    }

    #[test]
    fn an_ecosystem_not_collected_now_keeps_its_part_and_date() {
        let first = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let later = jiff::Timestamp::from_second(1_700_086_400).unwrap();
        let previous = staleness_document(
            None,
            &[
                ("pypi", vec![upstream("flask", &["3.1"])]),
                ("npm", vec![upstream("left-pad", &["2.0.0"])]),
            ],
            first,
        );
        let next = staleness_document(
            Some(&previous),
            &[("pypi", vec![upstream("flask", &["3.2"])])],
            later,
        );
        let next: Staleness = serde_json::from_value(next).unwrap();
        assert_eq!(next.collected, "2023-11-15T22:13:20Z");
        assert_eq!(next.versions("pypi", "flask").unwrap(), ["3.2"]);
        assert_eq!(next.as_of("pypi"), "2023-11-15T22:13:20Z");
        assert_eq!(next.versions("npm", "left-pad").unwrap(), ["2.0.0"]);
        assert_eq!(next.as_of("npm"), "2023-11-14T22:13:20Z");
        assert_eq!(next.versions("npm", "right-pad"), None);
    }

    #[test]
    fn a_document_that_is_not_one_or_too_big_is_refused_naming_its_blob() {
        use std::io::Write as _;
        let home = tempfile::tempdir().unwrap();
        let store = airlift_store::Store::open_embedded(home.path()).unwrap();
        let store_bytes = |bytes: &[u8]| {
            let mut writer = store.blobs.writer().unwrap();
            writer.write_all(bytes).unwrap();
            writer.commit(None).unwrap()
        };
        let entry = |(digest, size): (airlift_core::Digest, u64)| Entry {
            ecosystem: SITE.into(),
            key: STALENESS.into(),
            digest,
            size,
            meta: serde_json::json!({}),
        };
        assert!(read_staleness(&store, &[]).unwrap().is_none());
        let garbage = entry(store_bytes(b"{\"collected\": 7}"));
        let failure = read_staleness(&store, std::slice::from_ref(&garbage)).unwrap_err();
        assert!(
            failure.message.contains(&garbage.digest.to_string())
                && failure.message.contains("not a staleness document"),
            "{}",
            failure.message
        );
        let mut huge = entry(store_bytes(b"{}"));
        huge.size = MAX_DOCUMENT_BYTES + 1;
        let failure = read_staleness(&store, &[huge]).unwrap_err();
        assert!(failure.message.contains("over the"), "{}", failure.message);
        let good = staleness_document(
            None,
            &[("npm", vec![upstream("b", &["2.0.0"]), upstream("a", &[])])],
            jiff::Timestamp::from_second(0).unwrap(),
        );
        let good = entry(store_bytes(&serde_json::to_vec(&good).unwrap()));
        let read = read_staleness(&store, &[good]).unwrap().unwrap();
        assert_eq!(read.versions("npm", "b").unwrap(), ["2.0.0"]);
        assert_eq!(read.versions("npm", "a").unwrap(), Vec::<String>::new());
    }
}
