//! `[[oci]]` in `airlift.toml`.

use serde::Deserialize;

/// One declared image.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// `registry.example.com/team/app:1.4` or `...@sha256:<hex>`; the
    /// registry host is always explicit (no implied default registry).
    pub image: String,
    /// Narrow a multi-platform index to these platforms (`linux/amd64`,
    /// `linux/arm64/v8`); the index itself is kept byte-exact.
    #[serde(default)]
    pub platforms: Option<Vec<String>>,
    /// Carry referrers (signatures, SBOMs, attestations) and cosign-style
    /// `sha256-<hex>.sig/.att/.sbom` tags. Default: true.
    #[serde(default = "yes")]
    pub referrers: bool,
    /// Serve it under this repository name inside the gap (default: the
    /// upstream path without the registry host).
    #[serde(default, rename = "as")]
    pub serve_as: Option<String>,
    /// Talk plain HTTP to the registry (a lab or loopback registry only).
    #[serde(default)]
    pub plain_http: bool,
    /// A credentials reference: the name `NAME` means the environment
    /// variables `NAME_USERNAME` and `NAME_PASSWORD`. Without it, a
    /// docker-style `config.json` is consulted. Secrets never go in the file.
    #[serde(default)]
    pub credentials: Option<String>,
}

fn yes() -> bool {
    true
}

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `host[:port]`.
    pub registry: String,
    /// Repository path at the registry.
    pub path: String,
    /// Tag, when given.
    pub tag: Option<String>,
    /// Digest, when given.
    pub digest: Option<airlift_core::Digest>,
}

/// Parses `host[:port]/path[:tag][@sha256:...]`.
pub fn parse_image(text: &str) -> Result<ImageRef, String> {
    let (name, digest) = match text.split_once('@') {
        Some((name, digest)) => (
            name,
            Some(
                crate::names::parse_digest(digest)
                    .map_err(|_| format!("invalid digest {digest:?}"))?,
            ),
        ),
        None => (text, None),
    };
    let (registry, rest) = name
        .split_once('/')
        .ok_or_else(|| "expected registry-host/repository[:tag]".to_owned())?;
    if !(registry.contains('.') || registry.contains(':') || registry == "localhost") {
        return Err(format!(
            "{registry:?} is not a registry host; write the registry explicitly (registry.example.com/{rest})"
        ));
    }
    let (path, tag) = match rest.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => (path, Some(tag.to_owned())),
        _ => (rest, None),
    };
    if !crate::names::valid_repository(path) {
        return Err(format!("invalid repository path {path:?}"));
    }
    if let Some(tag) = &tag
        && !crate::names::valid_tag(tag)
    {
        return Err(format!("invalid tag {tag:?}"));
    }
    if tag.is_none() && digest.is_none() {
        return Err("give a tag or a digest; airlift never guesses `latest`".into());
    }
    Ok(ImageRef {
        registry: registry.to_owned(),
        path: path.to_owned(),
        tag,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_strictly() {
        let image = parse_image("registry.example.com:5000/team/app:1.4").expect("valid");
        assert_eq!(image.registry, "registry.example.com:5000");
        assert_eq!(image.path, "team/app");
        assert_eq!(image.tag.as_deref(), Some("1.4"));
        let pinned = format!("registry.example.com/app@sha256:{}", "a".repeat(64));
        assert!(parse_image(&pinned).expect("valid").digest.is_some());
        for bad in [
            "team/app:1",
            "registry.example.com/app",
            "registry.example.com/App:1",
            "app:1",
        ] {
            assert!(parse_image(bad).is_err(), "{bad} accepted");
        }
    }
}
