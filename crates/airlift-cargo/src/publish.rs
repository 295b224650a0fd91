//! Publishing into the site: the registry web API that `cargo publish`,
//! `cargo yank` and `cargo owner` speak, under `/cargo/api/v1/crates/`.
//!
//! - `PUT /cargo/api/v1/crates/new`: the body is a little-endian `u32`
//!   length, the JSON metadata cargo derives from `Cargo.toml`, another
//!   length and the `.crate`. The metadata is bounded by [`METADATA_LIMIT`]
//!   and read whole; the `.crate` (at most [`CRATE_LIMIT`]) is streamed
//!   into a staged blob. The request path names no crate, so the server's
//!   guard only checks that the caller may write something here; this
//!   handler asks the [`Gatekeeper`] about the crate named in the metadata
//!   before it stores anything. The index line is built from the metadata
//!   as the public registry builds it (`version_req` becomes `req`, a
//!   renamed dependency's `explicit_name_in_toml` becomes its `name` and
//!   the real name its `package`, new-syntax features go to `features2`),
//!   with the `.crate`'s SHA-256 as `cksum`. A version that is already
//!   there (by SemVer precedence, so `1.0.0+a` and `1.0.0+b` are one) is
//!   refused: a published version never changes.
//! - `DELETE …/{name}/{version}/yank`, `PUT …/unyank`: set `yanked` in the
//!   version's index line; nothing is removed.
//! - `GET …/{name}/owners`: whoever published the crate's versions here;
//!   `PUT`/`DELETE` owners change nothing, since who may publish is the
//!   site's access rules, and say so.
//!
//! Errors are the web API's `{"errors":[{"detail": …}]}`, which cargo
//! prints.
//!
//! [`Gatekeeper`]: airlift_ecosystem::Gatekeeper

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;

use airlift_core::Digest;
use airlift_ecosystem::{Action, Caller, Scope, Services};
use airlift_store::{Entry, StoreError};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::StreamExt;
use serde::Deserialize;

use crate::index::{CRATE, valid_name};

/// Largest publish metadata accepted (JSON).
pub const METADATA_LIMIT: u32 = 8 << 20;
/// Largest `.crate` accepted.
pub const CRATE_LIMIT: u32 = 1 << 30;

#[derive(Clone)]
struct PublishState {
    services: Services,
    /// Serializes each check of the versions there with the commit that
    /// changes them, so two publishes of one version cannot both succeed
    /// and two yanks cannot lose each other's line.
    commit: Arc<tokio::sync::Mutex<()>>,
}

/// The web API routes, to be nested under `/cargo`.
pub fn router(services: Services) -> Router {
    Router::new()
        .route("/api/v1/crates/new", put(publish))
        .route("/api/v1/crates/{name}/{version}/yank", delete(yank))
        .route("/api/v1/crates/{name}/{version}/unyank", put(unyank))
        .route(
            "/api/v1/crates/{name}/owners",
            get(owners).put(owners_unchanged).delete(owners_unchanged),
        )
        .with_state(PublishState {
            services,
            commit: Arc::new(tokio::sync::Mutex::new(())),
        })
}

/// A refusal in the web API's shape.
struct ApiError(StatusCode, String);

impl ApiError {
    fn bad(message: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, message.into())
    }

    fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!("cargo publish: {message}");
        Self(StatusCode::INTERNAL_SERVER_ERROR, message.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json(self.0, serde_json::json!({"errors": [{"detail": self.1}]}))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::internal(e)
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The metadata `cargo publish` sends.
#[derive(Debug, Deserialize)]
struct NewCrate {
    name: String,
    vers: String,
    #[serde(default)]
    deps: Vec<NewDep>,
    #[serde(default)]
    features: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    links: Option<String>,
    #[serde(default)]
    rust_version: Option<String>,
    /// The SPDX expression its manifest states, kept for SBOMs.
    #[serde(default)]
    license: Option<String>,
}

/// A dependency as `cargo publish` describes it.
#[derive(Debug, Deserialize)]
struct NewDep {
    /// The real crate name.
    name: String,
    version_req: String,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    optional: bool,
    #[serde(default = "yes")]
    default_features: bool,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    registry: Option<String>,
    /// The name the dependent uses, when renamed.
    #[serde(default)]
    explicit_name_in_toml: Option<String>,
}

fn yes() -> bool {
    true
}

/// The index line of a published version, as the public registry writes
/// it.
fn index_line(krate: &NewCrate, cksum: &Digest) -> serde_json::Value {
    let deps: Vec<serde_json::Value> = krate
        .deps
        .iter()
        .map(|d| {
            let (name, package) = match &d.explicit_name_in_toml {
                Some(renamed) => (renamed.clone(), Some(d.name.clone())),
                None => (d.name.clone(), None),
            };
            let mut dep = serde_json::json!({
                "name": name,
                "req": d.version_req,
                "features": d.features,
                "optional": d.optional,
                "default_features": d.default_features,
                "target": d.target,
                "kind": d.kind.as_deref().unwrap_or("normal"),
            });
            if let Some(registry) = &d.registry {
                dep["registry"] = registry.clone().into();
            }
            if let Some(package) = package {
                dep["package"] = package.into();
            }
            dep
        })
        .collect();
    // Features that use `dep:` or `?/` go to `features2`, which cargo
    // before 1.60 does not read, so that it is not confused by them.
    let (features2, features): (BTreeMap<_, _>, BTreeMap<_, _>) =
        krate.features.iter().partition(|(_, values)| {
            values
                .iter()
                .any(|v| v.starts_with("dep:") || v.contains("?/"))
        });
    let mut line = serde_json::json!({
        "name": krate.name,
        "vers": krate.vers,
        "deps": deps,
        "cksum": cksum.hex(),
        "features": features,
        "yanked": false,
    });
    if let Some(links) = &krate.links {
        line["links"] = links.clone().into();
    }
    if !features2.is_empty() {
        line["features2"] = serde_json::to_value(features2).unwrap_or_default();
        line["v"] = 2.into();
    }
    if let Some(rust_version) = &krate.rust_version {
        line["rust_version"] = rust_version.clone().into();
    }
    line
}

/// Reads a request body in the pieces the publish format has.
struct BodyReader {
    stream: axum::body::BodyDataStream,
    buffer: BytesMut,
}

impl BodyReader {
    /// At least `n` bytes buffered, or `false` at the end of the body.
    async fn fill(&mut self, n: usize) -> Result<bool, ApiError> {
        while self.buffer.len() < n {
            match self.stream.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    return Err(ApiError::bad(format!("the body could not be read: {e}")));
                }
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    async fn length(&mut self, what: &str) -> Result<u32, ApiError> {
        if !self.fill(4).await? {
            return Err(ApiError::bad(format!(
                "the body ends before the length of the {what}"
            )));
        }
        Ok(self.buffer.get_u32_le())
    }

    async fn exact(&mut self, n: usize, what: &str) -> Result<Bytes, ApiError> {
        if !self.fill(n).await? {
            return Err(ApiError::bad(format!(
                "the body ends inside the {what} ({n} bytes stated)"
            )));
        }
        Ok(self.buffer.split_to(n).freeze())
    }

    /// Sends the next `n` bytes to `tx` as they arrive.
    async fn stream(
        &mut self,
        mut n: usize,
        tx: &tokio::sync::mpsc::Sender<Option<Bytes>>,
    ) -> Result<(), ApiError> {
        loop {
            let take = n.min(self.buffer.len());
            if take > 0 {
                let chunk = self.buffer.split_to(take).freeze();
                n -= take;
                if tx.send(Some(chunk)).await.is_err() {
                    return Ok(()); // The writer failed; its error is reported.
                }
            }
            if n == 0 {
                return Ok(());
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    return Err(ApiError::bad(format!("the body could not be read: {e}")));
                }
                None => {
                    return Err(ApiError::bad(format!(
                        "the body ends {n} bytes before the end of the .crate"
                    )));
                }
            }
        }
    }
}

async fn publish(State(state): State<PublishState>, body: Body) -> Response {
    match receive(&state, body).await {
        Ok(()) => json(
            StatusCode::OK,
            serde_json::json!({"warnings": {"invalid_categories": [], "invalid_badges": [], "other": []}}),
        ),
        Err(e) => e.into_response(),
    }
}

async fn receive(state: &PublishState, body: Body) -> Result<(), ApiError> {
    let mut reader = BodyReader {
        stream: body.into_data_stream(),
        buffer: BytesMut::new(),
    };
    let metadata_len = reader.length("metadata").await?;
    if metadata_len > METADATA_LIMIT {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the metadata is larger than {METADATA_LIMIT} bytes"),
        ));
    }
    let metadata = reader.exact(metadata_len as usize, "metadata").await?;
    let krate: NewCrate = serde_json::from_slice(&metadata)
        .map_err(|e| ApiError::bad(format!("the metadata is not valid: {e}")))?;
    if !valid_name(&krate.name) {
        return Err(ApiError::bad(format!(
            "{:?} is not a valid crate name",
            krate.name
        )));
    }
    let version = semver::Version::parse(&krate.vers)
        .map_err(|e| ApiError::bad(format!("version {:?}: {e}", krate.vers)))?;
    for dep in &krate.deps {
        if semver::VersionReq::parse(&dep.version_req).is_err() || !valid_name(&dep.name) {
            return Err(ApiError::bad(format!(
                "dependency {:?} {:?} is not valid",
                dep.name, dep.version_req
            )));
        }
    }
    let lower = krate.name.to_ascii_lowercase();
    authorize(&state.services, &lower, Action::Write)?;
    // Refused before the .crate is read: nothing to store.
    if let Some(there) = existing(state, &lower, &version).await? {
        return Err(already(&krate.name, &there));
    }
    let crate_len = reader.length(".crate").await?;
    if crate_len > CRATE_LIMIT {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the .crate is larger than {CRATE_LIMIT} bytes"),
        ));
    }
    if crate_len == 0 {
        return Err(ApiError::bad("the .crate is empty"));
    }
    // A body that breaks off is never committed: the writer is told to
    // drop its staged file (`None` on the channel).
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Option<Bytes>>(8);
    let blobs = state.services.store.blobs.clone();
    let writer = tokio::task::spawn_blocking(move || -> Result<(Digest, u64), String> {
        let mut writer = blobs.writer().map_err(|e| e.to_string())?;
        while let Some(chunk) = rx.blocking_recv() {
            let Some(chunk) = chunk else {
                return Err("the .crate broke off".into());
            };
            writer.write_all(&chunk).map_err(|e| e.to_string())?;
        }
        writer.commit(None).map_err(|e| e.to_string())
    });
    let streamed = reader.stream(crate_len as usize, &tx).await;
    if streamed.is_err() {
        let _ = tx.send(None).await;
    }
    drop(tx);
    let written = writer.await.map_err(ApiError::internal)?;
    streamed?;
    let (cksum, size) = written.map_err(ApiError::internal)?;
    if size != u64::from(crate_len) {
        return Err(ApiError::bad("the .crate is shorter than stated"));
    }
    if reader.fill(1).await? {
        return Err(ApiError::bad("the body goes on after the .crate"));
    }
    let line = index_line(&krate, &cksum).to_string();
    let publisher = Caller::current().and_then(|c| c.principal);
    let entry = Entry {
        ecosystem: crate::ECOSYSTEM.into(),
        key: format!("{CRATE}{lower}/{}", krate.vers),
        digest: cksum,
        size,
        meta: {
            let mut meta = serde_json::json!({"line": line, "publisher": publisher});
            if let Some(license) = krate
                .license
                .as_deref()
                .and_then(airlift_ecosystem::stated_license)
            {
                meta["license"] = license.into();
            }
            meta
        },
    };
    let _serial = state.commit.lock().await;
    if let Some(there) = existing(state, &lower, &version).await? {
        return Err(already(&krate.name, &there));
    }
    airlift_ecosystem::publish::commit_change(
        &state.services,
        crate::ECOSYSTEM,
        "registry-change",
        format!("publish {} {}", krate.name, krate.vers),
        vec![entry],
        vec![],
    )
    .await
    .map_err(ApiError::internal)?;
    Ok(())
}

fn already(name: &str, version: &str) -> ApiError {
    ApiError::bad(format!(
        "crate version `{name}@{version}` is already uploaded: a published version never changes"
    ))
}

/// Asks the gatekeeper whether the caller may do `action` on the crate.
fn authorize(services: &Services, crate_name: &str, action: Action) -> Result<(), ApiError> {
    let Some(gatekeeper) = &services.gatekeeper else {
        return Ok(());
    };
    let caller = Caller::current().unwrap_or_default();
    gatekeeper
        .authorize(
            &caller,
            crate::ECOSYSTEM,
            &Scope::Name(crate_name.to_owned()),
            action,
        )
        .map_err(|(status, message)| ApiError(status, message))
}

/// The crate's entries in the current generation.
async fn versions(state: &PublishState, lower: &str) -> Result<Vec<Entry>, ApiError> {
    let store = state.services.store.clone();
    let prefix = format!("{CRATE}{lower}/");
    tokio::task::spawn_blocking(move || -> Result<Vec<Entry>, StoreError> {
        match store.meta.current()? {
            Some(generation) => {
                store
                    .meta
                    .entries_with_prefix(generation.id, crate::ECOSYSTEM, &prefix)
            }
            None => Ok(Vec::new()),
        }
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::from)
}

/// The version there that `version` equals by SemVer precedence (build
/// metadata aside), if any.
async fn existing(
    state: &PublishState,
    lower: &str,
    version: &semver::Version,
) -> Result<Option<String>, ApiError> {
    Ok(versions(state, lower).await?.into_iter().find_map(|e| {
        let there = e.key.rsplit('/').next()?.to_owned();
        let parsed = semver::Version::parse(&there).ok()?;
        (parsed.cmp_precedence(version) == std::cmp::Ordering::Equal).then_some(there)
    }))
}

async fn yank(
    State(state): State<PublishState>,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    set_yanked(&state, &name, &version, true)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn unyank(
    State(state): State<PublishState>,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    set_yanked(&state, &name, &version, false)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// Rewrites the version's index line with `yanked` set; the rest of the
/// line keeps its fields.
async fn set_yanked(
    state: &PublishState,
    name: &str,
    version: &str,
    yanked: bool,
) -> Result<Response, ApiError> {
    if !valid_name(name) || semver::Version::parse(version).is_err() {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no crate version {name}@{version}"),
        ));
    }
    let lower = name.to_ascii_lowercase();
    let key = format!("{CRATE}{lower}/{version}");
    let _serial = state.commit.lock().await;
    let Some(mut entry) = versions(state, &lower)
        .await?
        .into_iter()
        .find(|e| e.key == key)
    else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no crate version {name}@{version}"),
        ));
    };
    let raw = entry
        .meta
        .get("line")
        .and_then(|l| l.as_str())
        .ok_or_else(|| ApiError::internal(format!("{key} has no index line")))?;
    let mut line: serde_json::Value = serde_json::from_str(raw)
        .map_err(|e| ApiError::internal(format!("{key}: its index line: {e}")))?;
    if line.get("yanked").and_then(|y| y.as_bool()) == Some(yanked) {
        return Ok(json(StatusCode::OK, serde_json::json!({"ok": true})));
    }
    line["yanked"] = yanked.into();
    entry.meta["line"] = line.to_string().into();
    let what = if yanked { "yank" } else { "unyank" };
    airlift_ecosystem::publish::commit_change(
        &state.services,
        crate::ECOSYSTEM,
        "registry-change",
        format!("{what} {name} {version}"),
        vec![entry],
        vec![],
    )
    .await
    .map_err(ApiError::internal)?;
    Ok(json(StatusCode::OK, serde_json::json!({"ok": true})))
}

/// Whoever published the crate's versions here (an imported crate has
/// none).
async fn owners(State(state): State<PublishState>, Path(name): Path<String>) -> Response {
    if !valid_name(&name) {
        return ApiError(StatusCode::NOT_FOUND, format!("no crate {name}")).into_response();
    }
    let entries = match versions(&state, &name.to_ascii_lowercase()).await {
        Ok(entries) if entries.is_empty() => {
            return ApiError(StatusCode::NOT_FOUND, format!("no crate {name}")).into_response();
        }
        Ok(entries) => entries,
        Err(e) => return e.into_response(),
    };
    let publishers: std::collections::BTreeSet<&str> = entries
        .iter()
        .filter_map(|e| e.meta.get("publisher")?.as_str())
        .collect();
    let users: Vec<serde_json::Value> = publishers
        .iter()
        .enumerate()
        .map(|(i, login)| serde_json::json!({"id": i + 1, "login": login, "name": login}))
        .collect();
    json(StatusCode::OK, serde_json::json!({"users": users}))
}

async fn owners_unchanged(Path(name): Path<String>) -> Response {
    json(
        StatusCode::OK,
        serde_json::json!({
            "ok": true,
            "msg": format!("owners of {name} are not changed here: who may publish is managed by the site's access rules"),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lines_are_built_as_the_public_registry_builds_them() {
        let krate: NewCrate = serde_json::from_value(serde_json::json!({
            "name": "Corp-Util",
            "vers": "0.1.0",
            "deps": [
                {"name": "serde", "version_req": "^1", "features": ["derive"], "optional": true,
                 "default_features": false, "target": null, "kind": "normal",
                 "registry": "https://example.invalid/index", "explicit_name_in_toml": "serde1"},
                {"name": "cc", "version_req": "^1.0", "features": [], "optional": false,
                 "default_features": true, "target": "cfg(unix)", "kind": "build", "registry": null}
            ],
            "features": {"std": [], "json": ["dep:serde1"], "x": ["serde1?/std"]},
            "links": "corp",
            "rust_version": "1.70",
            "authors": [], "description": "d", "license": "MIT", "badges": {}
        }))
        .expect("metadata");
        let cksum = Digest::of(b"crate");
        let line = index_line(&krate, &cksum);
        assert_eq!(line["name"], "Corp-Util");
        assert_eq!(line["cksum"], cksum.hex());
        assert_eq!(line["deps"][0]["name"], "serde1");
        assert_eq!(line["deps"][0]["package"], "serde");
        assert_eq!(line["deps"][0]["req"], "^1");
        assert_eq!(line["deps"][0]["default_features"], false);
        assert_eq!(line["deps"][1]["kind"], "build");
        assert!(line["deps"][1].get("package").is_none());
        assert!(line["deps"][1].get("registry").is_none());
        assert_eq!(line["features"], serde_json::json!({"std": []}));
        assert_eq!(
            line["features2"],
            serde_json::json!({"json": ["dep:serde1"], "x": ["serde1?/std"]})
        );
        assert_eq!(line["v"], 2);
        assert_eq!(line["links"], "corp");
        assert_eq!(line["rust_version"], "1.70");
        assert_eq!(line["yanked"], false);
        // The line reads back as an index line.
        let releases =
            crate::index::parse_file("corp-util", line.to_string().as_bytes()).expect("parses");
        assert_eq!(releases[0].cksum, cksum);
        assert_eq!(releases[0].line.deps[0].crate_name(), "serde");
    }
}
