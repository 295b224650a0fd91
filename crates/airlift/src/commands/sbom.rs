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
//! It only reads the index, so like `status` it is not recorded in the
//! audit log.

use airlift_ecosystem::Package;

use super::*;
use crate::cli::SbomFormat;

/// One package of the SBOM.
#[derive(Serialize)]
struct Component {
    /// A reference unique in the generation: `<ecosystem>:<key>` (two
    /// entries can share a package URL, such as one image in two
    /// repositories of the same name).
    reference: String,
    package: Package,
    /// (CycloneDX algorithm name, lowercase hex).
    hashes: Vec<(&'static str, String)>,
}

/// What `airlift sbom --out` reports.
#[derive(Serialize)]
struct Summary {
    format: &'static str,
    out: Option<PathBuf>,
    components: usize,
}

pub(crate) fn sbom(context: &Context, args: SbomArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let Some(generation) = store.meta.current()? else {
        return Err(
            Failure::new(Exit::Failed, "this home has no generation yet")
                .hint("collect or import a bundle first"),
        );
    };
    let mut components = Vec::new();
    for entry in store.meta.entries(generation.id, None)? {
        let Some(ecosystem) = context
            .ecosystems
            .iter()
            .find(|e| e.name() == entry.ecosystem)
        else {
            continue;
        };
        let Some(package) = ecosystem.package(&entry) else {
            continue;
        };
        let mut hashes = vec![("SHA-256", entry.digest.hex())];
        if let Some(upstream) = package.digest.as_deref().and_then(upstream_hash)
            && !hashes.iter().any(|(alg, _)| *alg == upstream.0)
        {
            hashes.push(upstream);
        }
        components.push(Component {
            reference: format!("{}:{}", entry.ecosystem, entry.key),
            package,
            hashes,
        });
    }
    components.sort_by(|a, b| a.reference.cmp(&b.reference));

    // Whole seconds: SPDX allows no fraction.
    let now = now()?;
    let created = jiff::Timestamp::from_second(now.as_second())
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot read the clock: {e}")))?
        .to_string();
    let format = match args.format {
        SbomFormat::Cyclonedx => "cyclonedx",
        SbomFormat::Spdx => "spdx",
    };
    let serial = content_uuid(format, &components)?;
    let document = match args.format {
        SbomFormat::Cyclonedx => cyclonedx(&components, &serial, &created),
        SbomFormat::Spdx => spdx(&components, &serial, &created, generation.id),
    };
    let mut text = serde_json::to_string_pretty(&document)
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot encode the SBOM: {e}")))?;
    match &args.out {
        None => context.print_line(&text),
        Some(path) => {
            text.push('\n');
            airlift_core::write_file_durably(path, text.as_bytes()).map_err(|e| {
                Failure::new(
                    Exit::Failed,
                    format!("cannot write {}: {e}", path.display()),
                )
            })?;
            let summary = Summary {
                format,
                out: Some(path.clone()),
                components: components.len(),
            };
            context.emit(&summary, || {
                format!(
                    "wrote a {} SBOM of {} packages (generation {}) to {}",
                    if format == "spdx" {
                        "SPDX 2.3"
                    } else {
                        "CycloneDX 1.6"
                    },
                    components.len(),
                    generation.id,
                    path.display()
                )
            })
        }
    }
}

/// The upstream's digest as a (CycloneDX algorithm, hex) pair: `sha256:…`
/// and `sha512:…` as OCI writes them, or an SRI string (`sha512-<base64>`)
/// as npm does. Anything else is left out.
fn upstream_hash(digest: &str) -> Option<(&'static str, String)> {
    if let Some((algorithm, hex)) = digest.split_once(':') {
        let algorithm = match algorithm {
            "sha256" => "SHA-256",
            "sha512" => "SHA-512",
            _ => return None,
        };
        let valid = hex.len() == if algorithm == "SHA-256" { 64 } else { 128 }
            && hex.bytes().all(|b| b.is_ascii_hexdigit());
        return valid.then(|| (algorithm, hex.to_ascii_lowercase()));
    }
    match airlift_core::Integrity::parse_sri(digest)? {
        airlift_core::Integrity::Sha512(bytes) => Some(("SHA-512", to_hex(&bytes))),
        airlift_core::Integrity::Sha1(bytes) => Some(("SHA-1", to_hex(&bytes))),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A UUID named by the format and the components (version 5 and RFC 4122 variant bits,
/// as CycloneDX's schema asks, over the first 16 bytes of their SHA-256),
/// so the same generation has the same serial number.
fn content_uuid(format: &str, components: &[Component]) -> Result<String, Failure> {
    let mut bytes = format!("airlift sbom {format}\n").into_bytes();
    serde_json::to_writer(&mut bytes, components)
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot encode the SBOM: {e}")))?;
    let digest = airlift_core::Digest::of(&bytes);
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest.as_bytes()[..16]);
    id[6] = (id[6] & 0x0f) | 0x50;
    id[8] = (id[8] & 0x3f) | 0x80;
    let hex = to_hex(&id);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// The CycloneDX component type a package URL's type suggests.
fn cyclonedx_type(purl: &str) -> &'static str {
    if purl.starts_with("pkg:oci/") {
        "container"
    } else if purl.starts_with("pkg:generic/") {
        "file"
    } else {
        "library"
    }
}

fn cyclonedx(components: &[Component], serial: &str, created: &str) -> serde_json::Value {
    let components: Vec<serde_json::Value> = components
        .iter()
        .map(|c| {
            let mut component = serde_json::json!({
                "type": cyclonedx_type(&c.package.purl),
                "bom-ref": c.reference,
                "name": c.package.name,
            });
            if !c.package.version.is_empty() {
                component["version"] = c.package.version.clone().into();
            }
            component["hashes"] = c
                .hashes
                .iter()
                .map(|(alg, content)| serde_json::json!({"alg": alg, "content": content}))
                .collect();
            component["purl"] = c.package.purl.clone().into();
            component
        })
        .collect();
    serde_json::json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{serial}"),
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "airlift",
                    "version": env!("CARGO_PKG_VERSION"),
                }],
            },
        },
        "components": components,
    })
}

/// SPDX's checksum algorithm names for CycloneDX's.
fn spdx_algorithm(cyclonedx: &str) -> &'static str {
    match cyclonedx {
        "SHA-512" => "SHA512",
        "SHA-1" => "SHA1",
        _ => "SHA256",
    }
}

fn spdx(
    components: &[Component],
    serial: &str,
    created: &str,
    generation: u64,
) -> serde_json::Value {
    // SPDX identifiers allow letters, digits, `.` and `-`: a hash of the
    // reference keeps them unique and stable across generations.
    let id = |c: &Component| {
        format!(
            "SPDXRef-Package-{}",
            &airlift_core::Digest::of(c.reference.as_bytes()).hex()[..32]
        )
    };
    let packages: Vec<serde_json::Value> = components
        .iter()
        .map(|c| {
            let mut package = serde_json::json!({
                "SPDXID": id(c),
                "name": c.package.name,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
            });
            if !c.package.version.is_empty() {
                package["versionInfo"] = c.package.version.clone().into();
            }
            package["checksums"] = c
                .hashes
                .iter()
                .map(|(alg, value)| {
                    serde_json::json!({"algorithm": spdx_algorithm(alg), "checksumValue": value})
                })
                .collect();
            package["externalRefs"] = serde_json::json!([{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": c.package.purl,
            }]);
            package
        })
        .collect();
    let relationships: Vec<serde_json::Value> = components
        .iter()
        .map(|c| {
            serde_json::json!({
                "spdxElementId": "SPDXRef-DOCUMENT",
                "relationshipType": "DESCRIBES",
                "relatedSpdxElement": id(c),
            })
        })
        .collect();
    serde_json::json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("airlift generation {generation}"),
        "documentNamespace": format!("urn:uuid:{serial}"),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: airlift-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_digests_become_cyclonedx_hashes() {
        assert_eq!(
            upstream_hash(&format!("sha256:{}", "A".repeat(64))),
            Some(("SHA-256", "a".repeat(64)))
        );
        assert_eq!(upstream_hash("sha256:short"), None);
        assert_eq!(upstream_hash("md5:00"), None);
        // `sha512-` then the base64 of 64 zero bytes.
        let sri = format!("sha512-{}==", "A".repeat(86));
        assert_eq!(upstream_hash(&sri), Some(("SHA-512", "0".repeat(128))));
    }
}
