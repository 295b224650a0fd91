//! `airlift.toml`: the declared set.
//!
//! Parsing is strict: an unknown key or a value of the wrong type is an error
//! that names the file, line, column and key, so a typo never silently drops
//! an artifact from a transfer.

use std::path::{Path, PathBuf};

use airlift_apt::spec::AptSpec;
use airlift_cargo::spec::CargoSpec;
use airlift_files::spec::FileSpec;
use airlift_npm::spec::NpmSpec;
use airlift_oci::spec::ImageSpec;
use airlift_pypi::spec::PypiSpec;
use serde::Deserialize;

/// The whole declaration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Collection settings.
    #[serde(default)]
    pub collect: CollectSettings,
    /// Plain files.
    #[serde(default)]
    pub files: Vec<FileSpec>,
    /// Container images.
    #[serde(default)]
    pub oci: Vec<ImageSpec>,
    /// Python packages.
    #[serde(default)]
    pub pypi: Option<PypiSpec>,
    /// Rust crates.
    #[serde(default)]
    pub cargo: Option<CargoSpec>,
    /// npm packages.
    #[serde(default)]
    pub npm: Option<NpmSpec>,
    /// Debian archives.
    #[serde(default)]
    pub apt: Vec<AptSpec>,
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
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses configuration text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| {
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
        })?;
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

    #[test]
    fn a_valid_file_parses() {
        let config = Config::parse(
            Path::new("airlift.toml"),
            "[collect]\nconcurrency = 2\n\n[[files]]\nurl = \"https://downloads.example.com/a.tgz\"\nsha256 = \"00\"\npath = \"tools/a.tgz\"\n",
        )
        .expect("valid");
        assert_eq!(config.files.len(), 1);
        assert_eq!(config.collect.concurrency, 2);
    }

    #[test]
    fn unknown_keys_name_file_line_and_key() {
        let error = Config::parse(
            Path::new("site/airlift.toml"),
            "[[files]]\nurl = \"https://downloads.example.com/a.tgz\"\nsha512 = \"00\"\n",
        )
        .expect_err("unknown key accepted");
        let text = error.to_string();
        assert!(text.starts_with("site/airlift.toml:3:"), "{text}");
        assert!(text.contains("sha512"), "{text}");
    }

    #[test]
    fn wrong_types_are_errors() {
        let error = Config::parse(Path::new("a.toml"), "[[files]]\nurl = 3\n")
            .expect_err("number accepted as url");
        assert!(error.to_string().starts_with("a.toml:2:"), "{error}");
        let error = Config::parse(Path::new("a.toml"), "[collect]\nconcurrency = 0\n")
            .expect_err("zero accepted");
        assert!(error.to_string().contains("a.toml:2:"), "{error}");
    }
}
