//! A fake Python package index: the simple repository API as PEP 691 JSON,
//! with PEP 658 metadata files next to the wheels, built from a list of
//! releases.

use std::collections::BTreeMap;
use std::sync::Arc;

use airlift_core::Digest;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One release with one wheel: its dependencies, yanked flag and wheel tag.
pub struct Release {
    /// The project's name.
    pub project: &'static str,
    /// Its version.
    pub version: &'static str,
    /// Its `Requires-Dist` lines.
    pub requires: &'static [&'static str],
    /// Whether the wheel is yanked (PEP 592).
    pub yanked: bool,
    /// The wheel's tag: `py3-none-any`, `cp311-cp311-manylinux_2_28_x86_64`, …
    pub wheel_tag: &'static str,
}

/// A release of `project` with a pure-Python wheel (`py3-none-any`).
pub fn release(
    project: &'static str,
    version: &'static str,
    requires: &'static [&'static str],
) -> Release {
    Release {
        project,
        version,
        requires,
        yanked: false,
        wheel_tag: "py3-none-any",
    }
}

/// The index: a project page per project, and the files.
#[derive(Clone, Default)]
pub struct Index {
    pages: Arc<BTreeMap<String, String>>,
    files: Arc<BTreeMap<String, Vec<u8>>>,
}

impl Index {
    /// The index of `releases`: a PEP 691 JSON page per project listing one
    /// wheel per release, each with its PEP 658 metadata file (so the wheels
    /// themselves can be arbitrary bytes).
    pub fn build(releases: &[Release]) -> Self {
        let mut pages: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        let mut files = BTreeMap::new();
        for r in releases {
            // PEP 427: dashes in the name are written as underscores.
            let filename = format!(
                "{}-{}-{}.whl",
                r.project.replace('-', "_"),
                r.version,
                r.wheel_tag
            );
            let body = format!("wheel {filename}").into_bytes();
            let mut metadata = format!(
                "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
                r.project, r.version
            );
            for line in r.requires {
                metadata.push_str(&format!("Requires-Dist: {line}\n"));
            }
            let metadata = metadata.into_bytes();
            pages
                .entry(r.project.to_owned())
                .or_default()
                .push(serde_json::json!({
                    "filename": filename,
                    "url": format!("/files/{filename}"),
                    "hashes": {"sha256": Digest::of(&body).hex()},
                    "core-metadata": {"sha256": Digest::of(&metadata).hex()},
                    "yanked": r.yanked,
                    "size": body.len(),
                }));
            files.insert(filename.clone(), body);
            files.insert(format!("{filename}.metadata"), metadata);
        }
        Self {
            pages: Arc::new(
                pages
                    .into_iter()
                    .map(|(name, files)| {
                        (
                            name.clone(),
                            serde_json::json!({"meta": {"api-version": "1.1"}, "name": name, "files": files})
                                .to_string(),
                        )
                    })
                    .collect(),
            ),
            files: Arc::new(files),
        }
    }

    /// Serves the index on loopback; its URL (`http://<address>/simple/`).
    pub async fn serve(self) -> String {
        let app = Router::new()
            .route("/simple/{name}/", get(page))
            .route("/files/{name}", get(file))
            .with_state(self);
        format!("http://{}/simple/", crate::serve(app).await)
    }
}

async fn page(State(index): State<Index>, Path(name): Path<String>) -> Response {
    match index.pages.get(&name) {
        Some(body) => (
            [(header::CONTENT_TYPE, "application/vnd.pypi.simple.v1+json")],
            body.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn file(State(index): State<Index>, Path(name): Path<String>) -> Response {
    match index.files.get(&name) {
        Some(body) => body.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
