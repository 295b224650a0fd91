//! Publishing to the registry under `/npm/`: `npm publish`, `npm unpublish`
//! and `npm whoami`, for packages made inside the site.
//!
//! - `PUT /npm/<name>`: the document `npm publish` sends (the version's
//!   manifest under `versions`, the tarball base64-encoded under
//!   `_attachments`). Everything is checked before anything is stored: the
//!   body's size, that the names and the version agree with the URL and
//!   each other, and that the tarball hashes to the manifest's `integrity`
//!   and `shasum`. A version is published once: publishing over it is
//!   refused, as npm registries do. The tarball becomes a blob and the
//!   version the same `v:` entry a collect makes, next to the package's
//!   `p:` document, in one generation whose audit event names the caller.
//! - `PUT /npm/<name>/-rev/<rev>` (the packument without the versions to
//!   drop, which `npm unpublish <name>@<version>` sends), `DELETE
//!   /npm/<name>/-rev/<rev>` (the whole package) and `DELETE
//!   /npm/<name>/-/<file>/-rev/<rev>` (one tarball): unpublishing.
//! - `GET /npm/-/whoami`: the caller, for `npm whoami`.
//! - `GET`, `PUT`, `DELETE /npm/-/package/<name>/dist-tags[/<tag>]`: the
//!   package's tags, for `npm dist-tag ls|add|rm`.
//!
//! Publishes are serialized within the server, so that two publishes of
//! one version cannot both see it absent.

use std::io::{Read, Write};

use airlift_core::Integrity;
use airlift_ecosystem::{Caller, Services};
use airlift_store::{Entry, Store};
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::StreamExt;
use serde_json::{Map, Value};

use crate::index::{PACKAGE, VERSION};

/// The largest request body a publish may send (the tarball, base64-encoded
/// inside JSON, so about 48 MiB of tarball).
pub const MAX_BODY: u64 = 64 << 20;

/// One publish (or unpublish) at a time in this server.
static PUBLISHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A refused request: its status and what to tell the client.
struct Refused(StatusCode, String);

impl Refused {
    fn bad(message: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, message.into())
    }

    fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!("npm publish failed: {message}");
        Self(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the registry could not store the change: {message}"),
        )
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (
            self.0,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "error": self.1 }).to_string(),
        )
            .into_response()
    }
}

/// `GET /npm/-/whoami`: `{"username": …}` of the caller, 401 when anonymous.
pub fn whoami(caller: Option<&Caller>) -> Response {
    match caller.and_then(|c| c.principal.as_deref()) {
        Some(user) => (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "username": user }).to_string(),
        )
            .into_response(),
        None => Refused(
            StatusCode::UNAUTHORIZED,
            "not logged in: send a token (`_authToken` in .npmrc)".into(),
        )
        .into_response(),
    }
}

/// Reads at most [`MAX_BODY`] bytes of `body`; more is a 413, whether the
/// client said so in `Content-Length` or not.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, Refused> {
    let too_large = || {
        Refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than {} MiB, the most a publish may send",
                MAX_BODY >> 20
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Refused::bad(format!("the request body broke off: {e}")))?;
        if (bytes.len() + chunk.len()) as u64 > MAX_BODY {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The current entries of package `name`: its versions and its document.
async fn current(store: &Store, name: &str) -> Result<(Vec<Entry>, Option<Entry>), Refused> {
    let name = name.to_owned();
    airlift_http::read_current(store.clone(), "npm publish", move |store, generation| {
        let versions = store.meta.entries_with_prefix(
            generation.id,
            crate::ECOSYSTEM,
            &format!("{VERSION}{name}/"),
        )?;
        let document =
            store
                .meta
                .entry(generation.id, crate::ECOSYSTEM, &format!("{PACKAGE}{name}"))?;
        Ok((versions, document))
    })
    .await
    .map_err(|_| Refused::internal("the index is unavailable"))
}

/// Stores `bytes` as a blob; returns its digest and size.
async fn store_blob(store: &Store, bytes: Vec<u8>) -> Result<(airlift_core::Digest, u64), Refused> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let digest = airlift_core::Digest::of(&bytes);
        let mut writer = store.blobs.writer().map_err(|e| e.to_string())?;
        writer
            .write_all(&bytes)
            .map_err(|e| format!("writing blob {digest}: {e}"))?;
        writer.commit(Some(&digest)).map_err(|e| e.to_string())
    })
    .await
    .map_err(Refused::internal)?
    .map_err(Refused::internal)
}

/// The package document of `existing` (or an empty one).
fn read_document(store: &Store, existing: Option<&Entry>) -> Map<String, Value> {
    existing
        .and_then(|entry| store.blobs.open(&entry.digest).ok())
        .and_then(|blob| {
            let mut bytes = Vec::new();
            blob.take(16 << 20).read_to_end(&mut bytes).ok()?;
            serde_json::from_slice::<Value>(&bytes).ok()
        })
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

/// Stores `document` as package `name`'s `p:` entry.
async fn document_entry(
    store: &Store,
    name: &str,
    document: Map<String, Value>,
) -> Result<Entry, Refused> {
    let bytes = serde_json::to_vec(&Value::Object(document)).map_err(Refused::internal)?;
    let (digest, size) = store_blob(store, bytes).await?;
    Ok(crate::index::package_entry(name, digest, size))
}

/// Now, as npm's `time` fields write it (`2026-12-07T01:02:03.000Z`).
fn now() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    rfc3339(seconds)
}

fn rfc3339(seconds: i64) -> String {
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = seconds.div_euclid(86_400) + 719_468;
    let rest = seconds.rem_euclid(86_400);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// What a publish document carries, checked.
struct Upload {
    version: String,
    manifest: Value,
    tarball: Vec<u8>,
    integrity: Integrity,
    tags: Vec<String>,
    description: Option<Value>,
}

/// Checks the document `npm publish` sent for package `name`.
fn check_upload(name: &str, body: &[u8]) -> Result<Upload, Refused> {
    let document: Value = serde_json::from_slice(body)
        .map_err(|e| Refused::bad(format!("the publish document is not JSON: {e}")))?;
    let field = |key: &str| document.get(key).filter(|v| !v.is_null());
    if let Some(named) = field("name").and_then(Value::as_str)
        && named != name
    {
        return Err(Refused::bad(format!(
            "the document names package {named:?} but the URL names {name:?}"
        )));
    }
    let versions = field("versions")
        .and_then(Value::as_object)
        .ok_or_else(|| Refused::bad("the publish document has no `versions`"))?;
    let [(version, manifest)] = versions.iter().collect::<Vec<_>>()[..] else {
        return Err(Refused::bad(format!(
            "a publish carries exactly one version, this one {}",
            versions.len()
        )));
    };
    if crate::range::parse_version(version).is_none() {
        return Err(Refused::bad(format!(
            "{version:?} is not a valid semver version"
        )));
    }
    let manifest_name = manifest.get("name").and_then(Value::as_str);
    if manifest_name != Some(name) {
        return Err(Refused::bad(format!(
            "the manifest of {version} names package {:?}, the URL {name:?}",
            manifest_name.unwrap_or("")
        )));
    }
    let manifest_version = manifest.get("version").and_then(Value::as_str);
    if manifest_version != Some(version.as_str()) {
        return Err(Refused::bad(format!(
            "the manifest says version {:?} under `versions` key {version:?}",
            manifest_version.unwrap_or("")
        )));
    }
    let attachments = field("_attachments")
        .and_then(Value::as_object)
        .ok_or_else(|| Refused::bad("the publish document has no `_attachments` (no tarball)"))?;
    let [(file, attachment)] = attachments.iter().collect::<Vec<_>>()[..] else {
        return Err(Refused::bad(format!(
            "a publish carries exactly one tarball, this one {}",
            attachments.len()
        )));
    };
    let data = attachment
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| Refused::bad(format!("attachment {file:?} has no `data`")))?;
    let tarball = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| Refused::bad(format!("attachment {file:?} is not base64: {e}")))?;
    if let Some(length) = attachment.get("length").and_then(Value::as_u64)
        && length != tarball.len() as u64
    {
        return Err(Refused::bad(format!(
            "attachment {file:?} says it is {length} bytes long but decodes to {}",
            tarball.len()
        )));
    }
    let dist = manifest.get("dist");
    let stated = |key: &str| dist.and_then(|d| d.get(key)).and_then(Value::as_str);
    let hash = |expected: &Integrity| {
        let mut hasher = expected.hasher();
        hasher.update(&tarball);
        hasher.finish()
    };
    let sha512 = hash(&Integrity::Sha512([0; 64]));
    let mut checked = false;
    if let Some(text) = stated("integrity") {
        let expected = Integrity::parse_sri(text).ok_or_else(|| {
            Refused::bad(format!(
                "dist.integrity {text:?} is not a sha512 or sha1 SRI"
            ))
        })?;
        let actual = hash(&expected);
        if actual != expected {
            return Err(Refused::bad(format!(
                "integrity mismatch: dist.integrity says {expected}, the tarball hashes to {actual}"
            )));
        }
        checked = true;
    }
    if let Some(text) = stated("shasum") {
        let expected = Integrity::from_sha1_hex(text)
            .ok_or_else(|| Refused::bad(format!("dist.shasum {text:?} is not 40 hex digits")))?;
        let actual = hash(&expected);
        if actual != expected {
            return Err(Refused::bad(format!(
                "shasum mismatch: dist.shasum says {text}, the tarball hashes to {actual}"
            )));
        }
        checked = true;
    }
    if !checked {
        return Err(Refused::bad(
            "the manifest states neither dist.integrity nor dist.shasum: the tarball cannot be checked",
        ));
    }
    let mut tags = Vec::new();
    if let Some(stated) = field("dist-tags").and_then(Value::as_object) {
        for (tag, target) in stated {
            if target.as_str() != Some(version.as_str()) {
                return Err(Refused::bad(format!(
                    "dist-tag {tag:?} points at {target}, not at the version published ({version})"
                )));
            }
            if crate::range::parse_version(tag).is_some() || tag.is_empty() {
                return Err(Refused::bad(format!("{tag:?} cannot be a dist-tag")));
            }
            tags.push(tag.clone());
        }
    }
    let mut manifest = manifest.clone();
    if let Some(object) = manifest.as_object_mut() {
        object.remove("readme");
        object.remove("readmeFilename");
        let dist = object
            .entry("dist")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(dist) = dist.as_object_mut() {
            dist.entry("integrity")
                .or_insert_with(|| sha512.to_sri().into());
        }
    }
    Ok(Upload {
        version: version.clone(),
        tarball,
        integrity: sha512,
        tags,
        description: manifest
            .get("description")
            .or_else(|| field("description"))
            .filter(|d| d.is_string())
            .cloned(),
        manifest,
    })
}

/// `PUT /npm/<name>`: one version, as `npm publish` sends it.
pub async fn publish(services: &Services, name: &str, headers: &HeaderMap, body: Body) -> Response {
    match publish_checked(services, name, headers, body).await {
        Ok(response) => response,
        Err(refused) => refused.into_response(),
    }
}

async fn publish_checked(
    services: &Services,
    name: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    if !crate::valid_name(name) {
        return Err(Refused::bad(format!(
            "{name:?} is not a valid package name"
        )));
    }
    let body = read_body(headers, body).await?;
    let upload = check_upload(name, &body)?;
    drop(body);
    let store = &services.store;
    let _one = PUBLISHING.lock().await;
    let (versions, existing) = current(store, name).await?;
    let key = format!("{VERSION}{name}/{}", upload.version);
    if versions.iter().any(|e| e.key == key) {
        return Err(Refused(
            StatusCode::CONFLICT,
            format!(
                "cannot publish over the previously published version {name}@{}",
                upload.version
            ),
        ));
    }
    let (digest, size) = store_blob(store, upload.tarball).await?;
    let time = now();
    let mut document = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || read_document(&store, existing.as_ref()))
            .await
            .map_err(Refused::internal)?
    };
    document.insert("name".into(), name.into());
    if let Some(description) = &upload.description {
        document.insert("description".into(), description.clone());
    }
    let tags = document
        .entry("dist-tags")
        .or_insert_with(|| Value::Object(Map::new()));
    if !tags.is_object() {
        *tags = Value::Object(Map::new());
    }
    if let Some(tags) = tags.as_object_mut() {
        for tag in &upload.tags {
            tags.insert(tag.clone(), upload.version.clone().into());
        }
    }
    let times = document
        .entry("time")
        .or_insert_with(|| Value::Object(Map::new()));
    if !times.is_object() {
        *times = Value::Object(Map::new());
    }
    if let Some(times) = times.as_object_mut() {
        if times.get("created").is_none_or(Value::is_null) {
            times.insert("created".into(), time.clone().into());
        }
        times.insert("modified".into(), time.clone().into());
    }
    let package = document_entry(store, name, document).await?;
    let version = crate::index::version_entry(
        name,
        &upload.version,
        digest,
        size,
        &upload.manifest,
        Some(&Value::String(time)),
        &upload.integrity.to_sri(),
    );
    airlift_ecosystem::publish::commit_change(
        services,
        crate::ECOSYSTEM,
        "registry-change",
        format!("publish {name}@{}", upload.version),
        vec![version, package],
        Vec::new(),
    )
    .await
    .map_err(Refused::internal)?;
    Ok((
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({"ok": true, "id": name, "success": true}).to_string(),
    )
        .into_response())
}

/// The package an unpublish path is about: `<name>/-rev/<rev>` or
/// `<name>/-/<file>/-rev/<rev>`, where npm repeats the registry's own path
/// (`npm/`) before the name of a tarball it deletes. `None` when the path
/// is not an unpublish path; also the tarball's file name.
pub fn unpublish_target(path: &str) -> Option<(String, Option<String>)> {
    let (before, _rev) = path.rsplit_once("/-rev/")?;
    let (name, file) = match before.split_once("/-/") {
        Some((name, file)) => (name, Some(file.to_owned())),
        None => (before, None),
    };
    let name = if crate::valid_name(name) {
        name
    } else {
        name.strip_prefix("npm/").filter(|n| crate::valid_name(n))?
    };
    Some((name.to_owned(), file))
}

/// Unpublishing: `PUT <name>/-rev/<rev>` with the versions to keep,
/// `DELETE <name>/-rev/<rev>` (all of it) or `DELETE
/// <name>/-/<file>/-rev/<rev>` (one version).
pub async fn unpublish(
    services: &Services,
    path: &str,
    put: bool,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    match unpublish_checked(services, path, put, headers, body).await {
        Ok(response) => response,
        Err(refused) => refused.into_response(),
    }
}

async fn unpublish_checked(
    services: &Services,
    path: &str,
    put: bool,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    let Some((name, file)) = unpublish_target(path) else {
        return Err(Refused(StatusCode::NOT_FOUND, "not found".into()));
    };
    let keep: Option<Vec<String>> = if put {
        let body = read_body(headers, body).await?;
        let document: Value = serde_json::from_slice(&body)
            .map_err(|e| Refused::bad(format!("the document is not JSON: {e}")))?;
        let versions = document
            .get("versions")
            .and_then(Value::as_object)
            .ok_or_else(|| Refused::bad("the document has no `versions`"))?;
        Some(versions.keys().cloned().collect())
    } else {
        None
    };
    let store = &services.store;
    let _one = PUBLISHING.lock().await;
    let (versions, existing) = current(store, &name).await?;
    let version_of = |entry: &Entry| entry.key.rsplit('/').next().unwrap_or_default().to_owned();
    let removed: Vec<&Entry> = match (&keep, &file) {
        (Some(keep), _) => versions
            .iter()
            .filter(|e| !keep.contains(&version_of(e)))
            .collect(),
        (None, Some(file)) => versions
            .iter()
            .filter(|e| format!("{}-{}.tgz", crate::base_name(&name), version_of(e)) == *file)
            .collect(),
        (None, None) => versions.iter().collect(),
    };
    if removed.is_empty() {
        // The tarball of a version the PUT before already dropped.
        if versions.is_empty() && existing.is_none() && file.is_none() {
            return Err(Refused(StatusCode::NOT_FOUND, format!("no package {name}")));
        }
        return Ok(ok());
    }
    let gone: Vec<String> = removed.iter().map(|e| version_of(e)).collect();
    let mut removals: Vec<String> = removed.iter().map(|e| e.key.clone()).collect();
    let mut upserts = Vec::new();
    if removed.len() == versions.len() {
        if let Some(existing) = &existing {
            removals.push(existing.key.clone());
        }
    } else if existing.is_some() {
        // Tags that pointed at a removed version go with it.
        let mut document = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || read_document(&store, existing.as_ref()))
                .await
                .map_err(Refused::internal)?
        };
        if let Some(tags) = document.get_mut("dist-tags").and_then(Value::as_object_mut) {
            tags.retain(|_, v| !v.as_str().is_some_and(|v| gone.iter().any(|g| g == v)));
        }
        if let Some(times) = document.get_mut("time").and_then(Value::as_object_mut) {
            times.insert("modified".into(), now().into());
        }
        upserts.push(document_entry(store, &name, document).await?);
    }
    airlift_ecosystem::publish::commit_change(
        services,
        crate::ECOSYSTEM,
        "registry-change",
        format!("unpublish {name}@{}", gone.join(",")),
        upserts,
        removals,
    )
    .await
    .map_err(Refused::internal)?;
    Ok(ok())
}

/// The package and tag of a dist-tags path,
/// `-/package/<name>/dist-tags[/<tag>]`; `None` when it is not one.
pub fn dist_tags_target(path: &str) -> Option<(String, Option<String>)> {
    let (name, tail) = path.strip_prefix("-/package/")?.split_once("/dist-tags")?;
    if !crate::valid_name(name) {
        return None;
    }
    let tag = match tail {
        "" | "/" => None,
        tail => Some(tail.strip_prefix('/')?.to_owned()),
    };
    Some((name.to_owned(), tag))
}

/// `npm dist-tag ls` (`GET …/dist-tags`), `add` (`PUT …/dist-tags/<tag>`
/// with the version as a JSON string) and `rm` (`DELETE …/dist-tags/<tag>`).
pub async fn dist_tags(
    services: &Services,
    method: &axum::http::Method,
    path: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    match dist_tags_checked(services, method, path, headers, body).await {
        Ok(response) => response,
        Err(refused) => refused.into_response(),
    }
}

async fn dist_tags_checked(
    services: &Services,
    method: &axum::http::Method,
    path: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    let not_found = |what: String| Refused(StatusCode::NOT_FOUND, what);
    let Some((name, tag)) = dist_tags_target(path) else {
        return Err(not_found("not found".into()));
    };
    let store = &services.store;
    if *method == axum::http::Method::GET {
        // The tags as the packument states them (only carried versions,
        // `latest` always).
        let name = name.clone();
        let rendered =
            airlift_http::read_current(store.clone(), "npm dist-tags", move |store, generation| {
                crate::serve::packument(store, generation, &name, "", true)
            })
            .await
            .map_err(|_| Refused::internal("the index is unavailable"))?;
        let tags = rendered
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|doc| doc.get("dist-tags").cloned())
            .ok_or_else(|| not_found(format!("no package {path}")))?;
        return Ok((
            [(header::CONTENT_TYPE, "application/json")],
            tags.to_string(),
        )
            .into_response());
    }
    let Some(tag) = tag.filter(|t| !t.is_empty() && !t.contains('/')) else {
        return Err(Refused::bad("name a tag: …/dist-tags/<tag>"));
    };
    if crate::range::parse_version(&tag).is_some() || tag.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(Refused::bad(format!(
            "{tag:?} cannot be a dist-tag: it reads as a version"
        )));
    }
    let target = if *method == axum::http::Method::PUT {
        let body = read_body(headers, body).await?;
        let version: String = serde_json::from_slice(&body).map_err(|_| {
            Refused::bad("the body of a dist-tag PUT is the version as a JSON string")
        })?;
        Some(version)
    } else {
        None
    };
    let _one = PUBLISHING.lock().await;
    let (versions, existing) = current(store, &name).await?;
    if versions.is_empty() {
        return Err(not_found(format!("no package {name}")));
    }
    if let Some(version) = &target
        && !versions
            .iter()
            .any(|e| e.key == format!("{VERSION}{name}/{version}"))
    {
        return Err(not_found(format!("no version {name}@{version}")));
    }
    if target.is_none() && tag == "latest" {
        return Err(Refused::bad("`latest` cannot be removed"));
    }
    let mut document = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || read_document(&store, existing.as_ref()))
            .await
            .map_err(Refused::internal)?
    };
    document.insert("name".into(), name.clone().into());
    let tags = document
        .entry("dist-tags")
        .or_insert_with(|| Value::Object(Map::new()));
    if !tags.is_object() {
        *tags = Value::Object(Map::new());
    }
    let Some(tags) = tags.as_object_mut() else {
        return Err(Refused::internal("dist-tags is not an object"));
    };
    let change = match &target {
        Some(version) => {
            tags.insert(tag.clone(), version.clone().into());
            format!("dist-tag {name} {tag}={version}")
        }
        None => {
            if tags.remove(&tag).is_none() {
                return Err(not_found(format!("{name} has no tag {tag:?}")));
            }
            format!("dist-tag {name} -{tag}")
        }
    };
    let package = document_entry(store, &name, document).await?;
    airlift_ecosystem::publish::commit_change(
        services,
        crate::ECOSYSTEM,
        "registry-change",
        change,
        vec![package],
        Vec::new(),
    )
    .await
    .map_err(Refused::internal)?;
    Ok(ok())
}

fn ok() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({"ok": true}).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_796_605_323), "2026-12-07T01:02:03.000Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn dist_tag_paths() {
        assert_eq!(
            dist_tags_target("-/package/@corp/tool/dist-tags/beta"),
            Some(("@corp/tool".into(), Some("beta".into())))
        );
        assert_eq!(
            dist_tags_target("-/package/tool/dist-tags"),
            Some(("tool".into(), None))
        );
        assert_eq!(dist_tags_target("-/package/a/b/c/dist-tags"), None);
        assert_eq!(dist_tags_target("-/whoami"), None);
    }

    #[test]
    fn unpublish_paths() {
        assert_eq!(
            unpublish_target("@corp/tool/-rev/1-a"),
            Some(("@corp/tool".into(), None))
        );
        assert_eq!(
            unpublish_target("npm/@corp/tool/-/tool-1.0.0.tgz/-rev/undefined"),
            Some(("@corp/tool".into(), Some("tool-1.0.0.tgz".into())))
        );
        assert_eq!(unpublish_target("@corp/tool"), None);
        assert_eq!(unpublish_target("a/b/c/-rev/1"), None);
    }
}
