//! What an image or a host actually runs: the installed packages found in the layers of an OCI
//! image (dpkg and apk databases, Python distributions, npm packages, Go binaries' build
//! information and cargo-auditable data in Rust binaries), and in files a host produced (a dpkg
//! status file, `pip inspect`, `pip freeze`, `npm ls --json --all`, `Cargo.lock`, CycloneDX JSON).
//!
//! Boundary: this crate only reads. It never runs anything it finds, never writes a layer's files
//! anywhere (binaries are spooled to an anonymous temporary file at most), and bounds every read by
//! [`Limits`]. It knows nothing about registries, advisories or the store: it reports
//! [`Installed`] records with a purl and an OSV ecosystem name, and the caller matches them.
//! Layers arrive as uncompressed tar streams; [`decompressed`] is the helper that undoes gzip or
//! zstd. A file that cannot be read is listed in [`Inventory::skipped`]; only a broken tar stream
//! or an exceeded image-wide bound fails the whole inspection.
//!
//! What is reported from an image, the same set syft's image catalogers report (checked by
//! `tests/inventory/syft.sh`):
//! - dpkg: `**/lib/dpkg/status` stanzas whose `Status` is `install ok installed`, and every
//!   `**/lib/dpkg/status.d/*` stanza (distroless files carry no `Status`); a package named in both
//!   is reported once. The purl carries `arch`, `distro` (`<ID>-<VERSION_ID>` of os-release) and
//!   `upstream` (the source package).
//! - apk: every record of `**/lib/apk/db/installed`, with its `L:` license.
//! - Python: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` and `*.egg-info` files, named as
//!   PEP 503 normalizes them (`PyYAML` is `pyyaml`); an egg-info named `Python` (the interpreter's
//!   own) is not a package.
//! - npm: `node_modules/<name>/package.json` and `node_modules/@scope/<name>/package.json` only
//!   (syft reads every `package.json`, including an application's own and test fixtures).
//! - Go: every ELF file's `.go.buildinfo` (Go 1.18 and later): its dependencies with `=>`
//!   replacements applied, the main module when it has a version (not `(devel)`), and the standard
//!   library as `stdlib` at the toolchain's version (`go1.22.1`, purl `pkg:golang/stdlib@1.22.1`;
//!   [`Installed::osv_version`] gives OSV's `1.22.1`).
//! - Rust: every ELF file's `.dep-v0` (or older `.rust-deps-v0`) cargo-auditable data: each
//!   package built into the binary (`kind` runtime), the root crate included; the OSV ecosystem is
//!   Rust's only for packages whose source is the public registry.

mod auditable;
mod compress;
mod control;
mod elf;
mod gobuild;
mod host;
mod layers;
mod npm;
mod purl;
mod python;

use std::fmt;

pub use compress::decompressed;
pub use host::{read_inventory, read_inventory_with};
pub use layers::inspect_layers;

/// OSV's name for the ecosystem of Rust crates, which is also the source
/// kind `cargo auditable` records for them: the public crate registry's
/// host name, which this repository writes nowhere as a literal.
pub const OSV_RUST: &str = concat!("crates", ".", "io");

/// The kind of package manager or build system an installed package belongs to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Deb,
    Apk,
    Python,
    Npm,
    Go,
    Rust,
    Maven,
}

impl Kind {
    /// The lowercase name, as `Display` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Deb => "deb",
            Kind::Apk => "apk",
            Kind::Python => "python",
            Kind::Npm => "npm",
            Kind::Go => "go",
            Kind::Rust => "rust",
            Kind::Maven => "maven",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Installed {
    pub kind: Kind,
    pub name: String,
    pub version: String,
    /// The package URL, e.g. `pkg:deb/debian/curl@7.88.1-10?arch=amd64&distro=debian-12`.
    pub purl: String,
    /// The OSV ecosystem the package's advisories are filed under ("Debian:12", "Alpine:v3.19",
    /// "PyPI", "npm", "Go", or Rust's, [`OSV_RUST`]), when it is known.
    pub osv_ecosystem: Option<String>,
    /// Licenses as the package's own metadata states them (not derived from license files).
    pub licenses: Vec<String>,
    /// The path inside the image (or the file) the package was read from.
    pub location: String,
    /// The main module of a Go binary or the root crate of a Rust binary (cargo-auditable's
    /// `root`): the application the binary is, rather than a library built into it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub main: bool,
}

impl Installed {
    /// The name and version OSV files this package's advisories under:
    /// Debian and Alpine advisories name the **source** package and its
    /// version (`openssl` for `libssl3`), which the purl's `upstream`
    /// qualifier carries (`source@version`, or `source` when the versions
    /// are the same); every other kind is named as it is, with
    /// [`Installed::osv_version`].
    pub fn advisory_name(&self) -> (String, String) {
        if matches!(self.kind, Kind::Deb | Kind::Apk)
            && let Some(upstream) = self
                .purl
                .split_once('?')
                .into_iter()
                .flat_map(|(_, query)| query.split('&'))
                .find_map(|pair| pair.strip_prefix("upstream="))
        {
            let upstream = purl::decode(upstream);
            return match upstream.split_once('@') {
                Some((name, version)) if !name.is_empty() => (name.to_owned(), version.to_owned()),
                _ if !upstream.is_empty() => (upstream, self.version.clone()),
                _ => (self.name.clone(), self.version.clone()),
            };
        }
        (self.name.clone(), self.osv_version().to_owned())
    }

    /// The version as OSV records it: Go versions lose their `v` (modules) or `go` (the standard
    /// library, reported as `stdlib` with the toolchain's `go1.x.y`) prefix; others are unchanged.
    pub fn osv_version(&self) -> &str {
        if self.kind == Kind::Go {
            if let Some(rest) = self.version.strip_prefix("go") {
                return rest;
            }
            if let Some(rest) = self.version.strip_prefix('v') {
                return rest;
            }
        }
        &self.version
    }
}

/// The distribution an image is built on, from `etc/os-release` (or `usr/lib/os-release`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Distro {
    /// `ID`, e.g. `debian`, `ubuntu`, `alpine`.
    pub id: String,
    /// `VERSION_ID`, e.g. `12`, `22.04`, `3.19.1`; empty when the file has none (testing releases).
    pub version_id: String,
    /// `ID_LIKE`, split on whitespace.
    pub id_like: Vec<String>,
}

impl Inventory {
    /// Takes `distro` as the distribution of Debian, Ubuntu and Alpine
    /// packages whose own file did not say (a dpkg status or apk database
    /// read from a host file): they get its OSV ecosystem (`Debian:12`).
    /// Packages that have one keep it.
    pub fn assume_distro(&mut self, distro: &Distro) {
        let ecosystem = purl::distro_ecosystem(distro);
        let fits = |kind: Kind| match kind {
            Kind::Deb => distro.id == "debian" || distro.id == "ubuntu",
            Kind::Apk => distro.id == "alpine",
            _ => false,
        };
        for package in &mut self.packages {
            if package.osv_ecosystem.is_none() && fits(package.kind) {
                package.osv_ecosystem.clone_from(&ecosystem);
            }
        }
        if self.distro.is_none() {
            self.distro = Some(distro.clone());
        }
    }
}

/// What an image or a host inventory holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Inventory {
    pub packages: Vec<Installed>,
    pub distro: Option<Distro>,
    /// Files of interest that could not be read, each as `<path>: <reason>` (too large,
    /// malformed, an unsupported format).
    pub skipped: Vec<String>,
}

/// Bounds on what one inspection reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest metadata file read (METADATA, PKG-INFO, package.json, os-release, a dpkg
    /// `status.d` file, an ELF section holding build information).
    pub max_metadata_bytes: u64,
    /// Largest package database read (dpkg `status`, apk `installed`) and host inventory file.
    pub max_status_bytes: u64,
    /// Largest executable inspected for Go build information or cargo-auditable data.
    pub max_binary_bytes: u64,
    /// Most tar entries read over all layers.
    pub max_entries: u64,
    /// Most packages reported.
    pub max_packages: usize,
    /// Deepest nesting followed in nested JSON (npm ls, CycloneDX components).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_metadata_bytes: 16 << 20,
            max_status_bytes: 64 << 20,
            max_binary_bytes: 512 << 20,
            max_entries: 4_000_000,
            max_packages: 1_000_000,
            max_depth: 128,
        }
    }
}

/// Why an inspection failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("layer {layer}: broken tar stream: {source}")]
    Tar {
        layer: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("layer {layer}: more than {limit} tar entries over all layers")]
    TooManyEntries { layer: usize, limit: u64 },
    #[error("{path}: more than {limit} packages")]
    TooManyPackages { path: String, limit: usize },
    #[error("reading the start of a layer: {source}")]
    Sniff {
        #[source]
        source: std::io::Error,
    },
    #[error("starting zstd decompression: {source}")]
    Zstd {
        #[source]
        source: std::io::Error,
    },
    #[error("spooling a binary to a temporary file: {source}")]
    Spool {
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {size} bytes is over the limit of {limit}")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error(
        "{path}: not a recognised inventory (dpkg status, pip inspect, pip freeze, npm ls --json, Cargo.lock, CycloneDX JSON)"
    )]
    UnknownFormat { path: String },
    #[error("{path}: {reason}")]
    Malformed { path: String, reason: String },
}
