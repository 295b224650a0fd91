//! An installed npm package's `package.json`: `name`, `version` and its license (`license` as a
//! string or `{ "type": .. }`, or the older `licenses` list).
//!
//! Boundary: one file's bytes, already bounded by the caller; the caller decides which
//! `package.json` files are installed packages (those directly under `node_modules`).

/// What a `package.json` says about its package.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Manifest {
    pub name: String,
    pub version: String,
    pub licenses: Vec<String>,
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Manifest, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|error| format!("not JSON: {error}"))?;
    let object = value.as_object().ok_or("not a JSON object")?;
    let name = object
        .get("name")
        .and_then(|name| name.as_str())
        .unwrap_or_default()
        .to_string();
    let version = object
        .get("version")
        .and_then(|version| version.as_str())
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return Err("no name".to_string());
    }
    if version.is_empty() {
        return Err(format!("{name} has no version"));
    }
    let mut licenses = Vec::new();
    licenses_from(object.get("license"), &mut licenses);
    if let Some(serde_json::Value::Array(list)) = object.get("licenses") {
        for item in list.iter().take(64) {
            licenses_from(Some(item), &mut licenses);
        }
    }
    Ok(Manifest {
        name,
        version,
        licenses,
    })
}

/// A license as npm writes it: a string, or an object with `type`.
pub(crate) fn licenses_from(value: Option<&serde_json::Value>, out: &mut Vec<String>) {
    match value {
        Some(serde_json::Value::String(text)) if !text.is_empty() => out.push(text.clone()),
        Some(serde_json::Value::Object(object)) => {
            if let Some(text) = object.get("type").and_then(|kind| kind.as_str()) {
                out.push(text.to_string());
            }
        }
        _ => {}
    }
}

/// Whether `name` can be an npm package name: `name` or `@scope/name`,
/// at most 214 bytes, no spaces or path tricks. A lockfile's keys are
/// paths, so a name read from one is checked before it becomes a purl.
pub(crate) fn valid_name(name: &str) -> bool {
    let base = match name.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('/') {
            Some((scope, base)) if !scope.is_empty() && !base.contains('/') => base,
            _ => return false,
        },
        None => name,
    };
    !base.is_empty()
        && name.len() <= 214
        && !base.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'\\' | b'"' | b'<' | b'>'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn license_forms() {
        let manifest = parse(br#"{"name":"@scope/a","version":"1.0.0","license":"MIT"}"#).unwrap();
        assert_eq!(manifest.licenses, vec!["MIT"]);
        let manifest =
            parse(br#"{"name":"b","version":"2.0.0","license":{"type":"ISC"}}"#).unwrap();
        assert_eq!(manifest.licenses, vec!["ISC"]);
        let manifest = parse(
            br#"{"name":"c","version":"3.0.0","licenses":[{"type":"MIT"},{"type":"Apache-2.0"}]}"#,
        )
        .unwrap();
        assert_eq!(manifest.licenses, vec!["MIT", "Apache-2.0"]);
        assert!(parse(br#"{"name":"d"}"#).is_err());
        assert!(parse(b"[").is_err());
    }
}
