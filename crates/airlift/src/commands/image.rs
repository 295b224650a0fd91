//! `airlift sbom --image` and `airlift scan --image`: what is installed
//! inside one container image, read from its layers without running
//! anything.
//!
//! The reference is resolved against the current generation (or read from
//! an OCI image layout directory, `oci-layout:DIR[:TAG]`) by
//! `airlift_oci::image`; the layers are opened one at a time, their
//! digests checked as they stream, decompressed and handed to
//! `airlift_inventory::inspect_layers` with its default limits. Files the
//! inventory could not read and layers that are never carried are notes
//! (on standard error, and in `--json` output), not failures.

use airlift_advisory::Subject;
use airlift_inventory::{Inventory, Limits};
use airlift_oci::image::{Image, ImageError, Platform};
use airlift_sbom::{Component, Describes, Kind};

use super::*;
use crate::cli::SbomFormat;

/// An image and what its layers install.
pub(crate) struct Inspected {
    pub(crate) image: Image,
    pub(crate) inventory: Inventory,
    /// Files and layers left out, one line each.
    pub(crate) notes: Vec<String>,
}

impl Inspected {
    /// `repo@sha256:…` (and the platform, when an index chose it).
    pub(crate) fn described(&self) -> String {
        format!("{}@{}", self.image.name, self.image.digest)
    }
}

/// Opens `reference` for `platform` (default linux/amd64) and inventories
/// its layers.
pub(crate) fn inspect_image(
    context: &Context,
    reference: &str,
    platform: Option<&str>,
) -> Result<Inspected, Failure> {
    let platform = match platform {
        Some(text) => Platform::parse(text).map_err(|e| Failure::input(e.to_string()))?,
        None => Platform::default(),
    };
    let from_layout = airlift_oci::image::parse_layout_reference(reference);
    let image = match &from_layout {
        Some((dir, tag)) => {
            airlift_oci::image::open_layout(dir, tag.as_deref(), &platform, reference)
                .map_err(|e| failure(e, true))?
        }
        None => {
            let store = context.store()?;
            let Some(generation) = store.meta.current()? else {
                return Err(
                    Failure::new(Exit::Failed, "this home has no generation yet")
                        .hint("collect or import a bundle first"),
                );
            };
            airlift_oci::image::resolve(&store, generation.id, reference, &platform)
                .map_err(|e| failure(e, false))?
        }
    };
    let mut stream = image.layer_stream();
    let inspected = airlift_inventory::inspect_layers(
        (&mut stream).map(|raw| {
            airlift_inventory::decompressed(raw).unwrap_or_else(|e| {
                Box::new(Unreadable(Some(e.to_string()))) as Box<dyn std::io::Read>
            })
        }),
        &Limits::default(),
    );
    // A layer that does not check explains a broken tar stream better than
    // the tar reader can.
    stream
        .finish()
        .map_err(|e| failure(e, from_layout.is_some()))?;
    let inventory = inspected.map_err(|e| {
        Failure::new(
            if from_layout.is_some() {
                Exit::Input
            } else {
                Exit::Failed
            },
            format!("image {reference}: {e}"),
        )
    })?;
    let mut notes: Vec<String> = image
        .skipped_layers
        .iter()
        .map(|layer| format!("layer {layer}"))
        .collect();
    notes.extend(
        inventory
            .skipped
            .iter()
            .map(|file| format!("skipped {file}")),
    );
    // On stderr even with --json: standard output holds the document.
    print_notes(&notes);
    Ok(Inspected {
        image,
        inventory,
        notes,
    })
}

#[allow(clippy::print_stderr)]
fn print_notes(notes: &[String]) {
    for note in notes {
        eprintln!("note: {note}");
    }
}

/// A reader that fails with the reason a layer could not be opened for
/// decompression.
struct Unreadable(Option<String>);

impl std::io::Read for Unreadable {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other(
            self.0.take().unwrap_or_else(|| "unreadable layer".into()),
        ))
    }
}

/// The exit code of an image error: what the user named or brought is
/// input; a store blob that is missing or does not check is damage.
fn failure(error: ImageError, from_layout: bool) -> Failure {
    let message = error.to_string();
    match error {
        ImageError::Store { .. } => Failure::new(Exit::Failed, message),
        ImageError::Blob { .. } | ImageError::LayerMissing { .. } if !from_layout => {
            Failure::new(Exit::Damaged, message).hint("run airlift fsck")
        }
        ImageError::NotCarried { .. } => {
            Failure::input(message).hint("airlift images lists the images carried")
        }
        _ => Failure::input(message),
    }
}

/// What `airlift sbom --image --out` reports.
#[derive(Serialize)]
struct ImageSummary {
    format: &'static str,
    out: Option<PathBuf>,
    image: String,
    platform: Option<String>,
    components: usize,
    skipped: Vec<String>,
}

/// `airlift sbom --image`: the packages installed in the image, with their
/// purls and licences, in a document that describes the image.
pub(crate) fn image_sbom(
    context: &Context,
    args: &SbomArgs,
    reference: &str,
) -> Result<(), Failure> {
    let inspected = inspect_image(context, reference, args.platform.as_deref())?;
    let mut components: Vec<Component> = inspected
        .inventory
        .packages
        .iter()
        .map(|package| Component {
            // The same package found twice (the Go standard library of two
            // binaries) is one component.
            reference: package.purl.clone(),
            // A Go binary's main module or a Rust binary's root crate is
            // the application; what is built into it is a library.
            kind: if package.main {
                Kind::Application
            } else {
                Kind::Library
            },
            name: package.name.clone(),
            version: package.version.clone(),
            purl: package.purl.clone(),
            hashes: Vec::new(),
            licenses: package.licenses.clone(),
            depends_on: Vec::new(),
        })
        .collect();
    airlift_sbom::normalize(&mut components);
    let now = now()?;
    let created = jiff::Timestamp::from_second(now.as_second())
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot read the clock: {e}")))?
        .to_string();
    let described = inspected.described();
    let describes = Describes {
        name: described.clone(),
        created,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let (format, mut document) = match args.format {
        SbomFormat::Cyclonedx => (
            "cyclonedx",
            airlift_sbom::cyclonedx(&components, &describes),
        ),
        SbomFormat::Spdx => ("spdx", airlift_sbom::spdx(&components, &describes)),
    };
    if format == "cyclonedx" {
        // The document describes a container image, named as the OCI
        // ecosystem names it in a generation's SBOM.
        let image = &inspected.image;
        let last = image.name.rsplit('/').next().unwrap_or(&image.name);
        let digest = image.digest.to_string();
        document["metadata"]["component"] = serde_json::json!({
            "type": "container",
            "bom-ref": described,
            "name": image.name,
            "version": digest,
            "purl": format!(
                "pkg:oci/{}@{}?repository_url={}",
                airlift_ecosystem::purl_encode(last),
                airlift_ecosystem::purl_encode(&digest),
                airlift_ecosystem::purl_encode(&image.name)
            ),
        });
    }
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
            let summary = ImageSummary {
                format,
                out: Some(path.clone()),
                image: described.clone(),
                platform: inspected.image.platform.as_ref().map(ToString::to_string),
                components: components.len(),
                skipped: inspected.notes.clone(),
            };
            context.emit(&summary, || {
                format!(
                    "wrote a {} SBOM of {} packages in {described} to {}",
                    if format == "spdx" {
                        "SPDX 2.3"
                    } else {
                        "CycloneDX 1.6"
                    },
                    components.len(),
                    path.display()
                )
            })
        }
    }
}

/// `airlift scan --image`: the image's packages as advisories name them,
/// once each, exactly as `--inventory` reads a host's; also the image as
/// `repo@digest` and the notes.
pub(crate) fn image_subjects(
    context: &Context,
    reference: &str,
    platform: Option<&str>,
) -> Result<(Vec<Subject>, String, Vec<String>), Failure> {
    let inspected = inspect_image(context, reference, platform)?;
    let described = inspected.described();
    let mut subjects = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for package in inspected.inventory.packages {
        let Some(ecosystem) = package.osv_ecosystem.clone() else {
            continue;
        };
        let (name, version) = package.advisory_name();
        if seen.insert((ecosystem.clone(), name.clone(), version.clone())) {
            subjects.push(Subject {
                ecosystem,
                name,
                version,
                reference: package.purl,
            });
        }
    }
    Ok((subjects, described, inspected.notes))
}
