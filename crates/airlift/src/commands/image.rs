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
            let generation = current_generation(&store, "collect or import a bundle first")?;
            airlift_oci::image::resolve(&store, generation.id, reference, &platform)
                .map_err(|e| failure(e, false))?
        }
    };
    let inspected = inventory_of(image, from_layout.is_some())?;
    // On stderr even with --json: standard output holds the document.
    print_notes(&inspected.notes);
    Ok(inspected)
}

/// Reads what `image`'s layers install. A layer that does not check is
/// damage in the store, or bad input when it came from a layout
/// (`from_layout`).
fn inventory_of(image: Image, from_layout: bool) -> Result<Inspected, Failure> {
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
    stream.finish().map_err(|e| failure(e, from_layout))?;
    let exit = if from_layout {
        Exit::Input
    } else {
        Exit::Failed
    };
    let inventory =
        inspected.map_err(|e| Failure::new(exit, format!("image {}: {e}", image.reference)))?;
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
    let described = inspected.described();
    let (format, document, components) = image_document(&inspected, sbom_created()?, args.format);
    write_sbom(
        context,
        &document,
        args.out.as_deref(),
        |path| ImageSummary {
            format,
            out: Some(path.to_path_buf()),
            image: described.clone(),
            platform: inspected.image.platform.as_ref().map(ToString::to_string),
            components,
            skipped: inspected.notes.clone(),
        },
        |path| {
            format!(
                "wrote a {} SBOM of {components} packages in {described} to {}",
                format_title(format),
                path.display()
            )
        },
    )
}

/// The SBOM of an inspected image in `format`, created at `created`: its
/// format's name, the document and how many packages it lists.
fn image_document(
    inspected: &Inspected,
    created: String,
    format: SbomFormat,
) -> (&'static str, serde_json::Value, usize) {
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
    let described = inspected.described();
    let describes = Describes {
        name: described.clone(),
        created,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let (format, mut document) = match format {
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
    (format, document, components.len())
}

/// The artifact type of the SBOMs collect attaches to images.
pub(crate) const SBOM_ARTIFACT_TYPE: &str = "application/vnd.cyclonedx+json";

/// The annotation that marks an SBOM referrer as airlift's own (its value
/// is the version that wrote it), so that a collect of the same image
/// again keeps it instead of reading the layers anew.
pub(crate) const SBOM_GENERATOR: &str = "dev.airlift.sbom.generator";

/// The SBOM referrers `collect` attaches to every container image among
/// `entries`: the packages its layers install (as `sbom --image` reads
/// them), as CycloneDX, created when the image's config says it was built
/// (so the same image gives the same bytes). An image that already has one
/// in `entries` keeps it; one that had one in `previous` (the last
/// generation) gets that one back. What could not be read is a note, never
/// a failure of the collect: the image is carried without an SBOM.
pub(crate) fn image_sbom_referrers(
    store: &airlift_store::Store,
    entries: &[airlift_store::Entry],
    previous: &[airlift_store::Entry],
) -> Result<ImageSboms, Failure> {
    use airlift_oci::index::{Key, parse_key};
    let ours = |e: &&airlift_store::Entry| {
        e.ecosystem == airlift_oci::ECOSYSTEM
            && e.meta["artifact_type"].as_str() == Some(SBOM_ARTIFACT_TYPE)
            && e.meta["annotations"][SBOM_GENERATOR].is_string()
    };
    let subject_of = |e: &airlift_store::Entry| -> Option<(String, String)> {
        let Some(Key::Manifest { repository, .. }) = parse_key(&e.key) else {
            return None;
        };
        Some((
            repository.to_owned(),
            e.meta["subject"].as_str()?.to_owned(),
        ))
    };
    let present: std::collections::BTreeSet<(String, String)> =
        entries.iter().filter(ours).filter_map(subject_of).collect();
    let mut earlier: std::collections::BTreeMap<(String, String), &airlift_store::Entry> =
        std::collections::BTreeMap::new();
    for entry in previous.iter().filter(ours) {
        if let Some(subject) = subject_of(entry) {
            earlier.insert(subject, entry);
        }
    }
    let mut added = Vec::new();
    let mut notes = Vec::new();
    let mut images = 0;
    for entry in entries {
        if entry.ecosystem != airlift_oci::ECOSYSTEM {
            continue;
        }
        let Some(Key::Manifest { repository, .. }) = parse_key(&entry.key) else {
            continue;
        };
        let subject = (repository.to_owned(), entry.digest.to_string());
        if present.contains(&subject) {
            continue;
        }
        if let Some(referrer) = earlier.get(&subject)
            && let Some(kept) = kept_referrer(store, repository, referrer)
        {
            added.extend(kept);
            images += 1;
            continue;
        }
        let (image, created) = match airlift_oci::image::image_of_entry(store, entry) {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err(error) => {
                notes.push(format!(
                    "no SBOM for {repository}@{}: {error}",
                    entry.digest
                ));
                continue;
            }
        };
        let inspected = match inventory_of(image, false) {
            Ok(inspected) => inspected,
            Err(failure) => {
                notes.push(format!(
                    "no SBOM for {repository}@{}: {}",
                    entry.digest, failure.message
                ));
                continue;
            }
        };
        let created = created.unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned());
        let (_, document, _) = image_document(&inspected, created.clone(), SbomFormat::Cyclonedx);
        let mut content = serde_json::to_vec_pretty(&document)
            .map_err(|e| Failure::new(Exit::Failed, format!("cannot encode the SBOM: {e}")))?;
        content.push(b'\n');
        let annotations = std::collections::BTreeMap::from([
            ("org.opencontainers.image.created".to_owned(), created),
            (
                SBOM_GENERATOR.to_owned(),
                concat!("airlift ", env!("CARGO_PKG_VERSION")).to_owned(),
            ),
        ]);
        let media_type = entry.meta["media_type"]
            .as_str()
            .unwrap_or("application/vnd.oci.image.manifest.v1+json");
        added.extend(airlift_oci::artifact::attach(
            store,
            &airlift_oci::artifact::Subject {
                repository,
                digest: entry.digest,
                size: entry.size,
                media_type,
            },
            &airlift_oci::artifact::Artifact {
                artifact_type: SBOM_ARTIFACT_TYPE,
                content: &content,
                annotations,
            },
        )?);
        images += 1;
    }
    // Two images of one repository link the same empty config, and a link
    // may be there already: each key once.
    let mut keys: std::collections::BTreeSet<String> = entries
        .iter()
        .filter(|e| e.ecosystem == airlift_oci::ECOSYSTEM)
        .map(|e| e.key.clone())
        .collect();
    added.retain(|e| keys.insert(e.key.clone()));
    Ok(ImageSboms {
        entries: added,
        images,
        notes,
    })
}

/// What [`image_sbom_referrers`] gives collect.
pub(crate) struct ImageSboms {
    /// The entries to add to the generation.
    pub(crate) entries: Vec<airlift_store::Entry>,
    /// How many images have an SBOM referrer of airlift's.
    pub(crate) images: usize,
    /// What could not be read, one line each.
    pub(crate) notes: Vec<String>,
}

/// The entries that serve an SBOM referrer of the last generation again:
/// its manifest and the links of the blobs it names, when the store still
/// holds them all (`None` otherwise: it is written anew).
fn kept_referrer(
    store: &airlift_store::Store,
    repository: &str,
    referrer: &airlift_store::Entry,
) -> Option<Vec<airlift_store::Entry>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    store
        .blobs
        .open(&referrer.digest)
        .ok()?
        .take(airlift_oci::image::MAX_MANIFEST)
        .read_to_end(&mut bytes)
        .ok()?;
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let mut entries = vec![referrer.clone()];
    for descriptor in
        std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array()?.iter())
    {
        let digest: airlift_core::Digest = descriptor["digest"].as_str()?.parse().ok()?;
        let size = store.blobs.size(&digest).ok()??;
        entries.push(airlift_oci::index::entry(
            airlift_oci::index::blob_key(repository, &digest),
            digest,
            size,
            serde_json::json!({}),
        ));
    }
    Some(entries)
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
    add_subjects(
        &mut subjects,
        &mut Seen::new(),
        inspected.inventory.packages,
    );
    Ok((subjects, described, inspected.notes))
}
