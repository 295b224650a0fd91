//! What a collect reads from the upstream index: project pages, each
//! release's core metadata (the PEP 658 file, or the `METADATA` or
//! `PKG-INFO` inside the file itself), and what building an sdist needs;
//! many at once, each checked against the hash the index states.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use airlift_core::{Digest, SafeUrl};
use airlift_fetch::index::{Index, IndexError};
use airlift_fetch::{FetchError, Fetcher, Quiet, Request, Secret};
use airlift_store::Store;
use futures_util::StreamExt;

use super::{Chosen, CollectError};
use crate::metadata::{self, Metadata};
use crate::requirement::{Requirement, normalize};
use crate::upstream::{self, Project, UpFile};

/// The upstream index as one collect sees it: what was read so far.
pub(super) struct Upstream<'a> {
    /// The index's project pages, and the credential for its origin.
    pub(super) index: Index<'a>,
    pub(super) fetcher: &'a Fetcher,
    pub(super) store: &'a Store,
    pub(super) concurrency: usize,
    pub(super) projects: HashMap<String, Arc<Project>>,
    /// (project, filename) → metadata blob digest and parsed metadata.
    pub(super) metadata: HashMap<(String, String), (Digest, Arc<Metadata>)>,
    pub(super) pages: u64,
}

impl Upstream<'_> {
    pub(super) fn authorization_for(&self, url: &url::Url) -> Option<Secret> {
        self.index.authorization_for(url)
    }

    /// Fetches the pages of every name not yet read, concurrently.
    pub(super) async fn load_projects(
        &mut self,
        names: impl IntoIterator<Item = (String, Vec<String>)>,
    ) -> Result<(), CollectError> {
        let wanted: Vec<(String, Vec<String>)> = names
            .into_iter()
            .filter(|(n, _)| !self.projects.contains_key(n))
            .collect();
        let index = &self.index;
        let results: Vec<Result<Project, CollectError>> = futures_util::stream::iter(wanted)
            .map(|(name, chain)| async move {
                let url = index
                    .url(&format!("{name}/"))
                    .map_err(|e| CollectError::Spec(e.to_string()))?;
                let page = index.document(&url).await.map_err(|e| match e {
                    IndexError::NotFound { .. } => CollectError::NotFound {
                        project: name.clone(),
                        url: url.redacted(),
                        chain,
                    },
                    other => CollectError::Upstream {
                        project: name.clone(),
                        url: url.redacted(),
                        message: other.detail(),
                    },
                })?;
                let content_type = page
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("text/html")
                    .to_ascii_lowercase();
                upstream::parse_page(&name, &url, &content_type, &page.body).map_err(|message| {
                    CollectError::Upstream {
                        project: name.clone(),
                        url: url.redacted(),
                        message,
                    }
                })
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for result in results {
            let project = result?;
            self.pages += 1;
            self.projects
                .insert(project.name.clone(), Arc::new(project));
        }
        Ok(())
    }

    /// Reads the metadata of each (project, file), concurrently: the PEP 658
    /// file when advertised, else the whole file's embedded metadata.
    pub(super) async fn load_metadata(
        &mut self,
        wanted: Vec<(String, UpFile)>,
    ) -> Result<(), CollectError> {
        let wanted: Vec<(String, UpFile)> = wanted
            .into_iter()
            .filter(|(p, f)| !self.metadata.contains_key(&(p.clone(), f.filename.clone())))
            .collect();
        let this = &*self;
        let results: Vec<Result<(String, String, Digest, Metadata), CollectError>> =
            futures_util::stream::iter(wanted)
                .map(|(project, file)| async move {
                    let (digest, metadata) = this.read_metadata(&project, &file).await?;
                    Ok((project, file.filename, digest, metadata))
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        for result in results {
            let (project, filename, digest, metadata) = result?;
            self.metadata
                .insert((project, filename), (digest, Arc::new(metadata)));
        }
        Ok(())
    }

    async fn read_metadata(
        &self,
        project: &str,
        file: &UpFile,
    ) -> Result<(Digest, Metadata), CollectError> {
        let fail = |message: String| CollectError::Metadata {
            project: project.to_owned(),
            filename: file.filename.clone(),
            message,
        };
        let fetch_error = |source| CollectError::Fetch {
            project: project.to_owned(),
            filename: file.filename.clone(),
            source,
        };
        let is_wheel = file.filename.ends_with(".whl");
        let bytes = if let (true, Some(expected)) = (is_wheel, &file.core_metadata) {
            let mut url = file.url.clone();
            url.set_path(&format!("{}.metadata", url.path()));
            let url = SafeUrl::parse(url.as_str()).map_err(|e| fail(e.to_string()))?;
            let fetched = self
                .fetcher
                .fetch(
                    self.store,
                    &Request {
                        authorization: self.authorization_for(url.expose()),
                        url,
                        expected: *expected,
                    },
                    &Quiet,
                )
                .await
                .map_err(|e| match e {
                    FetchError::DigestMismatch {
                        expected, actual, ..
                    } => CollectError::HashMismatch {
                        project: project.to_owned(),
                        filename: format!("{}.metadata", file.filename),
                        expected_from: "the upstream index".into(),
                        expected,
                        actual_from: "the metadata file hashes to".into(),
                        actual,
                    },
                    other => fetch_error(other),
                })?;
            (fetched.digest, None)
        } else {
            let fetched = self
                .fetcher
                .fetch(
                    self.store,
                    &Request {
                        url: SafeUrl::parse(file.url.as_str()).map_err(|e| fail(e.to_string()))?,
                        expected: file.sha256,
                        authorization: self.authorization_for(&file.url),
                    },
                    &Quiet,
                )
                .await
                .map_err(|e| self.mismatch(project, &file.filename, e))?;
            (fetched.digest, Some(file.filename.clone()))
        };
        let store = self.store.clone();
        let (digest, embedded_from) = bytes;
        let (digest, raw) =
            tokio::task::spawn_blocking(move || -> Result<(Digest, Vec<u8>), String> {
                let mut blob = store.blobs.open(&digest).map_err(|e| e.to_string())?;
                match embedded_from {
                    None => {
                        let mut raw = Vec::new();
                        blob.take(16 << 20)
                            .read_to_end(&mut raw)
                            .map_err(|e| e.to_string())?;
                        Ok((digest, raw))
                    }
                    Some(filename) => {
                        let raw = if filename.ends_with(".whl") {
                            metadata::wheel_metadata(&mut blob)
                        } else {
                            metadata::sdist_metadata(&filename, &mut blob)
                        }
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| "no METADATA or PKG-INFO inside".to_owned())?;
                        let metadata_digest = Digest::of(&raw);
                        if store
                            .blobs
                            .size(&metadata_digest)
                            .map_err(|e| e.to_string())?
                            .is_none()
                        {
                            let mut writer = store.blobs.writer().map_err(|e| e.to_string())?;
                            std::io::Write::write_all(&mut writer, &raw)
                                .map_err(|e| e.to_string())?;
                            writer
                                .commit(Some(&metadata_digest))
                                .map_err(|e| e.to_string())?;
                        }
                        Ok((metadata_digest, raw))
                    }
                }
            })
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(fail)?;
        let metadata = Metadata::parse(&raw).map_err(fail)?;
        if normalize(&metadata.name) != project {
            return Err(fail(format!("it names project {:?}", metadata.name)));
        }
        Ok((digest, metadata))
    }

    /// What building an sdist needs (PEP 518 `[build-system] requires`;
    /// without one, `setuptools>=40.8.0`, as pip assumes).
    pub(super) async fn build_requirements(
        &self,
        project: &str,
        choice: &Chosen,
    ) -> Result<Vec<Requirement>, CollectError> {
        let filename = choice.file.filename.clone();
        let fail = |message: String| CollectError::Metadata {
            project: project.to_owned(),
            filename: filename.clone(),
            message,
        };
        let fetched = self
            .fetcher
            .fetch(
                self.store,
                &Request {
                    url: SafeUrl::parse(choice.file.url.as_str())
                        .map_err(|e| fail(e.to_string()))?,
                    expected: choice.expected,
                    authorization: self.authorization_for(&choice.file.url),
                },
                &Quiet,
            )
            .await
            .map_err(|e| self.mismatch(project, &filename, e))?;
        let store = self.store.clone();
        let name = filename.clone();
        let pyproject = tokio::task::spawn_blocking(move || {
            let mut blob = store
                .blobs
                .open(&fetched.digest)
                .map_err(|e| e.to_string())?;
            metadata::sdist_member(&name, &mut blob, "pyproject.toml").map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(fail)?;
        let requires: Vec<String> = match pyproject {
            None => vec!["setuptools>=40.8.0".into()],
            Some(bytes) => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| fail("pyproject.toml is not UTF-8".into()))?;
                let table: toml::Table = toml::from_str(&text)
                    .map_err(|e| fail(format!("pyproject.toml: {}", e.message().trim())))?;
                match table.get("build-system").and_then(|b| b.get("requires")) {
                    None => vec!["setuptools>=40.8.0".into()],
                    Some(toml::Value::Array(items)) => items
                        .iter()
                        .map(|v| {
                            v.as_str().map(str::to_owned).ok_or_else(|| {
                                fail(
                                    "pyproject.toml: build-system.requires holds a non-string"
                                        .into(),
                                )
                            })
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => {
                        return Err(fail(
                            "pyproject.toml: build-system.requires is not an array".into(),
                        ));
                    }
                }
            }
        };
        requires
            .iter()
            .map(|text| {
                Requirement::parse(text)
                    .map_err(|e| fail(format!("pyproject.toml build-system.requires: {e}")))
            })
            .collect()
    }

    pub(super) fn mismatch(
        &self,
        project: &str,
        filename: &str,
        error: FetchError,
    ) -> CollectError {
        match error {
            FetchError::DigestMismatch {
                expected, actual, ..
            } => CollectError::HashMismatch {
                project: project.to_owned(),
                filename: filename.to_owned(),
                expected_from: "the upstream index / lockfile".into(),
                expected,
                actual_from: "the downloaded file hashes to".into(),
                actual,
            },
            other => CollectError::Fetch {
                project: project.to_owned(),
                filename: filename.to_owned(),
                source: other,
            },
        }
    }
}
