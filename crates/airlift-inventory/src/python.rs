//! Python core metadata: the email-header block of a `.dist-info/METADATA`, an `.egg-info/PKG-INFO`
//! or an `.egg-info` file (`Name`, `Version`, `License`, `License-Expression`, license classifiers).
//!
//! Boundary: reads the header block only (the body is the long description); the caller bounds the
//! bytes and builds the record.

/// What a metadata file says about its distribution.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Metadata {
    pub name: String,
    pub version: String,
    pub licenses: Vec<String>,
}

/// A distribution name normalized as PEP 503 says (lowercase, each run of `-`, `_` and `.` one
/// `-`), the form PyPI, pip and syft compare names in: `PyYAML` is `pyyaml`, `lazr.uri` is `lazr-uri`.
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for character in name.trim().chars() {
        if matches!(character, '-' | '_' | '.') {
            if !in_separator {
                out.push('-');
            }
            in_separator = true;
        } else {
            out.push(character.to_ascii_lowercase());
            in_separator = false;
        }
    }
    out
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Metadata, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            // The first blank line ends the headers; what follows is the description.
            break;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, value)) = fields.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            fields.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let mut metadata = Metadata::default();
    let mut expression = None;
    let mut license = None;
    let mut classifiers = Vec::new();
    for (key, value) in fields {
        match key.as_str() {
            "name" => metadata.name = value,
            "version" => metadata.version = value,
            "license-expression" => expression = Some(value),
            "license" => license = Some(value),
            "classifier" => {
                if let Some(rest) = value.strip_prefix("License ::") {
                    let last = rest.rsplit("::").next().unwrap_or(rest).trim().to_string();
                    if !last.is_empty() && last != "OSI Approved" {
                        classifiers.push(last);
                    }
                }
            }
            _ => {}
        }
    }
    if metadata.name.is_empty() {
        return Err("no Name header".to_string());
    }
    if metadata.version.is_empty() {
        return Err(format!("{} has no Version header", metadata.name));
    }
    // License-Expression (PEP 639) supersedes License; a free-text License that is the whole
    // license text is not a license name, so only its first line is kept, and "UNKNOWN" is none.
    if let Some(expression) = expression.filter(|value| !value.is_empty()) {
        metadata.licenses.push(expression);
    } else if let Some(license) = license {
        let first = license.lines().next().unwrap_or_default().trim();
        if !first.is_empty() && !first.eq_ignore_ascii_case("UNKNOWN") {
            metadata.licenses.push(first.to_string());
        }
    }
    for classifier in classifiers {
        if !metadata.licenses.contains(&classifier) {
            metadata.licenses.push(classifier);
        }
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reads_headers_not_the_body() {
        let text = b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\nClassifier: License :: OSI Approved :: Apache Software License\n\nName: not-this\n";
        let metadata = parse(text).unwrap();
        assert_eq!(metadata.name, "requests");
        assert_eq!(
            metadata.licenses,
            vec!["Apache 2.0", "Apache Software License"]
        );
        let metadata =
            parse(b"Name: x\nVersion: 1\nLicense-Expression: MIT\nLicense: whatever\n").unwrap();
        assert_eq!(metadata.licenses, vec!["MIT"]);
        assert!(parse(b"Version: 1\n").is_err());
    }

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize("PyYAML"), "pyyaml");
        assert_eq!(normalize("lazr.restfulclient"), "lazr-restfulclient");
        assert_eq!(normalize("Some__Weird.-Name"), "some-weird-name");
    }
}
