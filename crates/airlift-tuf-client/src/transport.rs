//! A `tough` transport over the workspace's `reqwest` client that records
//! the metadata it hands to tough.
//!
//! tough's own `HttpTransport` sits behind a feature that brings a second
//! rustls setup (its own platform verifier, no crypto provider chosen); this
//! one reuses the `reqwest` build the workspace already has. Recording the
//! bytes lets the client check exactly what tough saw a second time with
//! airlift's own verification, and persist metadata byte for byte.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::StreamExt;
use tough::{Transport, TransportError, TransportErrorKind, TransportStream};
use url::Url;

/// Fetches `http` and `https` URLs and records the metadata files fetched
/// under the metadata base URL, by file name (`2.root.json`).
#[derive(Clone, Debug)]
pub struct RecordingTransport {
    client: reqwest::Client,
    metadata_base: String,
    recorded: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
}

impl RecordingTransport {
    /// A transport that records files under `metadata_base`.
    pub fn new(metadata_base: &Url) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            // The suite's simulator listens on loopback; a proxy from the
            // environment must not get in between.
            .no_proxy()
            .build()?;
        let mut base = metadata_base.as_str().to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(Self {
            client,
            metadata_base: base,
            recorded: Arc::default(),
        })
    }

    /// The metadata files fetched so far, complete or not, by file name.
    pub fn recorded(&self) -> BTreeMap<String, Vec<u8>> {
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[tough::async_trait]
impl Transport for RecordingTransport {
    async fn fetch(&self, url: Url) -> Result<TransportStream, TransportError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TransportError::new(
                TransportErrorKind::UnsupportedUrlScheme,
                url,
            ));
        }
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| TransportError::new_with_cause(TransportErrorKind::Other, &url, e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::FORBIDDEN {
            // TUF ends the root chain walk when the next version is "not
            // available"; servers say so with 404 (or 403 on some stores).
            return Err(TransportError::new(TransportErrorKind::FileNotFound, url));
        }
        if !status.is_success() {
            return Err(TransportError::new_with_cause(
                TransportErrorKind::Other,
                &url,
                format!("HTTP status {status}"),
            ));
        }
        let name = url
            .as_str()
            .strip_prefix(&self.metadata_base)
            .filter(|rest| !rest.contains('/'))
            .map(str::to_owned);
        let recorded = self.recorded.clone();
        if let Some(name) = &name {
            recorded
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name.clone(), Vec::new());
        }
        let shown = url.to_string();
        let stream = response.bytes_stream().map(move |chunk| match chunk {
            Ok(bytes) => {
                if let Some(name) = &name {
                    recorded
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(name.clone())
                        .or_default()
                        .extend_from_slice(&bytes);
                }
                Ok(bytes)
            }
            Err(e) => Err(TransportError::new_with_cause(
                TransportErrorKind::Other,
                &shown,
                e,
            )),
        });
        Ok(Box::pin(stream))
    }
}
