//! `[npm]` in `airlift.toml`.

use serde::Deserialize;

/// The declared npm packages.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NpmSpec {
    /// The upstream registry, such as `https://registry.example.com/`
    /// (no default: upstreams are configuration).
    pub registry: String,
    /// `package-lock.json` (v2, v3) or `npm-shrinkwrap.json` files carried as
    /// they are, relative to `airlift.toml`.
    #[serde(default)]
    pub lockfiles: Vec<String>,
    /// Packages whose closure is computed: `name@range`, `@scope/name@range`,
    /// `name@tag` or a bare name (the `latest` tag).
    #[serde(default)]
    pub packages: Vec<String>,
    /// Follow `optionalDependencies` (all platforms: the client in the gap
    /// skips what does not fit it). Default: true.
    #[serde(default = "yes")]
    pub optional: bool,
    /// Follow `peerDependencies` that are not marked optional, as npm 7 and
    /// later install them. Default: true.
    #[serde(default = "yes")]
    pub peer: bool,
    /// A credentials reference: `NAME` means the environment variable
    /// `NAME_TOKEN`, sent as a bearer token to the registry host only.
    #[serde(default)]
    pub credentials: Option<String>,
    /// Target operating systems, as npm names them (`linux`, `darwin`,
    /// `win32`, …). Empty: every one.
    #[serde(default)]
    pub os: Vec<String>,
    /// Target CPUs, as npm names them (`x64`, `arm64`, …). Empty: every one.
    #[serde(default)]
    pub cpu: Vec<String>,
    /// Target C libraries on Linux (`glibc`, `musl`). Empty: every one.
    #[serde(default)]
    pub libc: Vec<String>,
}

fn yes() -> bool {
    true
}
