//! The closure: the version npm picks for a specifier, and the dependencies it follows.

use super::*;

/// The version npm picks for `spec` from a packument.
pub(super) fn pick(
    name: &str,
    packument: &Value,
    spec: &str,
    chain: &[String],
) -> Result<String, CollectError> {
    let versions = packument
        .get("versions")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let tags = packument.get("dist-tags").and_then(Value::as_object);
    let spec = spec.trim();
    let unsupported = || CollectError::Unsupported {
        package: name.to_owned(),
        spec: spec.to_owned(),
        chain: chain.to_vec(),
    };
    if spec.contains(':') || spec.contains('/') {
        return Err(unsupported());
    }
    // `*` and an empty range mean what `latest` names, when it exists.
    let tag = if spec.is_empty() || spec == "*" {
        "latest"
    } else {
        spec
    };
    if let Some(version) = tags.and_then(|t| t.get(tag)).and_then(Value::as_str)
        && versions.contains_key(version)
    {
        return Ok(version.to_owned());
    }
    let range = match Range::parse(spec) {
        Ok(range) => range,
        Err(_)
            if spec
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
        {
            // A tag the packument does not have.
            return Err(CollectError::Unsatisfiable {
                package: name.to_owned(),
                spec: spec.to_owned(),
                available: format!(
                    "tags {}",
                    tags.map(|t| t.keys().cloned().collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                ),
                chain: chain.to_vec(),
            });
        }
        Err(_) => return Err(unsupported()),
    };
    let mut candidates: Vec<(semver::Version, &String, bool)> = versions
        .iter()
        .filter_map(|(text, manifest)| {
            let version = parse_version(text)?;
            let deprecated = manifest
                .get("deprecated")
                .is_some_and(|d| !d.is_null() && d != "");
            range
                .satisfies(&version)
                .then_some((version, text, deprecated))
        })
        .collect();
    candidates.sort_by(|a, b| compare(&a.0, &b.0));
    if let Some(latest) = tags.and_then(|t| t.get("latest")).and_then(Value::as_str)
        && candidates
            .iter()
            .any(|(_, text, deprecated)| text.as_str() == latest && !deprecated)
    {
        return Ok(latest.to_owned());
    }
    if let Some((_, text, _)) = candidates
        .iter()
        .rev()
        .find(|(_, _, deprecated)| !deprecated)
    {
        return Ok((*text).clone());
    }
    if let Some((_, text, _)) = candidates.last() {
        return Ok((*text).clone());
    }
    let mut all: Vec<semver::Version> = versions.keys().filter_map(|v| parse_version(v)).collect();
    all.sort_by(compare);
    let available: Vec<String> = all
        .iter()
        .rev()
        .take(8)
        .rev()
        .map(ToString::to_string)
        .collect();
    Err(CollectError::Unsatisfiable {
        package: name.to_owned(),
        spec: spec.to_owned(),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
        chain: chain.to_vec(),
    })
}

/// A dependency to satisfy.
pub(super) struct Need {
    pub(super) name: String,
    pub(super) spec: String,
    pub(super) optional: bool,
    pub(super) chain: Vec<String>,
}

/// The dependencies of a version's manifest that an install follows.
pub(super) fn dependencies(manifest: &Value, planned: &Planned) -> Vec<(String, String, bool)> {
    let map = |key: &str| -> Vec<(String, String)> {
        manifest
            .get(key)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let bundled: BTreeSet<String> = ["bundleDependencies", "bundledDependencies"]
        .iter()
        .filter_map(|k| manifest.get(*k))
        .flat_map(|v| match v {
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            Value::Bool(true) => map("dependencies").into_iter().map(|(k, _)| k).collect(),
            _ => Vec::new(),
        })
        .collect();
    let mut out = Vec::new();
    let optional: BTreeMap<String, String> = map("optionalDependencies").into_iter().collect();
    for (name, spec) in map("dependencies") {
        if !optional.contains_key(&name) {
            out.push((name, spec, false));
        }
    }
    if planned.optional {
        for (name, spec) in &optional {
            out.push((name.clone(), spec.clone(), true));
        }
    }
    if planned.peer {
        for (name, spec) in map("peerDependencies") {
            let optional_peer = manifest
                .get("peerDependenciesMeta")
                .and_then(|m| m.get(&name))
                .and_then(|m| m.get("optional"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !optional_peer {
                out.push((name, spec, false));
            }
        }
    }
    out.retain(|(name, _, _)| !bundled.contains(name));
    out
}

/// An `npm:real@spec` alias becomes (real, spec).
pub(super) fn unalias(name: String, spec: String) -> (String, String) {
    match spec.strip_prefix("npm:") {
        Some(rest) => split_spec(rest),
        None => (name, spec),
    }
}
