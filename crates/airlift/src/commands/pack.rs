//! `airlift pack`.

use super::*;

/// Parses sizes such as `700M`, `4G`, `4480MiB`, `1000000` (binary units).
pub(crate) fn parse_size(text: &str) -> Result<u64, Failure> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| Failure::input(format!("size {text:?} does not start with a number")))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        "t" | "tib" | "tb" => 40,
        other => {
            return Err(Failure::input(format!(
                "size {text:?} has an unknown unit {other:?} (use K, M, G or T)"
            )));
        }
    };
    number
        .checked_mul(1u64 << shift)
        .filter(|n| *n > 0)
        .ok_or_else(|| Failure::input(format!("size {text:?} is zero or too large")))
}

/// Parses durations such as `30d`, `12h`, `90m`, `3600s`.
pub(crate) fn parse_duration(text: &str) -> Result<jiff::SignedDuration, Failure> {
    use crate::cli::DurationError;
    let units = [
        ("s", 1000),
        ("m", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
        ("", 86_400_000),
    ];
    let too_large = || Failure::input(format!("duration {text:?} is zero or too large"));
    match crate::cli::duration_millis(text.trim(), &units) {
        Ok(0) => Err(too_large()),
        Ok(millis) => i64::try_from(millis / 1000)
            .map(jiff::SignedDuration::from_secs)
            .map_err(|_| too_large()),
        Err(DurationError::NoNumber) => Err(Failure::input(format!(
            "duration {text:?} does not start with a number"
        ))),
        Err(DurationError::Unit(other)) => Err(Failure::input(format!(
            "duration {text:?} has an unknown unit {other:?} (use s, m, h or d)"
        ))),
        Err(DurationError::TooLarge) => Err(too_large()),
    }
}

/// Part sizes of the media presets.
pub(crate) fn media_size(media: &str) -> Result<u64, Failure> {
    match media {
        // A single-layer DVD±R holds 4,707,319,808 bytes; keep a margin.
        "dvd" => Ok(4_700_000_000),
        // A single-layer BD-R holds 25,025,314,816 bytes.
        "bd" => Ok(25_000_000_000),
        // FAT32's largest file.
        "usb-4g" => Ok(4_294_967_295),
        other => parse_size(other).map_err(|_| {
            Failure::input(format!(
                "--media {other:?} is not dvd, bd, usb-4g or a size such as 700M"
            ))
        }),
    }
}

pub(crate) fn ledger_path(context: &Context, destination: &str) -> Result<PathBuf, Failure> {
    if destination.is_empty()
        || destination.len() > 100
        || !destination
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || destination.starts_with('.')
    {
        return Err(Failure::input(format!(
            "--destination {destination:?}: use letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(context
        .layout
        .home()
        .join("ledger")
        .join(format!("{destination}.json")))
}

/// Blob digests in a ledger or receipt file.
pub(crate) fn read_digests(
    value: &serde_json::Value,
    what: &Path,
) -> Result<std::collections::BTreeSet<airlift_core::Digest>, Failure> {
    value
        .get("blobs")
        .and_then(|b| b.as_array())
        .ok_or_else(|| Failure::input(format!("{}: no \"blobs\" list", what.display())))?
        .iter()
        .map(|v| {
            v.as_str()
                .and_then(|h| airlift_core::Digest::from_hex(h).ok())
                .ok_or_else(|| Failure::input(format!("{}: {v} is not a SHA-256", what.display())))
        })
        .collect()
}

/// The version of the next bundle: the pack time in seconds (ADR 0005), but
/// always greater than the last version packed for the destination and than
/// this home's last pack of another generation, so two packs in one second
/// (or a clock set back) never give a site two bundles of one version.
/// Packing the same generation again at the same (declared) time keeps its
/// version, so the same store, keys and clock still give the same bytes.
pub(crate) fn pack_version(
    context: &Context,
    store: &Store,
    ledger: Option<&Path>,
) -> Result<u64, Failure> {
    let clock = now()?.as_second().max(1) as u64;
    let read = |path: &Path| -> Option<serde_json::Value> {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
    };
    let mut floor = 1;
    if let Some(last) = read(&context.layout.last_pack()) {
        let version = last["version"].as_u64().unwrap_or(0);
        let generation = store.meta.current()?.map(|g| g.id);
        let same = generation.is_some()
            && last["generation"].as_u64() == generation
            && last["clock"].as_u64() == Some(clock);
        floor = floor.max(if same && ledger.is_none() {
            version
        } else {
            version + 1
        });
    }
    if let Some(version) = ledger.and_then(read).and_then(|l| l["version"].as_u64()) {
        floor = floor.max(version + 1);
    }
    Ok(clock.max(floor))
}

/// Records the version, generation and clock of the bundle just packed.
pub(crate) fn record_pack(context: &Context, store: &Store, version: u64) -> Result<(), Failure> {
    let path = context.layout.last_pack();
    let generation = store.meta.current()?.map(|g| g.id);
    let clock = now()?.as_second().max(1) as u64;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::new(1, format!("cannot create {}: {e}", parent.display())))?;
    }
    let value = serde_json::json!({"version": version, "generation": generation, "clock": clock});
    airlift_core::write_file_durably(&path, value.to_string().as_bytes())
        .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", path.display())))
}

pub(crate) fn pack(context: &Context, args: PackArgs) -> Result<(), Failure> {
    if args.media.is_some() {
        let name = args.out.to_string_lossy();
        if !(name.ends_with(".tar") || name.ends_with(".tar.zst")) {
            return Err(Failure::input(
                "--media splits an archive: give --out a name ending in .tar or .tar.zst",
            ));
        }
    }
    let max_part_size = match (&args.media, &args.max_part_size) {
        (Some(media), _) => Some(media_size(media)?),
        (None, Some(size)) => Some(parse_size(size)?),
        (None, None) => None,
    };
    let ledger = args
        .destination
        .as_deref()
        .map(|d| ledger_path(context, d))
        .transpose()?;
    let mut omit = std::collections::BTreeSet::new();
    let mut delta_from = None;
    // The signed pack statement: which site, which number in its sequence,
    // which bundle it follows.
    let statement = match (&args.destination, &ledger) {
        (Some(destination), Some(path)) => {
            let previous: serde_json::Value = match std::fs::read(path) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .map_err(|e| Failure::new(1, format!("{}: {e}", path.display())))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Value::Null,
                Err(e) => {
                    return Err(Failure::new(
                        1,
                        format!("cannot read {}: {e}", path.display()),
                    ));
                }
            };
            let last = previous
                .get("sequence")
                .and_then(|s| s.as_u64())
                .unwrap_or(0);
            let (sequence, follows) = match args.sequence {
                None => (last + 1, previous.get("last_bundle").cloned()),
                Some(n) if n > last + 1 => {
                    return Err(Failure::input(format!(
                        "--sequence {n}: the ledger for {destination:?} is at {last}; only numbers up to {} can be packed",
                        last + 1
                    )));
                }
                Some(1) => (1, None),
                Some(n) => {
                    // The bundle that was number n-1 is the one the site
                    // last imported; the new bundle follows it.
                    let follows = previous["bundles"][(n - 1).to_string()].clone();
                    if follows.is_null() {
                        return Err(Failure::input(format!(
                            "--sequence {n}: the ledger for {destination:?} does not record which bundle was number {}",
                            n - 1
                        ))
                        .hint("pack it with `--full` and no --sequence for a new site, or re-initialize the site"));
                    }
                    (n, Some(follows))
                }
            };
            Some(serde_json::json!({
                "destination": destination,
                "sequence": sequence,
                "previous": follows,
                "created": now()?.to_string(),
            }))
        }
        _ => None,
    };
    if let Some(receipt) = &args.receipt {
        let text = std::fs::read(receipt)
            .map_err(|e| Failure::input(format!("cannot read {}: {e}", receipt.display())))?;
        let payload = airlift_audit::open_signed(&text).map_err(|e| {
            Failure::input(format!("{}: {e}", receipt.display()))
                .hint("make it with `airlift receipt export` on the isolated side")
        })?;
        if payload.get("format").and_then(|f| f.as_str()) != Some("airlift-receipt/1") {
            return Err(Failure::input(format!(
                "{}: not an airlift receipt (format airlift-receipt/1)",
                receipt.display()
            )));
        }
        omit = read_digests(&payload, receipt)?;
        delta_from = Some(format!("receipt {}", receipt.display()));
    } else if let Some(path) = ledger
        .as_ref()
        .filter(|p| p.exists() && !args.full && args.sequence.is_none())
    {
        let text = std::fs::read(path)
            .map_err(|e| Failure::new(1, format!("cannot read {}: {e}", path.display())))?;
        let value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| Failure::new(1, format!("{}: {e}", path.display())))?;
        omit = read_digests(&value, path)?;
        delta_from = Some(format!("ledger {}", path.display()));
    }
    let mut approvals = Vec::new();
    for path in &args.approved {
        let bytes = std::fs::read(path)
            .map_err(|e| Failure::input(format!("cannot read {}: {e}", path.display())))?;
        approvals.push(
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .map_err(|e| Failure::input(format!("{}: {e}", path.display())))?,
        );
    }
    if let Some(request) = approvals.first() {
        let approved = request["statement"]["destination"].as_str();
        if approved != args.destination.as_deref() {
            return Err(Failure::input(format!(
                "the approval request is for {}, this pack for {}: pack with the same --destination that was approved",
                approved.map_or_else(
                    || "no destination".to_owned(),
                    |d| format!("destination {d:?}")
                ),
                args.destination.as_deref().map_or_else(
                    || "no destination".to_owned(),
                    |d| format!("destination {d:?}")
                )
            )));
        }
    }
    let approval_request = {
        let mut name = args.out.as_os_str().to_owned();
        name.push(".approval.json");
        PathBuf::from(name)
    };
    let store = context.store()?;
    let version = match args.bundle_version {
        Some(version) => Some(version),
        None => Some(pack_version(context, &store, ledger.as_deref())?),
    };
    let options = PackOptions {
        approvals,
        approval_request: Some(approval_request),
        out: args.out,
        max_part_size,
        omit,
        statement: statement.clone(),
        now: now()?,
        version,
        valid_for: parse_duration(&args.valid_for)?,
        zstd_level: args.zstd_level,
        zstd_threads: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
    };
    let keys = SiteKeys::open(&context.layout.keys_dir())?;
    let report = airlift_bundle::pack(&store, &keys, &options, &context.bar())?;
    record_pack(context, &store, report.version)?;
    if let Some(path) = &ledger {
        // Everything the destination will have once it imports this bundle.
        let mut shipped = options.omit.clone();
        if let Some(generation) = store.meta.current()? {
            shipped.extend(
                store
                    .meta
                    .entries(generation.id, None)?
                    .iter()
                    .map(|e| e.digest),
            );
        }
        let sequence = report
            .statement
            .as_ref()
            .and_then(|s| s.get("sequence"))
            .and_then(|s| s.as_u64());
        // Which bundle had which number: a re-pack of number N follows the
        // bundle that was N-1. Numbers after a re-packed one are forgotten.
        let mut bundles = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("bundles").and_then(|b| b.as_object().cloned()))
                .unwrap_or_default(),
            Err(_) => serde_json::Map::new(),
        };
        if let Some(n) = sequence {
            bundles.retain(|k, _| k.parse::<u64>().is_ok_and(|k| k < n));
            bundles.insert(n.to_string(), serde_json::json!(report.bundle_id));
        }
        let value = serde_json::json!({
            "destination": args.destination,
            "updated": now()?.to_string(),
            "last_bundle": report.bundle_id,
            "version": report.version,
            "sequence": sequence,
            "bundles": bundles,
            "blobs": shipped.iter().map(airlift_core::Digest::hex).collect::<Vec<_>>(),
        });
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure::new(1, format!("cannot create {}: {e}", parent.display())))?;
        }
        airlift_core::write_file_durably(path, value.to_string().as_bytes())
            .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", path.display())))?;
    }
    context.audit(
        "pack",
        &serde_json::json!({
            "report": &report,
            "destination": args.destination,
            "delta_from": delta_from,
            "repacked_sequence": args.sequence,
        }),
    )?;
    // An importer removes what a bundle leaves out: say so when this
    // generation dropped entries of the one before it.
    let dropped = {
        let generations = store.meta.generations()?;
        match generations.as_slice() {
            [.., before, current] => {
                let now: std::collections::BTreeSet<(String, String)> = store
                    .meta
                    .entries(current.id, None)?
                    .into_iter()
                    .map(|e| (e.ecosystem, e.key))
                    .collect();
                store
                    .meta
                    .entries(before.id, None)?
                    .into_iter()
                    .filter(|e| !now.contains(&(e.ecosystem.clone(), e.key.clone())))
                    .count() as u64
            }
            _ => 0,
        }
    };
    let mut shown = serde_json::to_value(&report)
        .map_err(|e| Failure::new(1, format!("cannot encode JSON: {e}")))?;
    shown["dropped_entries"] = serde_json::json!(dropped);
    context.emit(&shown, || {
        let mut text = format!(
            "packed {} entries, {} blobs ({} bytes) into {} ({})\nbundle {} version {}, importable until {}",
            report.entries,
            report.blobs,
            report.blob_bytes,
            report.path.display(),
            report.form,
            report.bundle_id,
            report.version,
            report.expires
        );
        if report.omitted_blobs > 0 {
            text.push_str(&format!(
                "\ndelta: {} blobs ({} bytes) left out, the destination has them ({})",
                report.omitted_blobs,
                report.omitted_bytes,
                delta_from.as_deref().unwrap_or("")
            ));
        }
        for part in &report.parts {
            text.push_str(&format!("\n  {} {} bytes {}", part.name, part.size, part.sha256));
        }
        if dropped > 0 {
            text.push_str(&format!(
                "\nwarning: the store's current generation drops {dropped} entries of the one before; importing this bundle removes them (an import refuses to remove more than {}% unless given --allow-removals)",
                airlift_bundle::DEFAULT_MAX_REMOVAL_PERCENT
            ));
        }
        text
    })
}
