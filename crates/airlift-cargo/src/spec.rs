//! `[cargo]` in `airlift.toml`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The declared Rust crates.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CargoSpec {
    /// The upstream sparse index, such as `sparse+https://index.example.com/`
    /// (no default: upstreams are configuration).
    pub index: String,
    /// `Cargo.lock` files carried as they are, relative to `airlift.toml`.
    #[serde(default)]
    pub lockfiles: Vec<String>,
    /// Crates whose closure is computed: `name@requirement` as `cargo add`
    /// writes it (`serde@1`, `tokio@1.4`, `log@=0.4.20`) or a bare name (the
    /// newest release).
    #[serde(default)]
    pub crates: Vec<String>,
    /// Features to enable on declared crates besides their defaults
    /// (`tokio = ["full"]`).
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    /// Also carry the dev-dependencies of the declared crates (to run their
    /// tests inside the gap). Default: false.
    #[serde(default)]
    pub dev: bool,
    /// A credentials reference: `NAME` means the environment variable
    /// `NAME_TOKEN`, sent as `Authorization` to the index host only.
    #[serde(default)]
    pub credentials: Option<String>,
}
