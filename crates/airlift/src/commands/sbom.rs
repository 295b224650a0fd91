//! `airlift sbom`: a software bill of materials of the current generation,
//! as CycloneDX 1.6 or SPDX 2.3 JSON.
//!
//! Every entry is offered to the ecosystem that recorded it (through the
//! registry, so no ecosystem is named here); what `Ecosystem::package`
//! recognises becomes a component with its package URL and hashes: the
//! SHA-256 of the blob the store holds and, when the upstream published a
//! digest of another algorithm (npm's SHA-512 `integrity`), that one too.
//! The document is deterministic: components are sorted, the serial number
//! is derived from them, and the timestamp comes from `SOURCE_DATE_EPOCH`
//! when it is set, so the same generation gives the same bytes.
//!
//! Each component has the licences its package's metadata states and,
//! where its ecosystem knows them (`Ecosystem::dependencies`), the
//! components of the same generation it depends on.
//!
//! It only reads the index, so like `status` it is not recorded in the
//! audit log.

use airlift_sbom::{Component, Describes, Hash, Kind};
use airlift_store::Entry;

use super::*;
use crate::cli::SbomFormat;

/// What `airlift sbom --out` reports.
#[derive(Serialize)]
struct Summary {
    format: &'static str,
    out: Option<PathBuf>,
    components: usize,
}

/// The references (`{ecosystem}:{key}`) of what each of `entries`
/// depends on, as its ecosystem's `dependencies` tells from the
/// generation's entries of that ecosystem; a list per entry, in the order
/// `entries` is left in (sorted by ecosystem, so that each ecosystem's
/// entries are one slice). Only entries that are components are named.
fn dependency_references(ecosystems: &Registry, entries: &mut [Entry]) -> Vec<Vec<String>> {
    entries.sort_by(|a, b| a.ecosystem.cmp(&b.ecosystem));
    let mut references = vec![Vec::new(); entries.len()];
    let mut start = 0;
    for group in entries.chunk_by(|a, b| a.ecosystem == b.ecosystem) {
        let offset = start;
        start += group.len();
        let Some(ecosystem) = ecosystems.iter().find(|e| e.name() == group[0].ecosystem) else {
            continue;
        };
        let components: Vec<bool> = group
            .iter()
            .map(|entry| ecosystem.package(entry).is_some())
            .collect();
        for (from, to) in ecosystem.dependencies(group) {
            let (Some(true), Some(true)) = (components.get(from), components.get(to)) else {
                continue;
            };
            let dependency = &group[to];
            let reference = format!("{}:{}", dependency.ecosystem, dependency.key);
            let list: &mut Vec<String> = &mut references[offset + from];
            if !list.contains(&reference) {
                list.push(reference);
            }
        }
    }
    for list in &mut references {
        list.sort();
    }
    references
}

pub(crate) fn sbom(context: &Context, args: SbomArgs) -> Result<(), Failure> {
    if let Some(reference) = &args.image {
        return image_sbom(context, &args, reference);
    }
    // What is described: the generation served, or a bundle before it is
    // imported (verified first).
    let (described, components) = match &args.bundle {
        Some(bundle) => {
            let ecosystems = context.ecosystems.clone();
            let (id, components) = read_verified_bundle(context, bundle, move |input| {
                Ok(components_of(&ecosystems, input.entries))
            })?;
            (format!("bundle {id}"), components)
        }
        None => {
            let store = context.store()?;
            let generation = current_generation(&store, "collect or import a bundle first")?;
            let entries = store.meta.entries(generation.id, None)?;
            (
                format!("generation {}", generation.id),
                components_of(&context.ecosystems, &entries),
            )
        }
    };

    let format = match args.format {
        SbomFormat::Cyclonedx => "cyclonedx",
        SbomFormat::Spdx => "spdx",
    };
    let describes = Describes {
        name: format!("airlift {described}"),
        created: sbom_created()?,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let document = match args.format {
        SbomFormat::Cyclonedx => airlift_sbom::cyclonedx(&components, &describes),
        SbomFormat::Spdx => airlift_sbom::spdx(&components, &describes),
    };
    write_sbom(
        context,
        &document,
        args.out.as_deref(),
        |path| Summary {
            format,
            out: Some(path.to_path_buf()),
            components: components.len(),
        },
        |path| {
            format!(
                "wrote a {} SBOM of {} packages ({described}) to {}",
                format_title(format),
                components.len(),
                path.display()
            )
        },
    )
}

/// When an SBOM is created: now, or `SOURCE_DATE_EPOCH` when set, in whole
/// seconds (SPDX allows no fraction).
pub(crate) fn sbom_created() -> Result<String, Failure> {
    let now = now()?;
    Ok(jiff::Timestamp::from_second(now.as_second())
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot read the clock: {e}")))?
        .to_string())
}

/// What people call a format (`CycloneDX 1.6`).
pub(crate) fn format_title(format: &str) -> &'static str {
    if format == "spdx" {
        "SPDX 2.3"
    } else {
        "CycloneDX 1.6"
    }
}

/// Prints `document` on standard output, or writes it to `out` (replacing
/// it, durably) and reports what `summary` and `line` say of it.
pub(crate) fn write_sbom<S: Serialize>(
    context: &Context,
    document: &serde_json::Value,
    out: Option<&Path>,
    summary: impl FnOnce(&Path) -> S,
    line: impl FnOnce(&Path) -> String,
) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(document)
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot encode the SBOM: {e}")))?;
    match out {
        None => context.print_line(&text),
        Some(path) => {
            text.push('\n');
            write_output(path, text.as_bytes())?;
            context.emit(&summary(path), || line(path))
        }
    }
}

/// The packages among `entries` that the registered ecosystems recognise,
/// as SBOM components (sorted): the SHA-256 of the blob the store holds
/// and, when the upstream published a digest of another algorithm, that
/// one too.
pub(crate) fn components_of(
    ecosystems: &Registry,
    entries: &[airlift_store::Entry],
) -> Vec<Component> {
    let mut components = Vec::new();
    let mut entries = entries.to_vec();
    let depends_on = dependency_references(ecosystems, &mut entries);
    for (entry, depends_on) in entries.iter().zip(depends_on) {
        let Some(ecosystem) = ecosystems.iter().find(|e| e.name() == entry.ecosystem) else {
            continue;
        };
        let Some(package) = ecosystem.package(entry) else {
            continue;
        };
        let mut hashes = vec![Hash {
            algorithm: "SHA-256",
            hex: entry.digest.hex(),
        }];
        if let Some(upstream) = package
            .digest
            .as_deref()
            .and_then(airlift_sbom::upstream_hash)
            && !hashes.iter().any(|h| h.algorithm == upstream.algorithm)
        {
            hashes.push(upstream);
        }
        components.push(Component {
            reference: format!("{}:{}", entry.ecosystem, entry.key),
            kind: Kind::of_purl(&package.purl),
            name: package.name,
            version: package.version,
            purl: package.purl,
            hashes,
            licenses: package.licenses,
            depends_on,
        });
    }
    airlift_sbom::normalize(&mut components);
    components
}

/// The SBOM entries `collect` writes with a generation of `entries`: a
/// CycloneDX and an SPDX document of its packages, stored as blobs, as
/// entries of the `site` ecosystem (served at `/sbom/`, carried in
/// bundles). When the packages are those `previous` (the last generation's
/// entries) described, its documents are kept as they are: the same
/// packages collected again give no new bytes to carry.
pub(crate) fn carried_sboms(
    ecosystems: &Registry,
    store: &airlift_store::Store,
    entries: &[airlift_store::Entry],
    previous: &[airlift_store::Entry],
) -> Result<Vec<airlift_store::Entry>, Failure> {
    use airlift_sbom::ecosystem::{CYCLONEDX, ECOSYSTEM, SPDX};
    use std::io::Write as _;
    let components = components_of(ecosystems, entries);
    let fingerprint =
        airlift_sbom::serial(concat!("site ", env!("CARGO_PKG_VERSION")), &components);
    let kept: Vec<airlift_store::Entry> = previous
        .iter()
        .filter(|e| e.ecosystem == ECOSYSTEM && (e.key == CYCLONEDX || e.key == SPDX))
        .filter(|e| e.meta["fingerprint"].as_str() == Some(fingerprint.as_str()))
        .cloned()
        .collect();
    if kept.len() == 2 {
        return Ok(kept);
    }
    let describes = Describes {
        name: "airlift collect".to_owned(),
        created: sbom_created()?,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let mut out = Vec::new();
    for (key, document) in [
        (CYCLONEDX, airlift_sbom::cyclonedx(&components, &describes)),
        (SPDX, airlift_sbom::spdx(&components, &describes)),
    ] {
        let mut bytes = serde_json::to_vec_pretty(&document)
            .map_err(|e| Failure::new(Exit::Failed, format!("cannot encode the SBOM: {e}")))?;
        bytes.push(b'\n');
        let mut writer = store.blobs.writer()?;
        writer
            .write_all(&bytes)
            .map_err(|e| Failure::new(Exit::Failed, format!("cannot store the SBOM: {e}")))?;
        let (digest, size) = writer.commit(None)?;
        out.push(airlift_store::Entry {
            ecosystem: ECOSYSTEM.into(),
            key: key.into(),
            digest,
            size,
            meta: serde_json::json!({
                "components": components.len(),
                "fingerprint": fingerprint,
            }),
        });
    }
    Ok(out)
}
