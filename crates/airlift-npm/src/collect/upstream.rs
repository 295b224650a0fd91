//! The upstream registry: packuments read once each, through the shared index reader.

use super::*;

/// How an npm registry is read: packuments of up to 256 MiB (the largest
/// are tens of MiB), and only `404` means the package does not exist.
pub(super) const PROFILE: IndexProfile = IndexProfile {
    headers: &[("Accept", "application/json")],
    limit: 256 << 20,
    not_found: &[StatusCode::NOT_FOUND],
};

pub(super) struct Upstream<'a> {
    pub(super) index: Index<'a>,
    pub(super) concurrency: usize,
    pub(super) packuments: HashMap<String, Arc<Value>>,
}

/// The packument path of a name: `@scope%2fname` for scoped packages.
pub fn encode_name(name: &str) -> String {
    name.replace('/', "%2f")
}

impl Upstream<'_> {
    /// Loads packuments not yet read, concurrently. Names whose packument is
    /// missing are returned for optional needs instead of failing.
    pub(super) async fn load(
        &mut self,
        wanted: Vec<(String, Vec<String>, bool)>,
    ) -> Result<BTreeMap<String, CollectError>, CollectError> {
        let mut unique: BTreeMap<String, (Vec<String>, bool)> = BTreeMap::new();
        for (name, chain, optional) in wanted {
            if self.packuments.contains_key(&name) {
                continue;
            }
            let slot = unique.entry(name).or_insert((chain, true));
            slot.1 &= optional;
        }
        let this = &*self;
        let results: Vec<(String, bool, Result<Value, CollectError>)> =
            futures_util::stream::iter(unique)
                .map(|(name, (chain, optional))| async move {
                    let result = this.fetch_packument(&name, chain).await;
                    (name, optional, result)
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        let mut failed = BTreeMap::new();
        for (name, optional, result) in results {
            match result {
                Ok(packument) => {
                    self.packuments.insert(name, Arc::new(packument));
                }
                Err(e) if optional => {
                    failed.insert(name, e);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(failed)
    }

    pub(super) async fn fetch_packument(
        &self,
        name: &str,
        chain: Vec<String>,
    ) -> Result<Value, CollectError> {
        let url = self
            .index
            .url(&encode_name(name))
            .map_err(|e| CollectError::Spec(e.to_string()))?;
        let upstream = |message: String| CollectError::Upstream {
            package: name.to_owned(),
            url: url.redacted(),
            message,
        };
        let page = self.index.document(&url).await.map_err(|e| match e {
            IndexError::NotFound { .. } => CollectError::NotFound {
                package: name.to_owned(),
                url: url.redacted(),
                chain,
            },
            other => upstream(other.detail()),
        })?;
        let packument: Value = serde_json::from_slice(&page.body)
            .map_err(|e| upstream(format!("malformed packument: {e}")))?;
        if packument.get("name").and_then(|n| n.as_str()) != Some(name) {
            return Err(upstream("the packument names another package".into()));
        }
        if !packument.get("versions").is_some_and(Value::is_object) {
            return Err(upstream(
                "malformed packument: no \"versions\" object".into(),
            ));
        }
        Ok(packument)
    }
}
