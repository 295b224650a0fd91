//! The upstream sparse index: index files read once each, through the shared index reader, and download URLs from its `dl` template.

use super::*;

/// How cargo's sparse index is read: index files of up to 64 MiB, and
/// `404`, `410` and `451` all mean the crate is not there (as cargo itself
/// treats them).
pub(super) const PROFILE: IndexProfile = IndexProfile {
    headers: &[("Accept", "text/plain"), ("cargo-protocol", "version=1")],
    limit: 64 << 20,
    not_found: &[
        StatusCode::NOT_FOUND,
        StatusCode::GONE,
        StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
    ],
};

pub(super) struct Upstream<'a> {
    pub(super) index: Index<'a>,
    pub(super) concurrency: usize,
    pub(super) files: HashMap<String, Arc<Vec<Release>>>,
    pub(super) index_files: u64,
}

impl Upstream<'_> {
    /// The `dl` template from the upstream `config.json`.
    pub(super) async fn download_template(&self) -> Result<String, CollectError> {
        let url = self.url("config.json")?;
        let upstream = |message: String| CollectError::Upstream {
            krate: "(index)".into(),
            url: url.redacted(),
            message,
        };
        let page = self
            .index
            .document(&url)
            .await
            .map_err(|e| upstream(e.detail()))?;
        let config: serde_json::Value = serde_json::from_slice(&page.body)
            .map_err(|e| upstream(format!("malformed config.json: {e}")))?;
        config
            .get("dl")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| upstream("config.json has no \"dl\"".into()))
    }

    pub(super) fn url(&self, path: &str) -> Result<SafeUrl, CollectError> {
        self.index
            .url(path)
            .map_err(|e| CollectError::Spec(e.to_string()))
    }

    /// Reads the index files of every crate not yet read, concurrently.
    pub(super) async fn load(
        &mut self,
        wanted: Vec<(String, Vec<String>)>,
    ) -> Result<(), CollectError> {
        let wanted: Vec<(String, Vec<String>)> = wanted
            .into_iter()
            .filter(|(n, _)| !self.files.contains_key(&n.to_ascii_lowercase()))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect();
        let this = &*self;
        let results: Vec<Result<(String, Vec<Release>), CollectError>> =
            futures_util::stream::iter(wanted)
                .map(|(name, chain)| async move {
                    let url = this.url(&index::path(&name))?;
                    let page = this.index.document(&url).await.map_err(|e| match e {
                        IndexError::NotFound { .. } => CollectError::NotFound {
                            krate: name.clone(),
                            url: url.redacted(),
                            chain,
                        },
                        other => CollectError::Upstream {
                            krate: name.clone(),
                            url: url.redacted(),
                            message: other.detail(),
                        },
                    })?;
                    let releases = index::parse_file(&name, &page.body).map_err(|message| {
                        CollectError::Upstream {
                            krate: name.clone(),
                            url: url.redacted(),
                            message,
                        }
                    })?;
                    Ok((name.to_ascii_lowercase(), releases))
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        for result in results {
            let (name, releases) = result?;
            self.index_files += 1;
            self.files.insert(name, Arc::new(releases));
        }
        Ok(())
    }

    pub(super) fn releases(&self, name: &str) -> Result<Arc<Vec<Release>>, CollectError> {
        self.files
            .get(&name.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| CollectError::Spec(format!("internal: index of {name} not loaded")))
    }
}

/// The download URL of a crate version from the `dl` template.
pub fn download_url(template: &str, name: &str, version: &str, cksum: &Digest) -> String {
    let markers = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !markers.iter().any(|m| template.contains(m)) {
        return format!(
            "{}/{name}/{version}/download",
            template.trim_end_matches('/')
        );
    }
    let full = index::path(name);
    let lower_prefix = full.rsplit_once('/').map_or("", |(p, _)| p).to_owned();
    let prefix = match name.len() {
        1 | 2 => lower_prefix.clone(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    };
    template
        .replace("{crate}", name)
        .replace("{version}", version)
        .replace("{lowerprefix}", &lower_prefix)
        .replace("{prefix}", &prefix)
        .replace("{sha256-checksum}", &cksum.hex())
}
