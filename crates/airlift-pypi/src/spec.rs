//! `[pypi]` in `airlift.toml`.

use serde::Deserialize;

/// The declared Python packages.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PypiSpec {
    /// The upstream Simple API base URL, such as
    /// `https://pypi.example.com/simple/` (no default: upstreams are configuration).
    pub index: String,
    /// Target interpreter versions (`"3.11"`, `"3.12"`, or a full `"3.11.4"`).
    pub python: Vec<String>,
    /// Target platform tags; `any` (pure-Python wheels) is always accepted.
    #[serde(default = "default_platforms")]
    pub platforms: Vec<String>,
    /// Requirements whose dependency closure is computed (`"flask>=3,<4"`).
    #[serde(default)]
    pub packages: Vec<String>,
    /// Lockfiles carried as they are: `requirements.txt`-style files with
    /// `--hash`, PEP 751 `pylock.toml` (or `pylock.*.toml`) and `uv.lock`,
    /// relative to `airlift.toml`.
    #[serde(default)]
    pub lockfiles: Vec<String>,
    /// Carry each release's sdist next to its wheels. Default: true. A
    /// release with no usable wheel always carries its sdist.
    #[serde(default = "yes")]
    pub sdist: bool,
    /// Let the resolver pick pre-releases. Default: only when a requirement
    /// names one or nothing else matches (as pip does).
    #[serde(default)]
    pub prereleases: bool,
    /// A credentials reference: `NAME` means the
    /// environment variables `NAME_USERNAME` and `NAME_PASSWORD`, sent only
    /// to the index host.
    #[serde(default)]
    pub credentials: Option<String>,
}

fn default_platforms() -> Vec<String> {
    vec!["manylinux_2_28_x86_64".into(), "any".into()]
}

fn yes() -> bool {
    true
}
