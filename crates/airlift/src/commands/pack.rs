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
    context.layout.ledger(destination).ok_or_else(|| {
        Failure::input(format!(
            "--destination {destination:?}: use letters, digits, '-', '_' and '.'"
        ))
    })
}

/// A ledger or last-pack record that cannot be used: the operation fails.
fn ledger_failure(error: airlift_bundle::LedgerError) -> Failure {
    Failure::new(Exit::Failed, error.to_string())
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
    ledger: Option<&airlift_bundle::Ledger>,
) -> Result<u64, Failure> {
    let clock = now()?.as_second().max(1) as u64;
    let mut floor = 1;
    if let Some(last) = airlift_bundle::LastPack::read(&context.layout.last_pack()) {
        let generation = store.meta.current()?.map(|g| g.id);
        let same =
            generation.is_some() && last.generation == generation && last.clock == Some(clock);
        floor = floor.max(if same && ledger.is_none() {
            last.version
        } else {
            last.version + 1
        });
    }
    if let Some(version) = ledger.and_then(|l| l.version) {
        floor = floor.max(version + 1);
    }
    Ok(clock.max(floor))
}

/// Records the version, generation and clock of the bundle just packed.
pub(crate) fn record_pack(context: &Context, store: &Store, version: u64) -> Result<(), Failure> {
    airlift_bundle::LastPack {
        version,
        generation: store.meta.current()?.map(|g| g.id),
        clock: Some(now()?.as_second().max(1) as u64),
    }
    .write(&context.layout.last_pack())
    .map_err(ledger_failure)
}

pub(crate) fn pack(context: &Context, args: PackArgs) -> Result<(), Failure> {
    super::import_::timed(context, "pack", || pack_run(context, args))
}

fn pack_run(context: &Context, args: PackArgs) -> Result<(), Failure> {
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
    let previous = match &ledger {
        Some(path) => airlift_bundle::Ledger::read(path).map_err(ledger_failure)?,
        None => None,
    };
    let mut omit = std::collections::BTreeSet::new();
    let mut delta_from = None;
    // The signed pack statement: which site, which number in its sequence,
    // which bundle it follows.
    let statement = match &args.destination {
        Some(destination) => {
            let (sequence, follows) = previous
                .clone()
                .unwrap_or_default()
                .next(args.sequence)
                .map_err(|reason| {
                    let failure = Failure::input(format!(
                        "--sequence {}: for {destination:?}, {reason}",
                        args.sequence.unwrap_or_default()
                    ));
                    match reason {
                        airlift_bundle::SequenceError::Unrecorded { .. } => failure.hint(
                            "pack it with `--full` and no --sequence for a new site, or re-initialize the site",
                        ),
                        airlift_bundle::SequenceError::Beyond { .. } => failure,
                    }
                })?;
            Some(airlift_bundle::PackStatement {
                destination: destination.clone(),
                sequence,
                previous: follows,
                created: now()?.to_string(),
            })
        }
        None => None,
    };
    if let Some(receipt) = &args.receipt {
        omit = read_receipt(receipt)?
            .digests(receipt)
            .map_err(|e| Failure::input(e.to_string()))?;
        delta_from = Some(format!("receipt {}", receipt.display()));
    } else if let (Some(path), Some(previous)) = (&ledger, &previous)
        && !args.full
        && args.sequence.is_none()
    {
        omit = previous
            .digests(path)
            .map_err(|e| Failure::input(e.to_string()))?;
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
        None => Some(pack_version(context, &store, previous.as_ref())?),
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
        leave_out: if args.hosted { None } else { context.hosted()? },
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
        let sequence = report.statement.as_ref().map(|s| s.sequence);
        let mut written = previous.unwrap_or_default();
        // Which bundle had which number: a re-pack of number N follows the
        // bundle that was N-1. Numbers after a re-packed one are forgotten.
        written.record(sequence, &report.bundle_id.to_string());
        written.destination = args.destination.clone();
        written.updated = Some(now()?.to_string());
        written.last_bundle = Some(report.bundle_id.to_string());
        written.version = Some(report.version);
        written.sequence = sequence;
        written.blobs = shipped.iter().map(airlift_core::Digest::hex).collect();
        written.write(path).map_err(ledger_failure)?;
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
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot encode JSON: {e}")))?;
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
