//! Software bills of materials: [`Component`]s (a package with its package
//! URL, hashes, licences and dependencies) written as CycloneDX 1.6 JSON
//! ([`cyclonedx`]) or SPDX 2.3 JSON ([`spdx`]).
//!
//! Boundary: the writers make documents from components they are given,
//! naming no ecosystem: the CLI turns index entries (through each
//! ecosystem's `package`) and the packages found inside images
//! (`airlift-inventory`) into components. [`ecosystem`] is the `site`
//! ecosystem: the documents a generation carries about itself (the SBOMs
//! collect writes, served at `/sbom/`).
//!
//! Documents are deterministic: components are sorted by reference, the
//! serial number is derived from the format and the components
//! ([`serial`]), and the creation time is the caller's, so the same
//! components at the same time give the same bytes.

pub mod ecosystem;

use serde::Serialize;

/// What a component is, as CycloneDX types it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A library or package (PyPI, crates, npm, Debian, Go modules).
    Library,
    /// A container image.
    Container,
    /// A plain file.
    File,
    /// An executable (a Go or Rust binary inside an image).
    Application,
}

impl Kind {
    /// The type a package URL suggests: `pkg:oci` is a container,
    /// `pkg:generic` a file, anything else a library.
    pub fn of_purl(purl: &str) -> Self {
        if purl.starts_with("pkg:oci/") {
            Kind::Container
        } else if purl.starts_with("pkg:generic/") {
            Kind::File
        } else {
            Kind::Library
        }
    }

    fn cyclonedx(self) -> &'static str {
        match self {
            Kind::Library => "library",
            Kind::Container => "container",
            Kind::File => "file",
            Kind::Application => "application",
        }
    }
}

/// A hash of a component: CycloneDX's algorithm name (`SHA-256`) and
/// lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hash {
    /// `SHA-1`, `SHA-256` or `SHA-512`.
    pub algorithm: &'static str,
    /// Lowercase hex.
    pub hex: String,
}

/// One package of a document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Component {
    /// A reference unique in the document (CycloneDX `bom-ref`; SPDX ids
    /// are derived from it).
    pub reference: String,
    /// What it is.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// Its version (empty for plain files).
    pub version: String,
    /// Its package URL.
    pub purl: String,
    /// Its hashes.
    pub hashes: Vec<Hash>,
    /// Licences as its metadata states them (SPDX expressions or free text).
    pub licenses: Vec<String>,
    /// The references of the components it depends on.
    pub depends_on: Vec<String>,
}

/// What a document describes and when it was made.
#[derive(Clone, Debug)]
pub struct Describes {
    /// Its name (`airlift generation 7`, `airlift image team/app@sha256:…`).
    pub name: String,
    /// RFC 3339, whole seconds (SPDX allows no fraction).
    pub created: String,
    /// The tool version to name as its creator.
    pub tool_version: String,
}

/// The upstream's digest as a [`Hash`]: `sha256:…` and `sha512:…` as OCI
/// writes them, or a subresource-integrity string (`sha512-<base64>`) as
/// npm does. Anything else is left out.
pub fn upstream_hash(digest: &str) -> Option<Hash> {
    if let Some((algorithm, hex)) = digest.split_once(':') {
        let algorithm = match algorithm {
            "sha256" => "SHA-256",
            "sha512" => "SHA-512",
            _ => return None,
        };
        let valid = hex.len() == if algorithm == "SHA-256" { 64 } else { 128 }
            && hex.bytes().all(|b| b.is_ascii_hexdigit());
        return valid.then(|| Hash {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        });
    }
    match airlift_core::Integrity::parse_sri(digest)? {
        airlift_core::Integrity::Sha512(bytes) => Some(Hash {
            algorithm: "SHA-512",
            hex: to_hex(&bytes),
        }),
        airlift_core::Integrity::Sha1(bytes) => Some(Hash {
            algorithm: "SHA-1",
            hex: to_hex(&bytes),
        }),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A UUID named by the format and the components (version 5 and RFC 4122
/// variant bits, as CycloneDX's schema asks, over the first 16 bytes of
/// their SHA-256), so the same components have the same serial number.
pub fn serial(format: &str, components: &[Component]) -> String {
    let mut bytes = format!("airlift sbom {format}\n").into_bytes();
    for component in components {
        // Serializing plain strings and vectors cannot fail.
        if let Ok(text) = serde_json::to_string(component) {
            bytes.extend_from_slice(text.as_bytes());
        }
        bytes.push(b'\n');
    }
    let digest = airlift_core::Digest::of(&bytes);
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest.as_bytes()[..16]);
    id[6] = (id[6] & 0x0f) | 0x50;
    id[8] = (id[8] & 0x3f) | 0x80;
    let hex = to_hex(&id);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Sorts components by reference and drops repeated references (the first
/// stays).
pub fn normalize(components: &mut Vec<Component>) {
    components.sort_by(|a, b| a.reference.cmp(&b.reference));
    components.dedup_by(|a, b| a.reference == b.reference);
}

/// A CycloneDX 1.6 JSON document of `components` (sorted by the caller, see
/// [`normalize`]).
pub fn cyclonedx(components: &[Component], describes: &Describes) -> serde_json::Value {
    let listed: Vec<serde_json::Value> = components
        .iter()
        .map(|c| {
            let mut component = serde_json::json!({
                "type": c.kind.cyclonedx(),
                "bom-ref": c.reference,
                "name": c.name,
            });
            if !c.version.is_empty() {
                component["version"] = c.version.clone().into();
            }
            if !c.hashes.is_empty() {
                component["hashes"] = c
                    .hashes
                    .iter()
                    .map(|h| serde_json::json!({"alg": h.algorithm, "content": h.hex}))
                    .collect();
            }
            if !c.licenses.is_empty() {
                // By name: CycloneDX's schema checks `id` against the SPDX
                // list, and metadata states licences in every form.
                component["licenses"] = c
                    .licenses
                    .iter()
                    .map(|l| serde_json::json!({"license": {"name": l}}))
                    .collect();
            }
            component["purl"] = c.purl.clone().into();
            component
        })
        .collect();
    let dependencies: Vec<serde_json::Value> = components
        .iter()
        .filter(|c| !c.depends_on.is_empty())
        .map(|c| serde_json::json!({"ref": c.reference, "dependsOn": c.depends_on}))
        .collect();
    let mut document = serde_json::json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", serial("cyclonedx", components)),
        "version": 1,
        "metadata": {
            "timestamp": describes.created,
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "airlift",
                    "version": describes.tool_version,
                }],
            },
            "component": {"type": "application", "name": describes.name},
        },
        "components": listed,
    });
    if !dependencies.is_empty() {
        document["dependencies"] = dependencies.into();
    }
    document
}

/// SPDX's checksum algorithm names for CycloneDX's.
fn spdx_algorithm(cyclonedx: &str) -> &'static str {
    match cyclonedx {
        "SHA-512" => "SHA512",
        "SHA-1" => "SHA1",
        _ => "SHA256",
    }
}

/// Licence identifiers written as SPDX `licenseDeclared` when a component
/// states exactly one of them; anything else is kept as a comment, since an
/// SPDX document may only declare expressions of known identifiers.
const SPDX_IDS: &[&str] = &[
    "0BSD",
    "Apache-2.0",
    "Artistic-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSL-1.0",
    "CC0-1.0",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "ISC",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "MIT",
    "MPL-2.0",
    "PSF-2.0",
    "Python-2.0",
    "Unicode-3.0",
    "Unlicense",
    "Zlib",
];

/// A CycloneDX-independent SPDX 2.3 JSON document of `components` (sorted
/// by the caller, see [`normalize`]).
pub fn spdx(components: &[Component], describes: &Describes) -> serde_json::Value {
    // SPDX identifiers allow letters, digits, `.` and `-`: a hash of the
    // reference keeps them unique and stable across documents.
    let id = |reference: &str| {
        format!(
            "SPDXRef-Package-{}",
            &airlift_core::Digest::of(reference.as_bytes()).hex()[..32]
        )
    };
    let packages: Vec<serde_json::Value> = components
        .iter()
        .map(|c| {
            let mut package = serde_json::json!({
                "SPDXID": id(&c.reference),
                "name": c.name,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
            });
            if !c.version.is_empty() {
                package["versionInfo"] = c.version.clone().into();
            }
            if !c.hashes.is_empty() {
                package["checksums"] = c
                    .hashes
                    .iter()
                    .map(|h| {
                        serde_json::json!({
                            "algorithm": spdx_algorithm(h.algorithm),
                            "checksumValue": h.hex,
                        })
                    })
                    .collect();
            }
            match c.licenses.as_slice() {
                [one] if SPDX_IDS.contains(&one.as_str()) => {
                    package["licenseDeclared"] = one.clone().into();
                }
                [] => {}
                many => {
                    package["licenseDeclared"] = "NOASSERTION".into();
                    package["licenseComments"] =
                        format!("as its metadata states: {}", many.join("; ")).into();
                }
            }
            package["externalRefs"] = serde_json::json!([{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": c.purl,
            }]);
            package
        })
        .collect();
    let mut relationships: Vec<serde_json::Value> = components
        .iter()
        .map(|c| {
            serde_json::json!({
                "spdxElementId": "SPDXRef-DOCUMENT",
                "relationshipType": "DESCRIBES",
                "relatedSpdxElement": id(&c.reference),
            })
        })
        .collect();
    if components.is_empty() {
        // A document must describe something; SPDX's NONE says "nothing".
        relationships.push(serde_json::json!({
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": "NONE",
        }));
    }
    let known: std::collections::BTreeSet<&str> =
        components.iter().map(|c| c.reference.as_str()).collect();
    for c in components {
        for dependency in &c.depends_on {
            if known.contains(dependency.as_str()) {
                relationships.push(serde_json::json!({
                    "spdxElementId": id(&c.reference),
                    "relationshipType": "DEPENDS_ON",
                    "relatedSpdxElement": id(dependency),
                }));
            }
        }
    }
    serde_json::json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": describes.name,
        "documentNamespace": format!("urn:uuid:{}", serial("spdx", components)),
        "creationInfo": {
            "created": describes.created,
            "creators": [format!("Tool: airlift-{}", describes.tool_version)],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(reference: &str, licenses: &[&str], depends_on: &[&str]) -> Component {
        Component {
            reference: reference.into(),
            kind: Kind::Library,
            name: reference.into(),
            version: "1.0".into(),
            purl: format!("pkg:pypi/{reference}@1.0"),
            hashes: vec![Hash {
                algorithm: "SHA-256",
                hex: "0".repeat(64),
            }],
            licenses: licenses.iter().map(|l| (*l).to_owned()).collect(),
            depends_on: depends_on.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn describes() -> Describes {
        Describes {
            name: "test".into(),
            created: "2026-12-07T00:00:00Z".into(),
            tool_version: "0.1.0".into(),
        }
    }

    #[test]
    fn upstream_digests_become_hashes() {
        assert_eq!(
            upstream_hash(&format!("sha256:{}", "A".repeat(64))),
            Some(Hash {
                algorithm: "SHA-256",
                hex: "a".repeat(64)
            })
        );
        assert_eq!(upstream_hash("sha256:short"), None);
        assert_eq!(upstream_hash("md5:00"), None);
        // `sha512-` then the base64 of 64 zero bytes.
        let sri = format!("sha512-{}==", "A".repeat(86));
        assert_eq!(
            upstream_hash(&sri),
            Some(Hash {
                algorithm: "SHA-512",
                hex: "0".repeat(128)
            })
        );
    }

    #[test]
    fn licences_and_dependencies_are_written_in_both_formats() {
        let components = vec![
            component("a", &["MIT"], &["b"]),
            component("b", &["BSD-3-Clause OR Apache-2.0", "custom"], &[]),
        ];
        let bom = cyclonedx(&components, &describes());
        assert_eq!(
            bom["components"][0]["licenses"][0]["license"]["name"],
            "MIT"
        );
        assert_eq!(
            bom["dependencies"],
            serde_json::json!([{"ref": "a", "dependsOn": ["b"]}])
        );
        let doc = spdx(&components, &describes());
        assert_eq!(doc["packages"][0]["licenseDeclared"], "MIT");
        assert_eq!(doc["packages"][1]["licenseDeclared"], "NOASSERTION");
        let relationships = doc["relationships"]
            .as_array()
            .unwrap_or(&Vec::new())
            .clone();
        assert!(
            relationships
                .iter()
                .any(|r| r["relationshipType"] == "DEPENDS_ON"),
            "{doc:#}"
        );
    }

    #[test]
    fn an_empty_spdx_document_still_describes_something() {
        let doc = spdx(&[], &describes());
        assert_eq!(doc["relationships"][0]["relatedSpdxElement"], "NONE");
    }

    #[test]
    fn the_same_components_give_the_same_serial() {
        let components = vec![component("a", &[], &[])];
        assert_eq!(serial("spdx", &components), serial("spdx", &components));
        assert_ne!(
            serial("spdx", &components),
            serial("cyclonedx", &components)
        );
    }
}
