//! `airlift.toml`: the declared set.
//!
//! Parsing is strict: an unknown key or a value of the wrong type is an error
//! that names the file, line, column and key, so a typo never silently drops
//! an artifact from a transfer.

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

/// The settings common to every ecosystem. Each ecosystem's own table
/// (`[pypi]`, `[[oci]]`, …) is read by the ecosystem itself with
/// [`table`]; [`Config::parse`] only checks that every table in the file
/// belongs to one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Collection settings.
    pub collect: CollectSettings,
    /// The tables present in the file, in order.
    pub tables: Vec<String>,
}

/// `[collect]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CollectSettings {
    /// Downloads in flight at once.
    pub concurrency: usize,
    /// Attempts per download.
    pub attempts: u32,
}

impl Default for CollectSettings {
    fn default() -> Self {
        Self {
            concurrency: 8,
            attempts: 4,
        }
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid for airlift.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, naming the key.
        message: String,
    },
}

impl Config {
    /// Reads and checks a configuration file whose ecosystem tables may
    /// be any of `tables`.
    pub fn load(path: &Path, tables: &[&'static str]) -> Result<Self, ConfigError> {
        let text = read(path)?;
        Self::parse(path, &text, tables)
    }

    /// Parses configuration text; `path` is only used in messages. A table
    /// that is neither `[collect]` nor one of `tables` is an error naming
    /// its line, as a typo must never silently drop an artifact.
    pub fn parse(path: &Path, text: &str, tables: &[&'static str]) -> Result<Self, ConfigError> {
        let mut known = vec!["collect"];
        known.extend_from_slice(tables);
        let (collect, present) = toml::de::Deserializer::parse(text)
            .and_then(|document| DeserializeSeed::deserialize(Document { known: &known }, document))
            .map_err(|e| invalid(path, text, &e))?;
        let config = Config {
            collect: collect.unwrap_or_default(),
            tables: present,
        };
        if config.collect.concurrency == 0 {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: key_line(text, "concurrency"),
                column: 1,
                message: "collect.concurrency must be at least 1".into(),
            });
        }
        if config.collect.attempts == 0 {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: key_line(text, "attempts"),
                column: 1,
                message: "collect.attempts must be at least 1".into(),
            });
        }
        Ok(config)
    }
}

/// Reads a configuration file.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Deserializes the table `key` of configuration text, strictly (the
/// table's own type decides which keys it accepts), with errors naming the
/// file, line and column; `None` when the file has no such table.
pub fn table<T: DeserializeOwned>(
    path: &Path,
    text: &str,
    key: &str,
) -> Result<Option<T>, ConfigError> {
    toml::de::Deserializer::parse(text)
        .and_then(|document| {
            DeserializeSeed::deserialize(
                One::<T> {
                    key,
                    found: PhantomData,
                },
                document,
            )
        })
        .map_err(|e| invalid(path, text, &e))
}

fn invalid(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let (line, column) = e
        .span()
        .map(|span| line_column(text, span.start))
        .unwrap_or((1, 1));
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        column,
        message: e.message().trim().to_owned(),
    }
}

/// The whole document: `[collect]` read, every other known table skipped,
/// an unknown one refused at its key.
struct Document<'k> {
    known: &'k [&'static str],
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = (Option<CollectSettings>, Vec<String>);

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = (Option<CollectSettings>, Vec<String>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an airlift.toml document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut collect = None;
        let mut present = Vec::new();
        while let Some(key) = map.next_key_seed(Key { known: self.known })? {
            if key == "collect" {
                collect = Some(map.next_value::<CollectSettings>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
                present.push(key);
            }
        }
        Ok((collect, present))
    }
}

/// A top-level key, refused (with its span) unless known.
struct Key<'k> {
    known: &'k [&'static str],
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        let key = String::deserialize(deserializer)?;
        if self.known.contains(&key.as_str()) {
            Ok(key)
        } else {
            let expected = self
                .known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            Err(de::Error::custom(format!(
                "unknown table `{key}`, expected one of {expected}"
            )))
        }
    }
}

/// One table of the document, the others skipped.
struct One<'k, T> {
    key: &'k str,
    found: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for One<'_, T> {
    type Value = Option<T>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for One<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an airlift.toml document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.key {
                found = Some(map.next_value::<T>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(key))
        .map_or(1, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for an ecosystem's `[[files]]` table.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        url: String,
        #[serde(default)]
        sha256: Option<String>,
        #[serde(default)]
        path: Option<String>,
    }

    const TABLES: &[&str] = &["files", "pypi"];

    #[test]
    fn a_valid_file_parses() {
        let text = "[collect]\nconcurrency = 2\n\n[[files]]\nurl = \"https://downloads.example.com/a.tgz\"\nsha256 = \"00\"\npath = \"tools/a.tgz\"\n";
        let config = Config::parse(Path::new("airlift.toml"), text, TABLES).expect("valid");
        assert_eq!(config.collect.concurrency, 2);
        assert_eq!(config.tables, ["files"]);
        let files: Vec<File> = table(Path::new("airlift.toml"), text, "files")
            .expect("valid")
            .expect("present");
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].url, "https://downloads.example.com/a.tgz");
        assert_eq!(files[0].sha256.as_deref(), Some("00"));
        assert_eq!(files[0].path.as_deref(), Some("tools/a.tgz"));
        let absent: Option<Vec<File>> =
            table(Path::new("airlift.toml"), text, "pypi").expect("valid");
        assert!(absent.is_none());
    }

    #[test]
    fn unknown_keys_name_file_line_and_key() {
        let text = "[[files]]\nurl = \"https://downloads.example.com/a.tgz\"\nsha512 = \"00\"\n";
        let error = table::<Vec<File>>(Path::new("site/airlift.toml"), text, "files")
            .expect_err("unknown key accepted");
        let text = error.to_string();
        assert!(text.starts_with("site/airlift.toml:3:"), "{text}");
        assert!(text.contains("sha512"), "{text}");
    }

    #[test]
    fn unknown_tables_name_their_line() {
        let text =
            "[collect]\nattempts = 2\n\n[pipy]\nindex = \"https://pypi.example.com/simple/\"\n";
        let error = Config::parse(Path::new("a.toml"), text, TABLES).expect_err("typo accepted");
        let message = error.to_string();
        assert!(message.starts_with("a.toml:4:"), "{message}");
        assert!(
            message.contains("pipy") && message.contains("pypi"),
            "{message}"
        );
    }

    #[test]
    fn wrong_types_are_errors() {
        let error = table::<Vec<File>>(Path::new("a.toml"), "[[files]]\nurl = 3\n", "files")
            .expect_err("number accepted as url");
        assert!(error.to_string().starts_with("a.toml:2:"), "{error}");
        let error = Config::parse(Path::new("a.toml"), "[collect]\nconcurrency = 0\n", TABLES)
            .expect_err("zero accepted");
        assert!(error.to_string().contains("a.toml:2:"), "{error}");
        let error = Config::parse(Path::new("a.toml"), "[collect]\nconcurency = 3\n", TABLES)
            .expect_err("unknown collect key accepted");
        assert!(error.to_string().contains("a.toml:2:"), "{error}");
    }
}
