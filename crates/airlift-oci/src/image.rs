//! Container images as files to look inside: an image reference resolved to
//! its manifest and its layers, in order, ready to be read.
//!
//! Two sources:
//! - the store, against one generation's index entries
//!   ([`resolve`]): `repo:tag`, `repo@sha256:…` or `repo` (`repo:latest`);
//! - an OCI image layout directory someone brought ([`open_layout`]):
//!   `oci-layout:DIR` (its only manifest) or `oci-layout:DIR:TAG` (the
//!   manifest annotated `org.opencontainers.image.ref.name`).
//!
//! An image index (or Docker manifest list) is followed to the child of one
//! [`Platform`] (default `linux/amd64`). Manifests are read bounded
//! ([`MAX_MANIFEST`]), their digests and media types checked; a layer is
//! streamed through a [`LayerStream`], which checks every layer's length and
//! digest as it goes, so a layout's tampered blob is an error, never an
//! answer.
//!
//! Boundary: this module only reads and names what it read. It does not
//! decompress layers or look at their files (that is `airlift-inventory`'s
//! job) and never writes to the store.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use airlift_core::{Digest, Sha256};
use airlift_store::{Entry, Store, StoreError};
use serde_json::Value;

use crate::index;
use crate::names::{self, DigestProblem};

/// The largest manifest or index read, as the registry accepts on push.
pub const MAX_MANIFEST: u64 = crate::serve::MAX_MANIFEST as u64;
/// The most layers an image may have (Docker itself stops at 127).
pub const MAX_LAYERS: usize = 1_000;
/// The most manifests an index may list.
pub const MAX_CHILDREN: usize = 4_096;
/// How many indexes may nest (a layout's `index.json`, then an image
/// index, then the manifest).
const MAX_NESTING: usize = 4;
/// The largest `oci-layout` marker file read.
const MAX_LAYOUT_MARKER: u64 = 64 << 10;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const CONFIG_TYPES: &[&str] = &[
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];
const LAYER_TYPES: &[&str] = &[
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
];
/// The annotation a layout's `index.json` names its images with.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Why an image cannot be opened or read. Every variant names the
/// reference as it was given.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{reference:?} is not an image reference: {reason}")]
    Reference { reference: String, reason: String },
    #[error("--platform {text:?} is not os/architecture[/variant] (linux/amd64, linux/arm64/v8)")]
    Platform { text: String },
    #[error("image {reference} is not carried in generation {generation}")]
    NotCarried { reference: String, generation: u64 },
    #[error(
        "image {reference}: the index {index} has no manifest for platform {platform} (it has {available})"
    )]
    NoPlatform {
        reference: String,
        index: Digest,
        /// As `os/architecture[/variant]`.
        platform: String,
        available: String,
    },
    #[error(
        "image {reference}: the index lists {platform} as {digest}, which was not carried (collect it with that platform)"
    )]
    ChildNotCarried {
        reference: String,
        platform: String,
        digest: Digest,
    },
    #[error("image {reference}: manifest {digest}: {reason}")]
    Manifest {
        reference: String,
        digest: String,
        reason: String,
    },
    #[error("image {reference}: layer {digest} is missing: {reason}")]
    LayerMissing {
        reference: String,
        digest: String,
        reason: String,
    },
    #[error("image {reference}: blob {digest}: {reason}")]
    Blob {
        reference: String,
        digest: String,
        reason: String,
    },
    #[error("image {reference}: {path}: {reason}")]
    Layout {
        reference: String,
        path: PathBuf,
        reason: String,
    },
    #[error("image {reference}: reading the store: {source}")]
    Store {
        reference: String,
        #[source]
        source: StoreError,
    },
}

/// A platform: `os/architecture[/variant]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// `amd64`, `arm64`, …
    pub architecture: String,
    /// `v7`, `v8`, …, when given.
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Self {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(formatter, "/{variant}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// Parses `os/architecture[/variant]`.
    pub fn parse(text: &str) -> Result<Self, ImageError> {
        let bad = || ImageError::Platform { text: text.into() };
        let parts: Vec<&str> = text.split('/').collect();
        let valid = |part: &&str| {
            !part.is_empty()
                && part.len() <= 64
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(valid) {
            return Err(bad());
        }
        Ok(Self {
            os: parts[0].to_ascii_lowercase(),
            architecture: parts[1].to_ascii_lowercase(),
            variant: parts.get(2).map(|v| v.to_ascii_lowercase()),
        })
    }

    /// The platform of an index descriptor, when it has one.
    fn of_descriptor(descriptor: &Value) -> Option<Self> {
        let platform = descriptor.get("platform")?;
        Some(Self {
            os: platform["os"].as_str()?.to_ascii_lowercase(),
            architecture: platform["architecture"].as_str()?.to_ascii_lowercase(),
            variant: platform["variant"]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(str::to_ascii_lowercase),
        })
    }

    /// Whether `offered` serves a request for `self`: the same OS and
    /// architecture and, when a variant is asked for, that variant (`arm64`
    /// without one is `v8`, as the specification says).
    fn accepts(&self, offered: &Platform) -> bool {
        if self.os != offered.os || self.architecture != offered.architecture {
            return false;
        }
        let default_variant = |platform: &Platform| match (
            platform.architecture.as_str(),
            platform.variant.as_deref(),
        ) {
            ("arm64", None) => Some("v8".to_owned()),
            (_, variant) => variant.map(str::to_owned),
        };
        match &self.variant {
            None => true,
            Some(_) => default_variant(self) == default_variant(offered),
        }
    }
}

/// One layer of an image, as its manifest describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Its digest.
    pub digest: Digest,
    /// Its length in bytes, as the manifest states it.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
}

/// Where an image's blobs are read from.
#[derive(Clone)]
enum Source {
    Store(Store),
    Layout(PathBuf),
}

/// An image resolved to one platform's manifest.
#[derive(Clone)]
pub struct Image {
    /// The reference as it was given.
    pub reference: String,
    /// The repository (from the store), or a layout's image name (its
    /// `ref.name` when that is a full name, else the directory's name).
    pub name: String,
    /// The digest of the image manifest (of the chosen platform).
    pub digest: Digest,
    /// The index it was chosen from, if any.
    pub index: Option<Digest>,
    /// The platform the index gave it, if it came from an index.
    pub platform: Option<Platform>,
    /// Its layers, bottom first, that are carried.
    pub layers: Vec<Layer>,
    /// Layers left out: non-distributable (foreign) layers, never carried,
    /// as `<digest>: <reason>`.
    pub skipped_layers: Vec<String>,
    source: Source,
}

impl fmt::Debug for Image {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Image")
            .field("reference", &self.reference)
            .field("name", &self.name)
            .field("digest", &self.digest)
            .field("index", &self.index)
            .field("platform", &self.platform)
            .field("layers", &self.layers)
            .finish_non_exhaustive()
    }
}

/// An `oci-layout:DIR[:TAG]` reference: the directory and the tag. The
/// directory ends at the first `:`, as skopeo's `oci:` references do.
pub fn parse_layout_reference(text: &str) -> Option<(PathBuf, Option<String>)> {
    let rest = text.strip_prefix("oci-layout:")?;
    Some(match rest.split_once(':') {
        Some((dir, tag)) => (PathBuf::from(dir), Some(tag.to_owned())),
        None => (PathBuf::from(rest), None),
    })
}

/// What a reference to the store names.
enum Wanted {
    Tag(String),
    Digest(Digest),
}

/// Splits `repo[:tag][@digest]` into the repositories to try (as written,
/// then without a registry host the user may have kept from upstream) and
/// what to look up; no tag and no digest is `latest`. A digest wins over a
/// tag given with it, as Docker does.
fn parse_store_reference(text: &str) -> Result<(Vec<String>, Wanted), ImageError> {
    let bad = |reason: &str| ImageError::Reference {
        reference: text.into(),
        reason: reason.into(),
    };
    let (name, digest) = match text.split_once('@') {
        Some((name, digest)) => {
            let digest = names::parse_digest(digest).map_err(|problem| match problem {
                DigestProblem::Unsupported => bad("only sha256 digests are stored"),
                DigestProblem::Invalid => bad("the digest is not sha256:<64 hex digits>"),
            })?;
            (name, Some(digest))
        }
        None => (text, None),
    };
    let (name, tag) = match name.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (name, None),
    };
    if let Some(tag) = tag
        && !names::valid_tag(tag)
    {
        return Err(bad("the tag is not [A-Za-z0-9_][A-Za-z0-9._-]{0,127}"));
    }
    let mut repositories = Vec::new();
    if names::valid_repository(name) {
        repositories.push(name.to_owned());
    }
    if let Some((host, rest)) = name.split_once('/')
        && (host.contains('.') || host.contains(':') || host == "localhost")
        && names::valid_repository(rest)
    {
        repositories.push(rest.to_owned());
    }
    if repositories.is_empty() {
        return Err(bad(
            "the repository is not lowercase path components ([a-z0-9] separated by . _ __ -)",
        ));
    }
    let wanted = match (digest, tag) {
        (Some(digest), _) => Wanted::Digest(digest),
        (None, Some(tag)) => Wanted::Tag(tag.to_owned()),
        (None, None) => Wanted::Tag("latest".to_owned()),
    };
    Ok((repositories, wanted))
}

/// What kind of manifest a document is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Index,
    Manifest,
}

/// Classifies a manifest by its media type: the document's own `mediaType`
/// and the one recorded or described for it must agree when both are
/// given; with neither, the fields decide (OCI makes `mediaType` optional).
fn shape(document: &Value, outside: Option<&str>) -> Result<Shape, String> {
    let inside = document.get("mediaType").and_then(Value::as_str);
    if let (Some(inside), Some(outside)) = (inside, outside)
        && inside != outside
    {
        return Err(format!(
            "its mediaType {inside:?} is not the {outside:?} it was described as"
        ));
    }
    match inside.or(outside) {
        Some(OCI_INDEX | DOCKER_LIST) => Ok(Shape::Index),
        Some(OCI_MANIFEST | DOCKER_MANIFEST) => Ok(Shape::Manifest),
        Some(other) => Err(format!("it is a {other:?}, not an image manifest or index")),
        None if document.get("manifests").is_some() => Ok(Shape::Index),
        None if document.get("layers").is_some() => Ok(Shape::Manifest),
        None => Err("it has no mediaType and is neither an index nor a manifest".into()),
    }
}

/// Parses bounded manifest bytes as a JSON object, checking the digest.
fn parse_manifest(bytes: &[u8], digest: &Digest) -> Result<Value, String> {
    if bytes.len() as u64 > MAX_MANIFEST {
        return Err(format!("larger than {MAX_MANIFEST} bytes"));
    }
    let actual = Digest::of(bytes);
    if actual != *digest {
        return Err(format!("its bytes hash to {actual}"));
    }
    let document: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if !document.is_object() {
        return Err("not a JSON object".into());
    }
    Ok(document)
}

/// A descriptor's digest (sha256 only) and size.
fn descriptor(value: &Value) -> Result<(Digest, u64), String> {
    let text = value["digest"]
        .as_str()
        .ok_or_else(|| "a descriptor has no digest".to_owned())?;
    let digest = names::parse_digest(text).map_err(|problem| match problem {
        DigestProblem::Unsupported => format!("{text}: only sha256 digests are supported"),
        DigestProblem::Invalid => format!("{text:?} is not a digest"),
    })?;
    let size = value["size"]
        .as_u64()
        .ok_or_else(|| format!("the descriptor of {text} has no size"))?;
    Ok((digest, size))
}

/// An image manifest's layers, checked: a container image's config, known
/// layer media types, at most [`MAX_LAYERS`]; foreign layers are set aside.
fn layers_of(document: &Value) -> Result<(Vec<Layer>, Vec<String>), String> {
    let config_type = document["config"]["mediaType"].as_str().unwrap_or("");
    if !CONFIG_TYPES.contains(&config_type) {
        return Err(format!(
            "not a container image: its config is a {config_type:?} (an artifact?)"
        ));
    }
    let listed = document["layers"]
        .as_array()
        .ok_or_else(|| "it has no layers list".to_owned())?;
    if listed.len() > MAX_LAYERS {
        return Err(format!("{} layers, more than {MAX_LAYERS}", listed.len()));
    }
    let mut layers = Vec::new();
    let mut skipped = Vec::new();
    for value in listed {
        let (digest, size) = descriptor(value)?;
        let media_type = value["mediaType"].as_str().unwrap_or("").to_owned();
        if media_type.contains(".nondistributable.") || media_type.contains(".foreign.") {
            skipped.push(format!(
                "{digest}: a non-distributable layer ({media_type}), never carried"
            ));
            continue;
        }
        if !LAYER_TYPES.contains(&media_type.as_str()) {
            return Err(format!(
                "layer {digest} is a {media_type:?}, not a tar layer (plain, gzip or zstd)"
            ));
        }
        layers.push(Layer {
            digest,
            size,
            media_type,
        });
    }
    Ok((layers, skipped))
}

/// The platforms an index lists, for an error message.
fn platforms_listed(document: &Value) -> String {
    let mut listed: Vec<String> = document["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Platform::of_descriptor)
        .filter(|p| p.os != "unknown")
        .map(|p| p.to_string())
        .collect();
    listed.dedup();
    if listed.is_empty() {
        "no platforms".into()
    } else {
        listed.join(", ")
    }
}

/// The descriptor of an index's child for `platform`: an image manifest (or
/// nested index) whose platform matches, preferring one without a variant
/// when no variant was asked for; an index whose only child names no
/// platform gives that child.
fn pick_child<'a>(
    document: &'a Value,
    platform: &Platform,
) -> Result<Option<(&'a Value, Option<Platform>)>, String> {
    let children = document["manifests"]
        .as_array()
        .ok_or_else(|| "an index without a manifests list".to_owned())?;
    if children.len() > MAX_CHILDREN {
        return Err(format!(
            "an index of {} manifests, more than {MAX_CHILDREN}",
            children.len()
        ));
    }
    let candidates: Vec<(&Value, Platform)> = children
        .iter()
        .filter_map(|child| Platform::of_descriptor(child).map(|p| (child, p)))
        .filter(|(_, offered)| platform.accepts(offered))
        .collect();
    if let Some((child, offered)) = candidates
        .iter()
        .find(|(_, offered)| offered.variant.is_none())
        .or_else(|| candidates.first())
    {
        return Ok(Some((child, Some(offered.clone()))));
    }
    if let [only] = children.as_slice()
        && only.get("platform").is_none()
    {
        return Ok(Some((only, None)));
    }
    Ok(None)
}

/// Resolves `reference` against generation `generation` of `store`: its
/// manifest (through an index, for `platform`), checked to be an image,
/// and its layers, each linked into the repository and present.
pub fn resolve(
    store: &Store,
    generation: u64,
    reference: &str,
    platform: &Platform,
) -> Result<Image, ImageError> {
    let (repositories, wanted) = parse_store_reference(reference)?;
    let store_error = |source| ImageError::Store {
        reference: reference.into(),
        source,
    };
    let lookup = |key: String| -> Result<Option<Entry>, ImageError> {
        store
            .meta
            .entry(generation, crate::ECOSYSTEM, &key)
            .map_err(store_error)
    };
    let mut found = None;
    for repository in &repositories {
        let digest = match &wanted {
            Wanted::Digest(digest) => Some(*digest),
            Wanted::Tag(tag) => lookup(index::tag_key(repository, tag))?.map(|e| e.digest),
        };
        let Some(digest) = digest else { continue };
        match lookup(index::manifest_key(repository, &digest))? {
            Some(entry) => {
                found = Some((repository.clone(), entry));
                break;
            }
            None if matches!(wanted, Wanted::Tag(_)) => {
                return Err(ImageError::Manifest {
                    reference: reference.into(),
                    digest: digest.to_string(),
                    reason: "the tag points at it, but it is not carried".into(),
                });
            }
            None => {}
        }
    }
    let Some((repository, mut entry)) = found else {
        return Err(ImageError::NotCarried {
            reference: reference.into(),
            generation,
        });
    };
    let manifest_error = |digest: &Digest, reason: String| ImageError::Manifest {
        reference: reference.into(),
        digest: digest.to_string(),
        reason,
    };
    let mut index_digest = None;
    let mut chosen_platform = None;
    for _ in 0..MAX_NESTING {
        let bytes = read_store_manifest(store, &entry.digest)
            .map_err(|reason| manifest_error(&entry.digest, reason))?;
        let document = parse_manifest(&bytes, &entry.digest)
            .map_err(|reason| manifest_error(&entry.digest, reason))?;
        let recorded = entry.meta["media_type"].as_str();
        match shape(&document, recorded).map_err(|r| manifest_error(&entry.digest, r))? {
            Shape::Manifest => {
                let (layers, skipped_layers) =
                    layers_of(&document).map_err(|r| manifest_error(&entry.digest, r))?;
                for layer in &layers {
                    check_store_layer(store, generation, &repository, layer, reference)?;
                }
                return Ok(Image {
                    reference: reference.into(),
                    name: repository,
                    digest: entry.digest,
                    index: index_digest,
                    platform: chosen_platform,
                    layers,
                    skipped_layers,
                    source: Source::Store(store.clone()),
                });
            }
            Shape::Index => {
                let Some((child, offered)) = pick_child(&document, platform)
                    .map_err(|r| manifest_error(&entry.digest, r))?
                else {
                    return Err(ImageError::NoPlatform {
                        reference: reference.into(),
                        index: entry.digest,
                        platform: platform.to_string(),
                        available: platforms_listed(&document),
                    });
                };
                let (child_digest, _) =
                    descriptor(child).map_err(|r| manifest_error(&entry.digest, r))?;
                index_digest.get_or_insert(entry.digest);
                let described = offered
                    .as_ref()
                    .map_or_else(|| "its only manifest".to_owned(), ToString::to_string);
                chosen_platform = offered;
                entry =
                    lookup(index::manifest_key(&repository, &child_digest))?.ok_or_else(|| {
                        ImageError::ChildNotCarried {
                            reference: reference.into(),
                            platform: described,
                            digest: child_digest,
                        }
                    })?;
            }
        }
    }
    Err(manifest_error(
        &entry.digest,
        format!("indexes nest more than {MAX_NESTING} deep"),
    ))
}

/// A container image that collect just stored: the image manifest an
/// index entry `m:<repository>@<digest>` names, read from the store, with
/// its layers present at the sizes the manifest states (no generation is
/// consulted: the entries are not committed yet), and the `created` time
/// its config states. `Ok(None)` for what is not a runnable image: an
/// index, an artifact (a config that is not an image config), or a
/// referrer (a manifest with a `subject`: a signature, an SBOM).
pub fn image_of_entry(
    store: &Store,
    entry: &Entry,
) -> Result<Option<(Image, Option<String>)>, ImageError> {
    let Some(index::Key::Manifest { repository, .. }) = index::parse_key(&entry.key) else {
        return Ok(None);
    };
    let reference = format!("{repository}@{}", entry.digest);
    let manifest_error = |reason: String| ImageError::Manifest {
        reference: reference.clone(),
        digest: entry.digest.to_string(),
        reason,
    };
    let bytes = read_store_manifest(store, &entry.digest).map_err(manifest_error)?;
    let document = parse_manifest(&bytes, &entry.digest).map_err(manifest_error)?;
    let recorded = entry.meta["media_type"].as_str();
    if shape(&document, recorded).map_err(manifest_error)? == Shape::Index
        || document.get("subject").is_some()
        || !CONFIG_TYPES.contains(&document["config"]["mediaType"].as_str().unwrap_or(""))
    {
        return Ok(None);
    }
    let (layers, skipped_layers) = layers_of(&document).map_err(manifest_error)?;
    for layer in &layers {
        let missing = |reason: String| ImageError::LayerMissing {
            reference: reference.clone(),
            digest: layer.digest.to_string(),
            reason,
        };
        match store.blobs.size(&layer.digest) {
            Ok(Some(size)) if size == layer.size => {}
            Ok(Some(size)) => {
                return Err(missing(format!(
                    "the store holds {size} bytes, the manifest says {}",
                    layer.size
                )));
            }
            Ok(None) => return Err(missing("the store does not hold it".into())),
            Err(source) => return Err(ImageError::Store { reference, source }),
        }
    }
    // The config says when the image was built: a time that does not
    // change when the same image is collected again.
    let created = descriptor(&document["config"])
        .ok()
        .and_then(|(digest, _)| read_store_manifest(store, &digest).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|config| config["created"].as_str().map(str::to_owned));
    Ok(Some((
        Image {
            reference: reference.clone(),
            name: repository.to_owned(),
            digest: entry.digest,
            index: None,
            platform: None,
            layers,
            skipped_layers,
            source: Source::Store(store.clone()),
        },
        created,
    )))
}

/// A stored manifest's bytes, at most [`MAX_MANIFEST`] and one more (so
/// that a larger one is noticed).
fn read_store_manifest(store: &Store, digest: &Digest) -> Result<Vec<u8>, String> {
    let reader = store
        .blobs
        .open(digest)
        .map_err(|e| format!("cannot be read from the store: {e}"))?;
    let mut bytes = Vec::new();
    reader
        .take(MAX_MANIFEST + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read from the store: {e}"))?;
    Ok(bytes)
}

fn check_store_layer(
    store: &Store,
    generation: u64,
    repository: &str,
    layer: &Layer,
    reference: &str,
) -> Result<(), ImageError> {
    let missing = |reason: String| ImageError::LayerMissing {
        reference: reference.into(),
        digest: layer.digest.to_string(),
        reason,
    };
    let linked = store
        .meta
        .entry(
            generation,
            crate::ECOSYSTEM,
            &index::blob_key(repository, &layer.digest),
        )
        .map_err(|source| ImageError::Store {
            reference: reference.into(),
            source,
        })?;
    if linked.is_none() {
        return Err(missing(format!(
            "it is not linked into repository {repository}"
        )));
    }
    match store.blobs.size(&layer.digest) {
        Ok(Some(size)) if size == layer.size => Ok(()),
        Ok(Some(size)) => Err(missing(format!(
            "the store holds {size} bytes, the manifest says {}",
            layer.size
        ))),
        Ok(None) => Err(missing(
            "the store does not hold it (run airlift fsck)".into(),
        )),
        Err(source) => Err(ImageError::Store {
            reference: reference.into(),
            source,
        }),
    }
}

/// Opens an OCI image layout directory: `tag` picks the manifest annotated
/// with it (`org.opencontainers.image.ref.name`, the tag alone or a full
/// name ending in `:tag`); without one, the only manifest, or the one for
/// `platform` when `index.json` lists several platforms. `reference` is
/// how the user wrote it, for messages.
pub fn open_layout(
    dir: &Path,
    tag: Option<&str>,
    platform: &Platform,
    reference: &str,
) -> Result<Image, ImageError> {
    let layout_error = |path: PathBuf, reason: String| ImageError::Layout {
        reference: reference.into(),
        path,
        reason,
    };
    let marker_path = dir.join("oci-layout");
    let marker = read_layout_file(&marker_path, MAX_LAYOUT_MARKER)
        .map_err(|r| layout_error(marker_path.clone(), r))?;
    let marker: Value = serde_json::from_slice(&marker)
        .map_err(|e| layout_error(marker_path.clone(), format!("not JSON: {e}")))?;
    match marker["imageLayoutVersion"].as_str() {
        Some(version) if version.starts_with("1.") => {}
        other => {
            return Err(layout_error(
                marker_path,
                format!("imageLayoutVersion {other:?} is not 1.x: not an OCI image layout"),
            ));
        }
    }
    let index_path = dir.join("index.json");
    let bytes = read_layout_file(&index_path, MAX_MANIFEST)
        .map_err(|r| layout_error(index_path.clone(), r))?;
    let top: Value = serde_json::from_slice(&bytes)
        .map_err(|e| layout_error(index_path.clone(), format!("not JSON: {e}")))?;
    let listed = top["manifests"]
        .as_array()
        .ok_or_else(|| layout_error(index_path.clone(), "no manifests list".into()))?;
    if listed.len() > MAX_CHILDREN {
        return Err(layout_error(
            index_path,
            format!("{} manifests, more than {MAX_CHILDREN}", listed.len()),
        ));
    }
    let names_of = |value: &Value| value["annotations"][REF_NAME].as_str().map(str::to_owned);
    let all_names: Vec<String> = listed.iter().filter_map(names_of).collect();
    let tag_matches = |value: &Value| match (names_of(value), tag) {
        (Some(name), Some(tag)) => {
            name == tag
                || name
                    .strip_suffix(tag)
                    .is_some_and(|head| head.ends_with(':') && !head.ends_with("/:"))
        }
        (_, None) => true,
        (None, Some(_)) => false,
    };
    let selected: Vec<Value> = listed.iter().filter(|v| tag_matches(v)).cloned().collect();
    let chosen = match selected.as_slice() {
        [] => {
            return Err(layout_error(
                index_path,
                format!(
                    "no manifest is named {:?} (names: {})",
                    tag.unwrap_or_default(),
                    if all_names.is_empty() {
                        "none".to_owned()
                    } else {
                        all_names.join(", ")
                    }
                ),
            ));
        }
        [only] => (only.clone(), None),
        several => {
            // Several: as an index of platforms.
            let as_index = serde_json::json!({ "manifests": several });
            match pick_child(&as_index, platform) {
                Ok(Some((child, offered))) if offered.is_some() => (child.clone(), offered),
                _ if several.iter().all(|v| v.get("platform").is_some()) => {
                    return Err(ImageError::NoPlatform {
                        reference: reference.into(),
                        index: Digest::of(&bytes),
                        platform: platform.to_string(),
                        available: platforms_listed(&as_index),
                    });
                }
                _ => {
                    return Err(layout_error(
                        index_path,
                        format!(
                            "{} manifests; name one as oci-layout:DIR:TAG (names: {})",
                            several.len(),
                            if all_names.is_empty() {
                                "none".to_owned()
                            } else {
                                all_names.join(", ")
                            }
                        ),
                    ));
                }
            }
        }
    };
    let name = names_of(&chosen.0)
        .filter(|name| name.contains('/'))
        .map(|name| match name.rsplit_once(':') {
            Some((head, tail)) if !tail.contains('/') => head.to_owned(),
            _ => name,
        })
        .unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "image".into())
        });
    let (mut descriptor_value, mut chosen_platform) = chosen;
    let mut index_digest = None;
    for _ in 0..MAX_NESTING {
        let (digest, size) =
            descriptor(&descriptor_value).map_err(|r| layout_error(index_path.clone(), r))?;
        let manifest_error = |reason: String| ImageError::Manifest {
            reference: reference.into(),
            digest: digest.to_string(),
            reason,
        };
        if size > MAX_MANIFEST {
            return Err(manifest_error(format!(
                "described as {size} bytes, more than {MAX_MANIFEST}"
            )));
        }
        let bytes = read_layout_blob(dir, &digest, size, reference)?;
        let document = parse_manifest(&bytes, &digest).map_err(manifest_error)?;
        let described = descriptor_value["mediaType"].as_str();
        match shape(&document, described).map_err(manifest_error)? {
            Shape::Manifest => {
                let (layers, skipped_layers) = layers_of(&document).map_err(manifest_error)?;
                for layer in &layers {
                    let path = layout_blob_path(dir, &layer.digest);
                    match std::fs::symlink_metadata(&path) {
                        Ok(meta) if meta.is_file() && meta.len() == layer.size => {}
                        Ok(meta) if meta.is_file() => {
                            return Err(ImageError::LayerMissing {
                                reference: reference.into(),
                                digest: layer.digest.to_string(),
                                reason: format!(
                                    "{} has {} bytes, the manifest says {}",
                                    path.display(),
                                    meta.len(),
                                    layer.size
                                ),
                            });
                        }
                        Ok(_) => {
                            return Err(ImageError::LayerMissing {
                                reference: reference.into(),
                                digest: layer.digest.to_string(),
                                reason: format!("{} is not a regular file", path.display()),
                            });
                        }
                        Err(e) => {
                            return Err(ImageError::LayerMissing {
                                reference: reference.into(),
                                digest: layer.digest.to_string(),
                                reason: format!("{}: {e}", path.display()),
                            });
                        }
                    }
                }
                return Ok(Image {
                    reference: reference.into(),
                    name,
                    digest,
                    index: index_digest,
                    platform: chosen_platform,
                    layers,
                    skipped_layers,
                    source: Source::Layout(dir.to_path_buf()),
                });
            }
            Shape::Index => {
                let Some((child, offered)) =
                    pick_child(&document, platform).map_err(manifest_error)?
                else {
                    return Err(ImageError::NoPlatform {
                        reference: reference.into(),
                        index: digest,
                        platform: platform.to_string(),
                        available: platforms_listed(&document),
                    });
                };
                index_digest.get_or_insert(digest);
                descriptor_value = child.clone();
                chosen_platform = offered.or(chosen_platform);
            }
        }
    }
    Err(layout_error(
        index_path,
        format!("indexes nest more than {MAX_NESTING} deep"),
    ))
}

/// `DIR/blobs/sha256/<hex>`: the digest is parsed, so the name is 64 hex
/// digits and cannot leave the directory.
fn layout_blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs").join("sha256").join(digest.hex())
}

/// A small file of a layout, refused when it is not a regular file or over
/// `limit` bytes.
fn read_layout_file(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!("larger than {limit} bytes"));
    }
    Ok(bytes)
}

/// A manifest blob of a layout, its length checked against the descriptor
/// (the digest is checked by [`parse_manifest`]).
fn read_layout_blob(
    dir: &Path,
    digest: &Digest,
    size: u64,
    reference: &str,
) -> Result<Vec<u8>, ImageError> {
    let path = layout_blob_path(dir, digest);
    let bytes = read_layout_file(&path, size).map_err(|reason| ImageError::Blob {
        reference: reference.into(),
        digest: digest.to_string(),
        reason: format!("{}: {reason}", path.display()),
    })?;
    if bytes.len() as u64 != size {
        return Err(ImageError::Blob {
            reference: reference.into(),
            digest: digest.to_string(),
            reason: format!(
                "{} has {} bytes, the descriptor says {size}",
                path.display(),
                bytes.len()
            ),
        });
    }
    Ok(bytes)
}

impl Image {
    /// The image's layers as raw (still compressed) streams, bottom first,
    /// each opened only when the previous one is done.
    pub fn layer_stream(&self) -> LayerStream {
        LayerStream {
            image: self.clone(),
            next: 0,
            current: None,
            error: None,
        }
    }

    fn open_layer(&self, layer: &Layer) -> Result<Box<dyn Read>, ImageError> {
        let blob_error = |reason: String| ImageError::Blob {
            reference: self.reference.clone(),
            digest: layer.digest.to_string(),
            reason,
        };
        match &self.source {
            Source::Store(store) => store
                .blobs
                .open(&layer.digest)
                .map(|reader| Box::new(reader) as Box<dyn Read>)
                .map_err(|e| blob_error(format!("cannot be read from the store: {e}"))),
            Source::Layout(dir) => {
                let path = layout_blob_path(dir, &layer.digest);
                let meta = std::fs::symlink_metadata(&path)
                    .map_err(|e| blob_error(format!("{}: {e}", path.display())))?;
                if !meta.is_file() {
                    return Err(blob_error(format!(
                        "{} is not a regular file",
                        path.display()
                    )));
                }
                std::fs::File::open(&path)
                    .map(|file| Box::new(file) as Box<dyn Read>)
                    .map_err(|e| blob_error(format!("{}: {e}", path.display())))
            }
        }
    }
}

/// The state of one layer being read: its bytes counted and hashed.
struct Verifying {
    inner: Box<dyn Read>,
    layer: Layer,
    hasher: Option<Sha256>,
    count: u64,
    /// Set once the end is reached: whether length and digest matched.
    outcome: Option<Result<(), String>>,
}

impl Verifying {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if let Some(outcome) = &self.outcome {
            return match outcome {
                Ok(()) => Ok(0),
                Err(reason) => Err(io::Error::new(io::ErrorKind::InvalidData, reason.clone())),
            };
        }
        let room = self.layer.size.saturating_sub(self.count).saturating_add(1);
        let limit = buffer
            .len()
            .min(usize::try_from(room).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buffer[..limit])?;
        self.count += read as u64;
        if self.count > self.layer.size {
            let reason = format!(
                "layer {} is longer than the {} bytes its manifest says",
                self.layer.digest, self.layer.size
            );
            self.outcome = Some(Err(reason.clone()));
            return Err(io::Error::new(io::ErrorKind::InvalidData, reason));
        }
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buffer[..read]);
        }
        if read == 0 && limit > 0 {
            let actual = self.hasher.take().map(Sha256::finish);
            let outcome = if self.count != self.layer.size {
                Err(format!(
                    "layer {} has {} bytes, its manifest says {}",
                    self.layer.digest, self.count, self.layer.size
                ))
            } else if actual != Some(self.layer.digest) {
                Err(format!(
                    "layer {} does not hash to its digest (it is damaged or was altered)",
                    self.layer.digest
                ))
            } else {
                Ok(())
            };
            self.outcome = Some(outcome);
            return self.read(buffer);
        }
        Ok(read)
    }

    /// Reads what the consumer left (the tar reader stops at the end of
    /// archive marker) so the digest covers every byte.
    fn finish(&mut self) -> Result<(), String> {
        let mut buffer = vec![0u8; 64 << 10];
        loop {
            match self.read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

/// One layer's raw bytes, checked as they are read: reading past the
/// manifest's length, or reaching the end with another length or digest, is
/// an error of kind `InvalidData`.
pub struct LayerReader(Rc<RefCell<Verifying>>);

impl Read for LayerReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buffer)
    }
}

/// The layers of an image, one [`LayerReader`] at a time. Before the next
/// layer is opened, the previous one is read to its end and checked; a
/// layer that cannot be opened or does not check ends the iteration, and
/// [`LayerStream::finish`] reports why. Always call it: an inspection that
/// saw fewer layers than the image has is not an answer.
pub struct LayerStream {
    image: Image,
    next: usize,
    current: Option<Rc<RefCell<Verifying>>>,
    error: Option<ImageError>,
}

impl LayerStream {
    fn check_current(&mut self) {
        if let Some(current) = self.current.take() {
            let mut state = current.borrow_mut();
            if let Err(reason) = state.finish() {
                self.error.get_or_insert(ImageError::Blob {
                    reference: self.image.reference.clone(),
                    digest: state.layer.digest.to_string(),
                    reason,
                });
            }
        }
    }

    /// Checks the last layer read and returns the first problem met: a
    /// layer that could not be opened, was cut short, or does not hash to
    /// its digest; or layers never read.
    pub fn finish(mut self) -> Result<(), ImageError> {
        self.check_current();
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        if let Some(layer) = self.image.layers.get(self.next) {
            return Err(ImageError::Blob {
                reference: self.image.reference.clone(),
                digest: layer.digest.to_string(),
                reason: "never read (the inspection stopped before it)".into(),
            });
        }
        Ok(())
    }
}

impl Iterator for LayerStream {
    type Item = LayerReader;

    fn next(&mut self) -> Option<LayerReader> {
        self.check_current();
        if self.error.is_some() {
            return None;
        }
        let layer = self.image.layers.get(self.next)?.clone();
        match self.image.open_layer(&layer) {
            Ok(inner) => {
                self.next += 1;
                let state = Rc::new(RefCell::new(Verifying {
                    inner,
                    layer,
                    hasher: Some(Sha256::new()),
                    count: 0,
                    outcome: None,
                }));
                self.current = Some(state.clone());
                Some(LayerReader(state))
            }
            Err(error) => {
                self.error = Some(error);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn platforms_parse_and_match() {
        let arm = Platform::parse("linux/arm64/v8").unwrap();
        let plain_arm = Platform::parse("linux/arm64").unwrap();
        assert!(arm.accepts(&plain_arm), "arm64 without a variant is v8");
        assert!(plain_arm.accepts(&arm));
        assert!(
            !Platform::parse("linux/arm/v6")
                .unwrap()
                .accepts(&Platform::parse("linux/arm/v7").unwrap())
        );
        assert_eq!(Platform::default().to_string(), "linux/amd64");
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            assert!(Platform::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn store_references_parse() {
        let (repositories, wanted) = parse_store_reference("team/app").unwrap();
        assert_eq!(repositories, ["team/app"]);
        assert!(matches!(wanted, Wanted::Tag(tag) if tag == "latest"));
        let (repositories, wanted) =
            parse_store_reference("registry.example.com:5000/team/app:1.4").unwrap();
        assert_eq!(repositories, ["team/app"]);
        assert!(matches!(wanted, Wanted::Tag(tag) if tag == "1.4"));
        let pinned = format!("team/app:1.4@sha256:{}", "a".repeat(64));
        assert!(matches!(
            parse_store_reference(&pinned).unwrap().1,
            Wanted::Digest(_)
        ));
        for bad in [
            "Team/app",
            "team/app:",
            "team/app@sha256:00",
            "team/app@md5:00",
        ] {
            assert!(parse_store_reference(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            parse_layout_reference("oci-layout:dir:v1"),
            Some((PathBuf::from("dir"), Some("v1".into())))
        );
        assert_eq!(parse_layout_reference("team/app"), None);
    }

    #[test]
    fn manifests_are_classified_by_media_type() {
        let index = serde_json::json!({"mediaType": OCI_INDEX, "manifests": []});
        assert!(matches!(shape(&index, Some(OCI_INDEX)), Ok(Shape::Index)));
        assert!(shape(&index, Some(OCI_MANIFEST)).is_err());
        let helm = serde_json::json!({"mediaType": "application/vnd.cncf.helm.chart.v1+json"});
        assert!(shape(&helm, None).is_err());
        let bare = serde_json::json!({"layers": [], "config": {}});
        assert!(matches!(shape(&bare, None), Ok(Shape::Manifest)));
    }

    /// A reader that checks a layer: the right bytes pass, a changed byte,
    /// a short or a long blob are errors.
    #[test]
    fn layers_are_checked_while_they_stream() {
        let data = b"layer bytes".to_vec();
        let layer = Layer {
            digest: Digest::of(&data),
            size: data.len() as u64,
            media_type: LAYER_TYPES[0].into(),
        };
        let read_all = |bytes: Vec<u8>| {
            let mut state = Verifying {
                inner: Box::new(io::Cursor::new(bytes)),
                layer: layer.clone(),
                hasher: Some(Sha256::new()),
                count: 0,
                outcome: None,
            };
            let mut sink = Vec::new();
            let mut buffer = [0u8; 3];
            loop {
                match state.read(&mut buffer) {
                    Ok(0) => return Ok(sink),
                    Ok(n) => sink.extend_from_slice(&buffer[..n]),
                    Err(e) => return Err(e.to_string()),
                }
            }
        };
        assert_eq!(read_all(data.clone()).unwrap(), data);
        let mut changed = data.clone();
        changed[0] ^= 1;
        assert!(read_all(changed).unwrap_err().contains("does not hash"));
        assert!(
            read_all(data[..4].to_vec())
                .unwrap_err()
                .contains("has 4 bytes")
        );
        let mut long = data.clone();
        long.push(b'!');
        assert!(read_all(long).unwrap_err().contains("longer than"));
    }
}
