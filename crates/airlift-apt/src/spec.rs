//! `[[apt]]` in `airlift.toml`.

use serde::Deserialize;

/// One upstream Debian archive and what to take from it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AptSpec {
    /// The name this archive is served under: `/apt/<name>/`.
    pub name: String,
    /// The archive root upstream (the directory holding `dists/` and
    /// `pool/`), such as `https://deb.example.com/debian`.
    pub url: String,
    /// Suites (or codenames) to read, such as `["bookworm",
    /// "bookworm-updates"]`.
    pub suites: Vec<String>,
    /// Components. Default: `["main"]`.
    #[serde(default = "main")]
    pub components: Vec<String>,
    /// Architectures, such as `["amd64"]` (`all` packages come with each).
    pub architectures: Vec<String>,
    /// The OpenPGP keyring that signs the upstream Release files (binary
    /// `.gpg` or armored `.asc`), relative to `airlift.toml`.
    pub keyring: String,
    /// Packages whose closure is carried, in relation syntax:
    /// `"nginx"`, `"postgresql-15 (>= 15.4)"`, `"mawk | gawk"`.
    #[serde(default)]
    pub packages: Vec<String>,
    /// Also carry every `Essential: yes` package (what a minimal system
    /// needs, as debootstrap and mmdebstrap install it).
    #[serde(default)]
    pub essential: bool,
    /// Also carry every package of these priorities (`required`,
    /// `important`, `standard`).
    #[serde(default)]
    pub priorities: Vec<String>,
    /// Follow `Recommends` too. Default: false (apt-get install
    /// --no-install-recommends).
    #[serde(default)]
    pub recommends: bool,
    /// Carry every package of the components, not a closure.
    #[serde(default)]
    pub whole_components: bool,
    /// A credentials reference: `NAME` means the environment variable
    /// `NAME_TOKEN`, sent as `Authorization` to the archive host only.
    #[serde(default)]
    pub credentials: Option<String>,
}

fn main() -> Vec<String> {
    vec!["main".into()]
}
