//! Collecting images from an OCI or Docker registry into the store.
//!
//! For each declared image: the manifest (or index) is fetched with every
//! manifest media type accepted, hashed, and checked against the pinned
//! digest and the registry's `Docker-Content-Digest`; it is stored byte-exact,
//! so the digest a user pinned resolves inside the gap. An index is kept whole;
//! `platforms` narrows which child manifests (and blobs) are carried. Then
//! every config and layer is streamed into the store through the fetcher
//! (bounded parallelism, retries, Range resume, digest verified before it is
//! visible; blobs already stored are not fetched again). Referrers (the OCI 1.1
//! API) and cosign-style `sha256-<hex>.sig/.att/.sbom` tags come along unless
//! `referrers = false`.
//!
//! Authentication: anonymous, HTTP basic, and the bearer-token challenge
//! (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`), with credentials
//! from a docker-style `config.json` (`$DOCKER_CONFIG/config.json` or
//! `~/.docker/config.json`). Credentials are never logged.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use airlift_core::{Digest, SafeUrl};
use airlift_fetch::credentials::{self, AuthScheme};
use airlift_fetch::{FetchError, FetchProgress, Fetcher, Request, Secret};
use airlift_store::{Entry, Store, StoreError};
use base64::Engine;
use serde_json::Value;

use crate::index;
use crate::spec::{ImageRef, ImageSpec, parse_image};

/// Every manifest media type a registry may answer with.
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.artifact.manifest.v1+json";
/// Largest manifest accepted.
const MAX_MANIFEST: usize = 4 << 20;

/// Why an image could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The declaration is unusable.
    #[error("[[oci]] entry {index} ({image:?}): {message}")]
    Spec {
        /// 1-based entry number.
        index: usize,
        /// The image as written.
        image: String,
        /// What is wrong.
        message: String,
    },
    /// The registry refused or answered unexpectedly.
    #[error("{image}: {message}")]
    Registry {
        /// The image.
        image: String,
        /// What happened.
        message: String,
    },
    /// The registry served content that does not match its digest.
    #[error(
        "{image}: the registry served {what} whose digest is {actual}, expected {expected}; nothing was stored"
    )]
    Digest {
        /// The image.
        image: String,
        /// Which content.
        what: String,
        /// The digest it should have.
        expected: Digest,
        /// The digest of what arrived.
        actual: Digest,
    },
    /// A download failed.
    #[error("{image}: {source}")]
    Fetch {
        /// The image.
        image: String,
        /// The cause.
        source: Box<FetchError>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What collecting images produced.
#[derive(Debug, Default)]
pub struct Collected {
    /// Index entries: manifests, tags and blob links.
    pub entries: Vec<Entry>,
    /// Images declared.
    pub images: u64,
    /// Manifests stored (images, indexes, referrers, signatures).
    pub manifests: u64,
    /// Blobs carried.
    pub blobs: u64,
    /// Bytes of blobs carried.
    pub bytes: u64,
    /// Child manifests of indexes left out by `platforms`, as `image platform`.
    pub left_out: Vec<String>,
}

/// Checks the declarations before any network access.
pub fn plan(specs: &[ImageSpec]) -> Result<Vec<(ImageSpec, ImageRef)>, CollectError> {
    specs
        .iter()
        .enumerate()
        .map(|(position, spec)| {
            let spec_error = |message: String| CollectError::Spec {
                index: position + 1,
                image: spec.image.clone(),
                message,
            };
            let image = parse_image(&spec.image).map_err(spec_error)?;
            if let Some(name) = &spec.serve_as
                && !crate::names::valid_repository(name)
            {
                return Err(spec_error(format!(
                    "`as = {name:?}` is not a valid repository name"
                )));
            }
            // Checked now, so a missing variable fails before any network
            // access; read again when a registry asks for credentials.
            credentials::resolve_optional(spec.credentials.as_deref(), AuthScheme::Basic)
                .map_err(|e| spec_error(e.to_string()))?;
            for platform in spec.platforms.iter().flatten() {
                if platform.split('/').count() < 2 {
                    return Err(spec_error(format!(
                        "platform {platform:?} is not os/architecture[/variant]"
                    )));
                }
            }
            Ok((spec.clone(), image))
        })
        .collect()
}

/// Collects every planned image.
pub async fn collect(
    store: &Store,
    fetcher: &Fetcher,
    planned: &[(ImageSpec, ImageRef)],
    progress: Arc<dyn FetchProgress>,
) -> Result<Collected, CollectError> {
    let mut collected = Collected::default();
    for (spec, image) in planned {
        let client = Client::new(fetcher, spec, image);
        let repository = spec.serve_as.clone().unwrap_or_else(|| image.path.clone());
        let mut state = ImageState {
            client: &client,
            store,
            spec,
            manifests: BTreeMap::new(),
            blobs: BTreeMap::new(),
            left_out: Vec::new(),
        };
        let reference = image
            .digest
            .map(|d| d.to_string())
            .or_else(|| image.tag.clone())
            .unwrap_or_default();
        let root = state.manifest(&reference, image.digest, true).await?;
        let Some(root) = root else {
            return Err(client.error(format!("manifest {reference} not found")));
        };
        if spec.referrers {
            state.referrers().await?;
        }
        state.download(progress.clone()).await?;
        collected.images += 1;
        collected.manifests += state.manifests.len() as u64;
        collected
            .left_out
            .extend(state.left_out.iter().map(|p| format!("{} {p}", spec.image)));
        for (digest, (size, meta, _)) in &state.manifests {
            collected.entries.push(index::entry(
                index::manifest_key(&repository, digest),
                *digest,
                *size,
                meta.clone(),
            ));
        }
        for (digest, size) in &state.blobs {
            collected.blobs += 1;
            collected.bytes += size;
            collected.entries.push(index::entry(
                index::blob_key(&repository, digest),
                *digest,
                *size,
                serde_json::json!({}),
            ));
        }
        let mut tags: Vec<(String, Digest)> = state
            .manifests
            .iter()
            .flat_map(|(digest, (_, _, tags))| tags.iter().map(move |tag| (tag.clone(), *digest)))
            .collect();
        if let Some(tag) = &image.tag {
            tags.push((tag.clone(), root));
        }
        for (tag, digest) in tags {
            let (size, meta, _) = &state.manifests[&digest];
            collected.entries.push(index::entry(
                index::tag_key(&repository, &tag),
                digest,
                *size,
                serde_json::json!({"media_type": meta["media_type"]}),
            ));
        }
    }
    // The same repository may be declared twice (two tags): keep one entry per key.
    let mut seen = BTreeSet::new();
    collected.entries.retain(|e| seen.insert(e.key.clone()));
    Ok(collected)
}

/// The manifests and blobs of one declared image.
struct ImageState<'a> {
    client: &'a Client<'a>,
    store: &'a Store,
    spec: &'a ImageSpec,
    /// digest → (size, index meta, extra tags such as cosign's).
    manifests: BTreeMap<Digest, (u64, Value, Vec<String>)>,
    /// digest → size of every blob to carry.
    blobs: BTreeMap<Digest, u64>,
    left_out: Vec<String>,
}

impl ImageState<'_> {
    /// Fetches, verifies and stores one manifest and, recursively, the
    /// manifests an index lists. Returns its digest, or `None` when the
    /// registry does not have it and `required` is false.
    async fn manifest(
        &mut self,
        reference: &str,
        expected: Option<Digest>,
        required: bool,
    ) -> Result<Option<Digest>, CollectError> {
        let Some((bytes, media_type)) = self.client.manifest(reference, expected, required).await?
        else {
            return Ok(None);
        };
        let digest = Digest::of(&bytes);
        if self.manifests.contains_key(&digest) {
            return Ok(Some(digest));
        }
        let parsed: Value = serde_json::from_slice(&bytes).map_err(|e| {
            self.client
                .error(format!("manifest {digest} is not JSON: {e}"))
        })?;
        store_bytes(self.store, &bytes, &digest)?;
        let media_type = parsed["mediaType"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or(media_type);
        self.manifests.insert(
            digest,
            (
                bytes.len() as u64,
                index::manifest_meta(&parsed, &media_type),
                Vec::new(),
            ),
        );
        if let Some(children) = parsed.get("manifests").and_then(Value::as_array) {
            let left_out_before = self.left_out.len();
            for child in children {
                let Some(child_digest) = child["digest"]
                    .as_str()
                    .and_then(|d| crate::names::parse_digest(d).ok())
                else {
                    return Err(self.client.error(format!(
                        "index {digest} lists a manifest without a usable digest"
                    )));
                };
                if !self.platform_wanted(&child["platform"]) {
                    self.left_out.push(platform_name(&child["platform"]));
                    continue;
                }
                Box::pin(self.manifest(&child_digest.to_string(), Some(child_digest), true))
                    .await?;
            }
            if self.left_out.len() > left_out_before
                && let Some(entry) = self.manifests.get_mut(&digest)
            {
                // `airlift plan` shows this note next to the index.
                entry.1["note"] = Value::String(format!(
                    "platforms left out: {}",
                    self.left_out[left_out_before..].join(", ")
                ));
            }
        }
        for (field, text) in index::referenced_blobs(&parsed) {
            let blob = text
                .as_deref()
                .and_then(|t| crate::names::parse_digest(t).ok())
                .ok_or_else(|| {
                    self.client.error(format!(
                        "manifest {digest} has a {field} without a usable digest"
                    ))
                })?;
            let size = parsed_size(&parsed, &blob);
            self.blobs.insert(blob, size);
        }
        Ok(Some(digest))
    }

    fn platform_wanted(&self, platform: &Value) -> bool {
        let Some(wanted) = &self.spec.platforms else {
            return true;
        };
        if platform.is_null() {
            // Attestation manifests in an index have no platform; keep them.
            return true;
        }
        let name = platform_name(platform);
        wanted
            .iter()
            .any(|w| *w == name || name.starts_with(&format!("{w}/")))
    }

    /// Referrers of every collected manifest, and cosign-style tags.
    async fn referrers(&mut self) -> Result<(), CollectError> {
        let subjects: Vec<Digest> = self.manifests.keys().copied().collect();
        for subject in subjects {
            if let Some(list) = self.client.referrers(&subject).await? {
                for descriptor in list {
                    if let Some(referrer) = descriptor["digest"]
                        .as_str()
                        .and_then(|d| crate::names::parse_digest(d).ok())
                    {
                        self.manifest(&referrer.to_string(), Some(referrer), false)
                            .await?;
                    }
                }
            }
            for suffix in ["sig", "att", "sbom"] {
                let tag = format!("sha256-{}.{suffix}", subject.hex());
                if let Some(digest) = self.manifest(&tag, None, false).await?
                    && let Some(entry) = self.manifests.get_mut(&digest)
                {
                    entry.2.push(tag);
                }
            }
        }
        Ok(())
    }

    /// Streams every blob into the store (skipping those already there).
    async fn download(&mut self, progress: Arc<dyn FetchProgress>) -> Result<(), CollectError> {
        let authorization = self.client.current_token();
        let requests = self
            .blobs
            .keys()
            .map(|digest| {
                Ok(Request {
                    url: self.client.url(&format!("blobs/{digest}"))?,
                    expected: Some(*digest),
                    authorization: authorization.clone(),
                })
            })
            .collect::<Result<Vec<Request>, CollectError>>()?;
        let digests: Vec<Digest> = self.blobs.keys().copied().collect();
        let results = self
            .client
            .fetcher
            .fetch_all(self.store, requests, progress)
            .await;
        for (digest, result) in digests.into_iter().zip(results) {
            match result {
                Ok(fetched) => {
                    self.blobs.insert(digest, fetched.size);
                }
                Err(FetchError::DigestMismatch {
                    expected, actual, ..
                }) => {
                    return Err(CollectError::Digest {
                        image: self.spec.image.clone(),
                        what: format!("blob {expected}"),
                        expected,
                        actual,
                    });
                }
                Err(source) => {
                    return Err(CollectError::Fetch {
                        image: self.spec.image.clone(),
                        source: Box::new(source),
                    });
                }
            }
        }
        Ok(())
    }
}

fn platform_name(platform: &Value) -> String {
    let mut name = format!(
        "{}/{}",
        platform["os"].as_str().unwrap_or("?"),
        platform["architecture"].as_str().unwrap_or("?")
    );
    if let Some(variant) = platform["variant"].as_str() {
        name.push('/');
        name.push_str(variant);
    }
    name
}

fn parsed_size(parsed: &Value, digest: &Digest) -> u64 {
    let text = digest.to_string();
    let mut descriptors = Vec::new();
    if let Some(config) = parsed.get("config") {
        descriptors.push(config);
    }
    for field in ["layers", "blobs"] {
        if let Some(list) = parsed.get(field).and_then(Value::as_array) {
            descriptors.extend(list.iter());
        }
    }
    descriptors
        .into_iter()
        .find(|d| d["digest"].as_str() == Some(text.as_str()))
        .and_then(|d| d["size"].as_u64())
        .unwrap_or(0)
}

fn store_bytes(store: &Store, bytes: &[u8], digest: &Digest) -> Result<(), StoreError> {
    if store.blobs.size(digest)?.is_some() {
        return Ok(());
    }
    let mut writer = store.blobs.writer()?;
    std::io::Write::write_all(&mut writer, bytes).map_err(|source| StoreError::Io {
        action: "write manifest",
        path: digest.to_string().into(),
        source,
    })?;
    writer.commit(Some(digest))?;
    Ok(())
}

/// One registry conversation: URLs, authentication, manifests and referrers.
struct Client<'a> {
    fetcher: &'a Fetcher,
    base: String,
    path: String,
    image: String,
    registry: String,
    credentials: Option<String>,
    token: Mutex<Option<Secret>>,
}

impl<'a> Client<'a> {
    fn new(fetcher: &'a Fetcher, spec: &ImageSpec, image: &ImageRef) -> Self {
        let scheme = if spec.plain_http { "http" } else { "https" };
        Self {
            fetcher,
            base: format!("{scheme}://{}", image.registry),
            path: image.path.clone(),
            image: spec.image.clone(),
            registry: image.registry.clone(),
            credentials: spec.credentials.clone(),
            token: Mutex::new(None),
        }
    }

    fn error(&self, message: String) -> CollectError {
        CollectError::Registry {
            image: self.image.clone(),
            message,
        }
    }

    fn url(&self, tail: &str) -> Result<SafeUrl, CollectError> {
        SafeUrl::parse(&format!("{}/v2/{}/{tail}", self.base, self.path))
            .map_err(|e| self.error(format!("cannot build a registry URL: {e}")))
    }

    fn current_token(&self) -> Option<Secret> {
        self.token.lock().ok().and_then(|t| t.clone())
    }

    /// GETs a small document, answering an authentication challenge once.
    async fn get(&self, url: &SafeUrl, accept: &str) -> Result<airlift_fetch::Small, CollectError> {
        let fetch = |authorization: Option<Secret>| async move {
            self.fetcher
                .get_small(
                    url,
                    &[("Accept", accept)],
                    authorization.as_ref(),
                    MAX_MANIFEST,
                )
                .await
                .map_err(|source| CollectError::Fetch {
                    image: self.image.clone(),
                    source: Box::new(source),
                })
        };
        let response = fetch(self.current_token()).await?;
        if response.status != airlift_fetch::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge = response
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let authorization = self.authorize(&challenge).await?;
        if let Ok(mut token) = self.token.lock() {
            *token = Some(authorization.clone());
        }
        fetch(Some(authorization)).await
    }

    /// Answers a `WWW-Authenticate` challenge: basic credentials, or a bearer
    /// token from the realm the registry names.
    async fn authorize(&self, challenge: &str) -> Result<Secret, CollectError> {
        let basic = match &self.credentials {
            Some(reference) => credentials::resolve(reference, AuthScheme::Basic).ok(),
            None => docker_credentials(&self.registry)
                .map(|(user, password)| credentials::basic(&user, &password)),
        };
        let (scheme, parameters) = challenge.split_once(' ').unwrap_or((challenge, ""));
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => basic.ok_or_else(|| {
                self.error(
                    "the registry asks for credentials; add them to a docker config.json".into(),
                )
            }),
            "bearer" => {
                let parameters = parse_challenge(parameters);
                let realm = parameters
                    .get("realm")
                    .ok_or_else(|| self.error("bearer challenge without a realm".into()))?;
                let mut url = url::Url::parse(realm)
                    .map_err(|e| self.error(format!("bearer realm is not a URL: {e}")))?;
                {
                    let mut query = url.query_pairs_mut();
                    if let Some(service) = parameters.get("service") {
                        query.append_pair("service", service);
                    }
                    let scope = parameters
                        .get("scope")
                        .cloned()
                        .unwrap_or_else(|| format!("repository:{}:pull", self.path));
                    query.append_pair("scope", &scope);
                }
                let url = SafeUrl::from(url);
                let response = self
                    .fetcher
                    .get_small(
                        &url,
                        &[("Accept", "application/json")],
                        basic.as_ref(),
                        1 << 20,
                    )
                    .await
                    .map_err(|source| CollectError::Fetch {
                        image: self.image.clone(),
                        source: Box::new(source),
                    })?;
                if !response.status.is_success() {
                    return Err(
                        self.error(format!("token service {url} answered {}", response.status))
                    );
                }
                let body: Value = serde_json::from_slice(&response.body)
                    .map_err(|e| self.error(format!("token service answer is not JSON: {e}")))?;
                let token = body["token"]
                    .as_str()
                    .or_else(|| body["access_token"].as_str())
                    .ok_or_else(|| self.error("token service answer has no token".into()))?;
                Ok(Secret(format!("Bearer {token}")))
            }
            _ => Err(self.error(format!("unsupported authentication scheme {scheme:?}"))),
        }
    }

    /// Fetches a manifest; `None` when absent and not required.
    async fn manifest(
        &self,
        reference: &str,
        expected: Option<Digest>,
        required: bool,
    ) -> Result<Option<(Vec<u8>, String)>, CollectError> {
        let url = self.url(&format!("manifests/{reference}"))?;
        let response = self.get(&url, ACCEPT).await?;
        if response.status.as_u16() == 404 && !required {
            return Ok(None);
        }
        if !response.status.is_success() {
            return Err(self.error(format!(
                "manifest {reference}: the registry answered {}",
                response.status
            )));
        }
        let actual = Digest::of(&response.body);
        let announced = response
            .headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::names::parse_digest(v).ok());
        for claimed in [expected, announced].into_iter().flatten() {
            if claimed != actual {
                return Err(CollectError::Digest {
                    image: self.image.clone(),
                    what: format!("manifest {reference}"),
                    expected: claimed,
                    actual,
                });
            }
        }
        let media_type = response
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
            .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into());
        Ok(Some((response.body, media_type)))
    }

    /// The referrers of a manifest: from the referrers API, or, for
    /// registries without it, from the fallback tag `sha256-<hex>` that OCI
    /// 1.1 clients maintain.
    async fn referrers(&self, subject: &Digest) -> Result<Option<Vec<Value>>, CollectError> {
        let url = self.url(&format!("referrers/{subject}"))?;
        let response = self
            .get(&url, "application/vnd.oci.image.index.v1+json")
            .await?;
        let body = if response.status.is_success() {
            response.body
        } else {
            match self
                .manifest(&format!("sha256-{}", subject.hex()), None, false)
                .await?
            {
                Some((body, _)) => body,
                None => return Ok(None),
            }
        };
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok(body["manifests"].as_array().cloned())
    }
}

/// `key="value", key2="value2"` from a challenge.
fn parse_challenge(parameters: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = parameters.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((value, remainder)) => (value.to_owned(), remainder),
                None => (quoted.to_owned(), ""),
            }
        } else {
            match after.split_once(',') {
                Some((value, remainder)) => (value.trim().to_owned(), remainder),
                None => (after.trim().to_owned(), ""),
            }
        };
        out.insert(key, value);
        rest = remainder.trim_start_matches(',').trim();
    }
    out
}

/// Credentials for a registry from a docker-style `config.json`.
fn docker_credentials(registry: &str) -> Option<(String, String)> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::PathBuf::from(home).join(".docker"))
        })?;
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let config: Value = serde_json::from_str(&text).ok()?;
    let auths = config["auths"].as_object()?;
    let entry = auths
        .iter()
        .find(|(key, _)| {
            key.trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches('/')
                == registry
        })?
        .1;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry["auth"].as_str()?)
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credentials_reference_names_a_user_and_a_password() {
        let spec = |credentials: &str| ImageSpec {
            image: "registry.example.com/team/app:1".into(),
            platforms: None,
            referrers: true,
            serve_as: None,
            plain_http: false,
            credentials: Some(credentials.into()),
        };
        let unset = plan(&[spec("AIRLIFT_TEST_UNSET_REFERENCE")]).expect_err("unset");
        assert!(
            unset.to_string().ends_with(
                "credentials = \"AIRLIFT_TEST_UNSET_REFERENCE\" but AIRLIFT_TEST_UNSET_REFERENCE_USERNAME is not set"
            ),
            "{unset}"
        );
        let bad = plan(&[spec("team-registry")]).expect_err("bad");
        assert!(
            bad.to_string()
                .contains("must name environment variables (letters, digits and _)"),
            "{bad}"
        );
    }

    #[test]
    fn bearer_challenges_parse() {
        let parsed = parse_challenge(
            r#"realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull""#,
        );
        assert_eq!(parsed["realm"], "https://auth.example.com/token");
        assert_eq!(parsed["service"], "registry.example.com");
        assert_eq!(parsed["scope"], "repository:team/app:pull");
    }
}
