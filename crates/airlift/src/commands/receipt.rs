//! `airlift receipt export` (isolated side) and `airlift wanted` (connected
//! side): the signed receipt, with the blobs the site holds and what its
//! clients asked for, and the `airlift.toml` lines that would carry it.
//!
//! The server counts reads of names ([`airlift_server::consumption`]);
//! here they are shaped against the current generation: a name the
//! generation carries is not wanted even if a file of it was answered 404,
//! and a carried name that no client fetched since the counts began is
//! unused. Each ecosystem writes its own lines
//! ([`airlift_ecosystem::Ecosystem::wanted_config`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;

use airlift_bundle::{RECEIPT_WANTED_MAX, UnusedName, WantedName};

use super::*;

/// The largest receipt read: a site of millions of blobs stays below it.
const MAX_RECEIPT_BYTES: u64 = 1 << 30;

pub(crate) fn receipt_export(context: &Context, out: &Path) -> Result<(), Failure> {
    let store = context.store()?;
    let blobs: Vec<String> = store
        .blobs
        .list()?
        .iter()
        .map(airlift_core::Digest::hex)
        .collect();
    let consumption = consumption(context, &store)?;
    let payload = airlift_bundle::Receipt {
        format: airlift_bundle::RECEIPT_FORMAT.to_owned(),
        created: now()?.to_string(),
        last_bundle: store
            .meta
            .state(airlift_store::state_keys::LAST_BUNDLE_ID)?,
        last_bundle_version: store
            .meta
            .state(airlift_store::state_keys::LAST_BUNDLE_VERSION)?,
        blobs,
        wanted: consumption.wanted.clone(),
        unused: consumption.unused.clone(),
        counted_since: consumption.since.clone(),
    };
    let signed =
        airlift_audit::Log::new(context.layout.home())
            .sign(&serde_json::to_value(&payload).map_err(|e| {
                Failure::new(Exit::Failed, format!("cannot encode the receipt: {e}"))
            })?)
            .map_err(|e| Failure::new(Exit::Failed, e.to_string()))?;
    if out.exists() {
        return Err(Failure::input(format!("{} already exists", out.display())));
    }
    airlift_core::write_file_durably(out, &signed)
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot write {}: {e}", out.display())))?;
    context.audit(
        "receipt-export",
        &serde_json::json!({
            "out": out,
            "blobs": payload.blobs.len(),
            "wanted": payload.wanted.len(),
            "unused": payload.unused.len(),
        }),
    )?;
    context.emit(
        &serde_json::json!({
            "receipt": out,
            "blobs": payload.blobs.len(),
            "wanted": payload.wanted.len(),
            "wanted_total": consumption.wanted_total,
            "unused": payload.unused.len(),
            "unused_total": consumption.unused_total,
            "counted_since": payload.counted_since,
        }),
        || {
            let mut line = format!(
                "wrote a receipt of {} blobs to {}; carry it to the connected side for `airlift pack --receipt`",
                payload.blobs.len(),
                out.display()
            );
            if !payload.wanted.is_empty() {
                line.push_str(&format!(
                    "\nit lists {} names asked for here and not carried (`airlift wanted` there turns them into airlift.toml lines)",
                    payload.wanted.len()
                ));
            }
            line
        },
    )
}

/// What the site's clients asked for, shaped for a receipt.
pub(crate) struct Consumption {
    /// Names asked for and not carried, most asked for first, at most
    /// [`RECEIPT_WANTED_MAX`].
    pub wanted: Vec<WantedName>,
    /// Of how many.
    pub wanted_total: usize,
    /// Carried names nobody fetched, at most [`RECEIPT_WANTED_MAX`].
    pub unused: Vec<UnusedName>,
    /// Of how many.
    pub unused_total: usize,
    /// When counting began (RFC 3339), if it has.
    pub since: Option<String>,
}

/// The server's counts against the current generation's names.
pub(crate) fn consumption(context: &Context, store: &Store) -> Result<Consumption, Failure> {
    let (records, damaged) = airlift_server::consumption::read(&*store.meta)
        .map_err(|e| Failure::new(Exit::Failed, e.to_string()))?;
    for e in damaged {
        tracing::warn!("{e}: its counts are left out of the receipt");
    }
    // Every carried name, by ecosystem, as each ecosystem names requests;
    // and those of packages (not the site's SBOMs, not advisory records),
    // which are what can go unused.
    let mut carried: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut packages: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    if let Some(generation) = store.meta.current()? {
        for entry in store.meta.entries(generation.id, None)? {
            let Some(ecosystem) = context
                .ecosystems
                .iter()
                .find(|e| e.name() == entry.ecosystem)
            else {
                continue;
            };
            if let Some(name) = ecosystem.entry_name(&entry) {
                if ecosystem.package(&entry).is_some() {
                    packages
                        .entry(ecosystem.name())
                        .or_default()
                        .insert(name.clone());
                }
                carried.entry(ecosystem.name()).or_default().insert(name);
            }
        }
    }
    let time = |seconds: i64| {
        jiff::Timestamp::from_second(seconds)
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    let mut wanted: Vec<(u64, i64, WantedName)> = Vec::new();
    for (ecosystem, record) in &records {
        let names = carried.get(ecosystem.as_str());
        for (name, count) in &record.wanted {
            if names.is_some_and(|names| names.contains(name)) {
                continue;
            }
            wanted.push((
                count.requests,
                count.last_seen,
                WantedName {
                    ecosystem: ecosystem.clone(),
                    name: name.clone(),
                    requests: count.requests,
                    last_seen: time(count.last_seen),
                },
            ));
        }
    }
    wanted.sort_by(|(a_requests, a_seen, a), (b_requests, b_seen, b)| {
        b_requests
            .cmp(a_requests)
            .then(b_seen.cmp(a_seen))
            .then(a.ecosystem.cmp(&b.ecosystem))
            .then(a.name.cmp(&b.name))
    });
    let wanted_total = wanted.len();
    let wanted = wanted
        .into_iter()
        .take(RECEIPT_WANTED_MAX)
        .map(|(_, _, w)| w)
        .collect();
    // Unused only once counting began; an ecosystem with no record was
    // never read since then.
    let since = records
        .values()
        .map(|r| r.since)
        .filter(|since| *since > 0)
        .min();
    let mut unused = Vec::new();
    if since.is_some() {
        for (ecosystem, names) in &packages {
            let fetched = records.get(*ecosystem).map(|r| &r.fetched);
            for name in names {
                if !fetched.is_some_and(|f| f.contains_key(name)) {
                    unused.push(UnusedName {
                        ecosystem: (*ecosystem).to_owned(),
                        name: name.clone(),
                    });
                }
            }
        }
    }
    let unused_total = unused.len();
    unused.truncate(RECEIPT_WANTED_MAX);
    Ok(Consumption {
        wanted,
        wanted_total,
        unused,
        unused_total,
        since: since.map(time),
    })
}

/// Reads a receipt made by `airlift receipt export` and checks its
/// signature (`pack --receipt` and `airlift wanted`).
pub(crate) fn read_receipt(receipt: &Path) -> Result<airlift_bundle::Receipt, Failure> {
    let cannot =
        |e: std::io::Error| Failure::input(format!("cannot read {}: {e}", receipt.display()));
    let mut text = Vec::new();
    std::fs::File::open(receipt)
        .map_err(cannot)?
        .take(MAX_RECEIPT_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > MAX_RECEIPT_BYTES {
        return Err(Failure::input(format!(
            "{}: larger than {MAX_RECEIPT_BYTES} bytes, not a receipt",
            receipt.display()
        )));
    }
    let payload = airlift_audit::open_signed(&text).map_err(|e| {
        Failure::input(format!("{}: {e}", receipt.display()))
            .hint("make it with `airlift receipt export` on the isolated side")
    })?;
    airlift_bundle::Receipt::from_payload(payload, receipt)
        .map_err(|e| Failure::input(e.to_string()))
}

/// "1 name", "2 names".
fn counted(count: u64, what: &str) -> String {
    if count == 1 {
        format!("1 {what}")
    } else {
        format!("{count} {what}s")
    }
}

/// `airlift wanted RECEIPT`: what the isolated side asked for and did not
/// have, by ecosystem, with the `airlift.toml` lines that would carry it.
pub(crate) fn wanted(context: &Context, path: &Path) -> Result<(), Failure> {
    let receipt = read_receipt(path)?;
    let mut by_ecosystem: BTreeMap<&str, Vec<&WantedName>> = BTreeMap::new();
    for wanted in &receipt.wanted {
        by_ecosystem
            .entry(wanted.ecosystem.as_str())
            .or_default()
            .push(wanted);
    }
    let mut config = BTreeMap::new();
    for (ecosystem, wanted) in &by_ecosystem {
        let names: Vec<String> = wanted.iter().map(|w| w.name.clone()).collect();
        let lines = context
            .ecosystems
            .iter()
            .find(|e| e.name() == *ecosystem)
            .and_then(|e| e.wanted_config(&names));
        config.insert(*ecosystem, lines);
    }
    let mut unused: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for name in &receipt.unused {
        unused
            .entry(name.ecosystem.as_str())
            .or_default()
            .push(name.name.as_str());
    }
    context.emit(
        &serde_json::json!({
            "receipt": path,
            "created": receipt.created,
            "counted_since": receipt.counted_since,
            "wanted": receipt.wanted,
            "unused": receipt.unused,
            "config": config,
        }),
        || {
            let mut text = format!(
                "receipt {} made {}{}: {} names asked for and not carried",
                path.display(),
                receipt.created,
                receipt
                    .counted_since
                    .as_ref()
                    .map(|since| format!(", counting since {since}"))
                    .unwrap_or_default(),
                receipt.wanted.len()
            );
            for (ecosystem, wanted) in &by_ecosystem {
                let requests: u64 = wanted.iter().map(|w| w.requests).sum();
                text.push_str(&format!(
                    "\n\n{ecosystem}: {}, {}\n",
                    counted(wanted.len() as u64, "name"),
                    counted(requests, "request")
                ));
                for name in wanted {
                    text.push_str(&format!(
                        "  {} ({}, last {})\n",
                        name.name,
                        counted(name.requests, "request"),
                        name.last_seen
                    ));
                }
                match config.get(ecosystem).and_then(Option::as_ref) {
                    Some(lines) => {
                        text.push('\n');
                        text.push_str(lines.trim_end());
                    }
                    None => text.push_str(&format!(
                        "  (this airlift knows no airlift.toml table for {ecosystem})"
                    )),
                }
            }
            for (ecosystem, names) in &unused {
                let shown: Vec<&str> = names.iter().take(20).copied().collect();
                text.push_str(&format!(
                    "\n\n{ecosystem}: {} carried names not fetched since counting began: {}{}",
                    names.len(),
                    shown.join(", "),
                    if names.len() > shown.len() {
                        ", …"
                    } else {
                        ""
                    }
                ));
            }
            text
        },
    )
}
