//! A fake OCI registry for collect: manifests and blobs behind a bearer
//! token, as routes for the scripted upstream, whose 401 challenge names
//! the realm `/token`, the service `test` and the scope
//! `repository:team/app:pull`.

use std::collections::HashMap;

use crate::upstream::{Behaviour, Upstream};

/// An image manifest (OCI, one config and one gzip layer) naming the given
/// digests and sizes, byte for byte as tests compare it.
pub fn image_manifest(config: &str, config_size: usize, layer: &str, layer_size: usize) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer}","size":{layer_size}}}]}}"#
    )
    .into_bytes()
}

/// A registry whose content is served only with one bearer token, handed
/// out at `/token` for `repository:team/app:pull`.
pub struct Registry {
    token: String,
    routes: HashMap<String, Behaviour>,
}

impl Registry {
    /// An empty registry whose token endpoint answers with `token`.
    pub fn with_token(token: &str) -> Self {
        let mut routes = HashMap::new();
        routes.insert(
            "token?service=test&scope=repository%3Ateam%2Fapp%3Apull".to_owned(),
            Behaviour::Serve(format!("{{\"token\":\"{token}\"}}").into_bytes()),
        );
        Self {
            token: token.to_owned(),
            routes,
        }
    }

    /// Serves `bytes` as the manifest `reference` (a tag or a digest) of
    /// `repository`.
    pub fn manifest(mut self, repository: &str, reference: &str, bytes: Vec<u8>) -> Self {
        self.routes.insert(
            format!("v2/{repository}/manifests/{reference}"),
            Behaviour::Protected(bytes, self.token.clone()),
        );
        self
    }

    /// Serves `bytes` as the blob `digest` of `repository` (whether or not
    /// they hash to it: a registry that lies is a case to test).
    pub fn blob(mut self, repository: &str, digest: &str, bytes: Vec<u8>) -> Self {
        self.routes.insert(
            format!("v2/{repository}/blobs/{digest}"),
            Behaviour::Protected(bytes, self.token.clone()),
        );
        self
    }

    /// Starts serving it.
    pub fn start(self) -> Upstream {
        Upstream::start(self.routes)
    }
}
