//! The ecosystem contract: the one shape every adapter has.
//!
//! An ecosystem (plain files, OCI images, PyPI, cargo, npm, apt, and the
//! ones to come) is a crate that implements [`Ecosystem`] and is registered
//! with one line in the CLI's list (`crates/airlift/src/ecosystems.rs`).
//! Everything that works across ecosystems iterates that list instead of
//! naming them: `airlift.toml` accepts each one's table, `collect` plans and
//! collects each, `serve` mounts each one's routes and lists it on `/`,
//! `client-config` offers each one's clients, `status` names each, and the
//! compliance code asks each for the package identity of an entry and for
//! its version order. Bundles, import and the store know nothing of
//! ecosystems beyond the name recorded in each index entry.
//!
//! The contract, in the order of an artifact's life:
//! - [`Ecosystem::table`]: its table in `airlift.toml`, which
//!   [`Ecosystem::plan`] parses (with [`Declared::table`], so errors name
//!   the file, line and column) into a [`Plan`], or `None` when nothing is
//!   declared for it.
//! - [`Plan::collect`]: downloads into the store and returns one
//!   [`Collected`]: index entries, the summary fields for `--json`, one
//!   human line, notes, and the newer versions the upstream offers of
//!   what it carries ([`UpstreamVersions`]). Failures are an [`Error`] of a [`ErrorKind`]
//!   (bad input, the store, or the upstream), never a message to match.
//! - [`Ecosystem::routes`]: its HTTP routes, given the [`Services`] of the
//!   server.
//! - [`Ecosystem::clients`] and [`Ecosystem::client_config`]: the
//!   configuration that points each of its clients at the server.
//! - [`Ecosystem::package`], [`Ecosystem::compare_versions`] and
//!   [`Ecosystem::not_found`]: the package identity of an entry (name,
//!   version, package URL, upstream digest), the order of its versions, and
//!   which upstream statuses mean "no such package"; and
//!   [`Ecosystem::dependencies`], the dependency relations among a
//!   generation's entries (for SBOMs).
//! - [`Ecosystem::access`] and [`Ecosystem::refuse`]: what each request of
//!   its protocol asks to do (an [`Action`] on a [`Scope`]), which the
//!   server authorizes before any handler runs, and the refusal in its
//!   clients' words (see [`access`]).

pub mod access;
pub mod publish;

pub use access::{Access, Action, Caller, Gatekeeper, Refusal, Scope};

use std::cmp::Ordering;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use airlift_fetch::{FetchProgress, Fetcher};
use airlift_store::{Entry, Store};
use axum::Router;
use serde::de::DeserializeOwned;

/// A boxed future, so that [`Plan`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Records a change to the index (an event name and its facts) in the
/// site's audit log; an error means the entry was not written.
pub type AuditHook = Arc<dyn Fn(&str, serde_json::Value) -> Result<(), String> + Send + Sync>;

/// What an ecosystem adapter implements. See the crate documentation.
pub trait Ecosystem: Send + Sync + 'static {
    /// Who it is: name, title, table and where it is served.
    fn about(&self) -> About;

    /// Its name in index entries, bundles and `status` (`pypi`).
    fn name(&self) -> &'static str {
        self.about().name
    }

    /// What people call it (`Python packages`).
    fn title(&self) -> &'static str {
        self.about().title
    }

    /// Its table in `airlift.toml`.
    fn table(&self) -> Table {
        self.about().table
    }

    /// The path its clients start from, shown on the server's `/` page
    /// (`/pypi/simple/`).
    fn served_at(&self) -> &'static str {
        self.about().served_at
    }

    /// Parses its table of `declared` and plans what to collect; `None` when
    /// the table is absent (or declares nothing).
    fn plan(&self, declared: &Declared<'_>) -> Result<Option<Box<dyn Plan>>, Error>;

    /// Its HTTP routes, with their full paths (`/pypi/…`), merged into the
    /// server's application.
    fn routes(&self, services: &Services) -> Router;

    /// Its clients, for `airlift client-config <name>`.
    fn clients(&self) -> &'static [Client] {
        &[]
    }

    /// The configuration that points `tool` (one of [`Self::clients`]) at
    /// the server.
    fn client_config(
        &self,
        tool: &str,
        request: &ClientRequest<'_>,
    ) -> Result<ClientConfig, Error> {
        let _ = request;
        Err(Error::input(format!(
            "{} has no client named {tool:?}",
            self.name()
        )))
    }

    /// The package an index entry is, when it is one (a metadata or tag
    /// entry is not).
    fn package(&self, entry: &Entry) -> Option<Package> {
        let _ = entry;
        None
    }

    /// The order of two of its versions (PEP 440, semver, dpkg, …). Text
    /// that is not a version sorts as text.
    fn compare_versions(&self, a: &str, b: &str) -> Ordering {
        a.cmp(b)
    }

    /// The OSV ecosystems (`PyPI`, `npm`, `Debian`) whose advisories
    /// name this ecosystem's packages and whose versions follow
    /// [`Self::compare_versions`]. Empty when advisories do not apply.
    fn advisory_ecosystems(&self) -> &'static [&'static str] {
        &[]
    }

    /// The packages among a generation's `entries` of this ecosystem as
    /// advisories name them, each with the position of its entry. The
    /// default names each entry's [`Self::package`] in the first of
    /// [`Self::advisory_ecosystems`]; an ecosystem whose advisories are
    /// per release (Debian's `Debian:12`) overrides it, since the release is
    /// known from other entries (the suite's `Release`).
    fn advisory_names(&self, entries: &[Entry]) -> Vec<(usize, AdvisoryName)> {
        let Some(ecosystem) = self.advisory_ecosystems().first() else {
            return Vec::new();
        };
        entries
            .iter()
            .enumerate()
            .filter_map(|(position, entry)| {
                let package = self.package(entry)?;
                (!package.version.is_empty()).then(|| {
                    (
                        position,
                        AdvisoryName {
                            ecosystem: (*ecosystem).to_owned(),
                            name: package.name,
                            version: package.version,
                        },
                    )
                })
            })
            .collect()
    }

    /// The dependency relations among a generation's `entries` of this
    /// ecosystem, as its recorded metadata states them: each edge is
    /// (position of the dependent, position of its dependency), both
    /// entries [`Self::package`] recognises. Only dependencies the
    /// generation carries appear; the default knows none.
    fn dependencies(&self, entries: &[Entry]) -> Vec<(usize, usize)> {
        let _ = entries;
        Vec::new()
    }

    /// The upstream HTTP statuses that mean "this package does not exist".
    fn not_found(&self) -> &'static [u16] {
        &[404]
    }

    /// The name an index entry is under, as [`Ecosystem::access`] names
    /// requests (the image repository, project, crate, package, archive
    /// or path): access rules and the site's hosted namespaces apply to
    /// entries by it. `None` for an entry of no name (none today).
    fn entry_name(&self, entry: &Entry) -> Option<String>;

    /// What a request to the server asks of this ecosystem, when `path`
    /// is one of its routes' (`None` otherwise). The server authenticates
    /// the caller and authorizes this before any of the ecosystem's
    /// handlers runs; a path it claims is never served without that.
    fn access(&self, method: &axum::http::Method, path: &str) -> Option<Access>;

    /// The `airlift.toml` lines that would collect `names` (as
    /// [`Ecosystem::access`] names requests: projects, crates, packages,
    /// image repositories, archives, paths) next time, for people to review
    /// (`airlift wanted`): this ecosystem's table with the names as TOML
    /// strings (see [`toml_string`]), or comment lines where something the
    /// names do not say is needed (a registry, a URL). `None` when it
    /// offers none.
    fn wanted_config(&self, names: &[String]) -> Option<String> {
        let _ = names;
        None
    }

    /// The answer to a refused request in the protocol's own words. The
    /// default is plain text with an HTTP Basic challenge, which pip, uv,
    /// apt and curl understand.
    fn refuse(&self, refusal: &Refusal) -> axum::response::Response {
        basic_refusal(refusal)
    }
}

/// A refusal as plain text, with `WWW-Authenticate: Basic` on a 401 and
/// `Retry-After` on a 429.
pub fn basic_refusal(refusal: &Refusal) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = (refusal.status, format!("{}\n", refusal.message)).into_response();
    refusal_headers(refusal, &mut response, || {
        format!("Basic realm=\"{}\", charset=\"UTF-8\"", refusal.service)
    });
    response
}

/// Adds `WWW-Authenticate` (from `challenge`) to a 401 and `Retry-After`
/// to a 429.
pub fn refusal_headers(
    refusal: &Refusal,
    response: &mut axum::response::Response,
    challenge: impl FnOnce() -> String,
) {
    use axum::http::{HeaderValue, StatusCode, header};
    let headers = response.headers_mut();
    if refusal.status == StatusCode::UNAUTHORIZED
        && let Ok(value) = HeaderValue::from_str(&challenge())
    {
        headers.insert(header::WWW_AUTHENTICATE, value);
    }
    if let Some(seconds) = refusal.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
}

/// Who an ecosystem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct About {
    /// Its name in index entries, bundles and `status` (`pypi`).
    pub name: &'static str,
    /// What people call it (`Python packages`).
    pub title: &'static str,
    /// Its table in `airlift.toml`.
    pub table: Table,
    /// The path its clients start from (`/pypi/simple/`).
    pub served_at: &'static str,
}

/// An ecosystem's table in `airlift.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table {
    /// The key (`pypi` for `[pypi]`, `oci` for `[[oci]]`).
    pub key: &'static str,
    /// Whether it is an array of tables (`[[oci]]`).
    pub many: bool,
}

/// The declaration file, for an ecosystem to read its table from.
pub struct Declared<'a> {
    /// The file, for messages.
    pub path: &'a Path,
    /// Its text.
    pub text: &'a str,
    /// The directory that relative paths in it (lockfiles) start from.
    pub base: &'a Path,
}

impl Declared<'_> {
    /// Deserializes the table `key`, strictly: an unknown key or a wrong
    /// type is an error naming the file, line and column.
    pub fn table<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        airlift_config::table(self.path, self.text, key).map_err(|e| Error::input(e.to_string()))
    }

    /// Reads the table `key` and, when it is there, plans it with `plan`
    /// (relative paths from [`Self::base`]); `None` when it is absent.
    pub fn plan_with<S: DeserializeOwned, P, E: std::fmt::Display>(
        &self,
        key: &str,
        plan: impl FnOnce(&S, &Path) -> Result<P, E>,
    ) -> Result<Option<P>, Error> {
        match self.table::<S>(key)? {
            Some(spec) => plan(&spec, self.base)
                .map(Some)
                .map_err(|e| self.invalid(e)),
            None => Ok(None),
        }
    }

    /// A planning error about this file: bad input, prefixed with its path.
    pub fn invalid(&self, error: impl std::fmt::Display) -> Error {
        Error::input(format!("{}: {error}", self.path.display()))
    }
}

/// What collecting needs.
pub struct CollectContext<'a> {
    /// The store that downloads go into.
    pub store: &'a Store,
    /// The HTTP client.
    pub fetcher: &'a Fetcher,
    /// Downloads in flight at once.
    pub concurrency: usize,
    /// Where progress goes.
    pub progress: Arc<dyn FetchProgress>,
}

/// A planned collection for one ecosystem.
pub trait Plan: Send + Sync {
    /// Whether nothing is planned (no progress phase is shown for it; it
    /// still runs, so that its summary fields are there).
    fn is_empty(&self) -> bool {
        false
    }

    /// Downloads what was planned into the store. The index is not
    /// touched: the caller commits every ecosystem's entries at once.
    fn collect<'a>(
        &'a self,
        context: &'a CollectContext<'a>,
    ) -> BoxFuture<'a, Result<Collected, Error>>;
}

/// The collect of an ecosystem whose planning gives a value of its own type
/// `P`: what most ecosystems need, so that none writes its own [`Plan`].
pub type CollectFn<P> =
    for<'a> fn(&'a P, &'a CollectContext<'a>) -> BoxFuture<'a, Result<Collected, Error>>;

/// A [`Plan`] from an ecosystem's own plan value and collect function;
/// without a value (nothing declared), collect returns `empty()`, so the
/// summary still has the ecosystem's fields.
pub struct Planned<P> {
    planned: Option<P>,
    collect: CollectFn<P>,
    empty: fn() -> Collected,
}

impl Table {
    /// A single table (`[pypi]`).
    pub const fn one(key: &'static str) -> Self {
        Self { key, many: false }
    }

    /// An array of tables (`[[oci]]`).
    pub const fn many(key: &'static str) -> Self {
        Self { key, many: true }
    }

    /// No table: an ecosystem whose entries other code derives (the
    /// carried SBOMs), with nothing to declare.
    pub const fn none() -> Self {
        Self {
            key: "",
            many: false,
        }
    }

    /// Whether this is [`Table::none`].
    pub fn is_none(&self) -> bool {
        self.key.is_empty()
    }
}

impl<P: Send + Sync + 'static> Planned<P> {
    /// A plan of `planned` (`None`: nothing declared), collected by
    /// `collect`.
    pub fn boxed(
        planned: Option<P>,
        collect: CollectFn<P>,
        empty: fn() -> Collected,
    ) -> Option<Box<dyn Plan>> {
        Some(Box::new(Self {
            planned,
            collect,
            empty,
        }))
    }
}

impl<P: Send + Sync> Plan for Planned<P> {
    fn is_empty(&self) -> bool {
        self.planned.is_none()
    }

    fn collect<'a>(
        &'a self,
        context: &'a CollectContext<'a>,
    ) -> BoxFuture<'a, Result<Collected, Error>> {
        match &self.planned {
            Some(planned) => (self.collect)(planned, context),
            None => {
                let empty = (self.empty)();
                Box::pin(async move { Ok(empty) })
            }
        }
    }
}

/// What one ecosystem's collect brought.
#[derive(Debug, Default)]
pub struct Collected {
    /// The index entries of everything it carries.
    pub entries: Vec<Entry>,
    /// Fields of the collect summary (`--json` and the audit log), by
    /// name; their names are part of the CLI's output and stay stable.
    pub summary: Vec<(&'static str, serde_json::Value)>,
    /// One human line ("3 crates (12345 bytes)"), when it carried anything.
    pub line: Option<String>,
    /// Lines worth reading under the summary ("note: …").
    pub notes: Vec<String>,
    /// For each carried package name, the versions the upstream offered
    /// at collect time that are newer than the oldest one carried (see
    /// [`UpstreamVersions`]); empty where the ecosystem records none
    /// (files, OCI, advisories, apt, whose suite is the upstream's
    /// current state). The CLI carries them in its staleness document, so
    /// that the isolated side can tell what is out of date.
    pub upstream: Vec<UpstreamVersions>,
}

/// The most versions [`UpstreamVersions`] keeps for one name: the newest
/// ones, so that a package with thousands of releases costs a bounded
/// part of the bundle.
pub const UPSTREAM_VERSIONS_LIMIT: usize = 256;

/// The versions an upstream offers of one carried package name that are
/// newer than the oldest carried version of it, yanked and withdrawn ones
/// left out, oldest first, at most [`UPSTREAM_VERSIONS_LIMIT`] (the
/// newest).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpstreamVersions {
    /// The package's name, as [`Ecosystem::package`] gives it.
    pub name: String,
    /// The versions, oldest first.
    pub versions: Vec<String>,
}

impl UpstreamVersions {
    /// The versions of `offered` newer than `oldest` by `compare` (the
    /// ecosystem's order), deduplicated, oldest first, the newest
    /// [`UPSTREAM_VERSIONS_LIMIT`] of them.
    pub fn newer_than(
        name: impl Into<String>,
        oldest: &str,
        offered: impl IntoIterator<Item = String>,
        compare: impl Fn(&str, &str) -> Ordering,
    ) -> Self {
        let mut versions: Vec<String> = offered
            .into_iter()
            .filter(|version| compare(version, oldest) == Ordering::Greater)
            .collect();
        versions.sort_by(|a, b| compare(a, b).then_with(|| a.cmp(b)));
        versions.dedup();
        if versions.len() > UPSTREAM_VERSIONS_LIMIT {
            versions.drain(..versions.len() - UPSTREAM_VERSIONS_LIMIT);
        }
        Self {
            name: name.into(),
            versions,
        }
    }

    /// The oldest carried version of each name among `carried` (name,
    /// version) pairs, by `compare`: where [`Self::newer_than`] starts.
    pub fn oldest_carried<'a>(
        carried: impl IntoIterator<Item = (&'a str, &'a str)>,
        compare: impl Fn(&str, &str) -> Ordering,
    ) -> std::collections::BTreeMap<String, String> {
        let mut oldest: std::collections::BTreeMap<String, String> =
            std::collections::BTreeMap::new();
        for (name, version) in carried {
            match oldest.get_mut(name) {
                Some(current) if compare(version, current) == Ordering::Less => {
                    *current = version.to_owned();
                }
                Some(_) => {}
                None => {
                    oldest.insert(name.to_owned(), version.to_owned());
                }
            }
        }
        oldest
    }
}

/// Why an ecosystem operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The declaration or an input file (a lockfile) is wrong.
    Input,
    /// The store failed.
    Store,
    /// An upstream or the network failed, or sent something wrong.
    Upstream,
}

impl ErrorKind {
    /// Bad input when `input`, else the store's when `store`, else the
    /// upstream's: how most ecosystems' errors divide.
    pub fn of(input: bool, store: bool) -> Self {
        if input {
            Self::Input
        } else if store {
            Self::Store
        } else {
            Self::Upstream
        }
    }
}

/// An ecosystem failure: a kind, a message that names what is involved
/// (file, URL, digest), and hints.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What happened.
    pub message: String,
    /// What to do about it.
    pub hints: Vec<String>,
}

impl Error {
    /// A failure of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    /// Bad input.
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Input, message)
    }

    /// A store failure.
    pub fn store(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Store, message)
    }

    /// An upstream failure.
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Upstream, message)
    }

    /// An error of an ecosystem's own type, of the kind `kind` says.
    pub fn classify<E: std::fmt::Display>(error: E, kind: impl Fn(&E) -> ErrorKind) -> Self {
        let kind = kind(&error);
        Self::new(kind, error.to_string())
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

/// What the server gives every ecosystem's routes.
#[derive(Clone)]
pub struct Services {
    /// The store.
    pub store: Store,
    /// Where upload sessions live (same file system as the blobs).
    pub uploads: PathBuf,
    /// Records changes made through the server (pushes, deletes).
    pub audit: Option<AuditHook>,
    /// How long an upload session stays usable; `None` is the
    /// ecosystem's default.
    pub upload_expiry: Option<std::time::Duration>,
    /// Ecosystem-specific services by type (the apt signer).
    pub extensions: axum::http::Extensions,
    /// The server's access decisions, when it controls access (for token
    /// endpoints and metadata that says whether a login is needed).
    pub gatekeeper: Option<Arc<dyn Gatekeeper>>,
}

/// One client of an ecosystem.
#[derive(Clone, Copy, Debug)]
pub struct Client {
    /// Its name on the command line (`pip`).
    pub name: &'static str,
    /// What `client-config` writes for it.
    pub about: &'static str,
}

/// What a client configuration is made from.
pub struct ClientRequest<'a> {
    /// The server's base URL as clients reach it, without a trailing `/`.
    pub base: &'a str,
    /// Whether that URL is HTTPS.
    pub tls: bool,
    /// The site CA certificate clients trust for HTTPS.
    pub ca: &'a Path,
    /// Opens the store, for configurations that depend on what is carried
    /// (the others never open it, so they create nothing in a new home).
    pub store: &'a (dyn Fn() -> Result<Store, Error> + 'a),
    /// Loads the site's services (the apt signer, made on first use), for
    /// configurations that name them.
    pub extensions: &'a (dyn Fn() -> Result<axum::http::Extensions, Error> + 'a),
    /// Where the client keeps the server's signing key (apt's
    /// `Signed-By`).
    pub signed_by: &'a Path,
    /// The credentials the client should send, when the server needs them.
    pub login: Option<&'a Login>,
}

/// A user and the API token (or password) a client logs in with.
#[derive(Clone, Debug)]
pub struct Login {
    /// The user.
    pub user: String,
    /// The token.
    pub token: String,
}

impl Login {
    /// `base` (`http://host:port`) with the user and token in it
    /// (`http://user:token@host:port`), percent-encoded, for clients that
    /// read credentials from the index URL (pip, uv).
    pub fn in_url(&self, base: &str) -> String {
        let encode = |text: &str| {
            text.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        };
        match base.split_once("://") {
            Some((scheme, rest)) => format!(
                "{scheme}://{}:{}@{rest}",
                encode(&self.user),
                encode(&self.token)
            ),
            None => base.to_owned(),
        }
    }
}

/// A client configuration: a file's content and, where the client reads
/// them, environment variables for one shell.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClientConfig {
    /// The client.
    pub tool: &'static str,
    /// Where the content goes.
    pub file: &'static str,
    /// The content.
    pub content: String,
    /// The same as environment variables.
    pub environment: Vec<(String, String)>,
}

/// OSV's name for the ecosystem of Rust crates. It is the public crate
/// registry's host name, which this repository writes nowhere as a
/// literal: upstream hosts are configuration. `airlift_inventory`, which
/// depends on no other airlift crate, spells it too; a test of the CLI
/// holds the two equal.
pub const OSV_RUST: &str = concat!("crates", ".", "io");

/// A package as OSV advisories name it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct AdvisoryName {
    /// The OSV ecosystem, with the release where advisories are per
    /// release (`PyPI`, `Debian:12`).
    pub ecosystem: String,
    /// The package's name in that ecosystem.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// The package identity of an index entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Package {
    /// The ecosystem's name.
    pub ecosystem: &'static str,
    /// The package's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its package URL (`pkg:pypi/flask@3.0.0`).
    pub purl: String,
    /// The digest the upstream published for it (`sha256:…`), when known.
    pub digest: Option<String>,
    /// Its licences as the upstream metadata states them (an SPDX
    /// expression, or a licence's name exactly as written); empty when the
    /// metadata states none or the ecosystem does not record it.
    pub licenses: Vec<String>,
}

/// Longest licence statement kept: an expression or a licence's name,
/// never a licence's whole text.
pub const LICENSE_LIMIT: usize = 200;

/// A licence as upstream metadata states it, made fit for an SBOM: trimmed,
/// and `None` when empty, longer than [`LICENSE_LIMIT`], or on more than
/// one line (metadata fields that hold a licence's whole text) or holding
/// other control characters.
pub fn stated_license(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty() && text.len() <= LICENSE_LIMIT && !text.chars().any(char::is_control))
        .then(|| text.to_owned())
}

/// The error for a client an ecosystem does not have.
pub fn no_client(ecosystem: &str, tool: &str) -> Error {
    Error::input(format!("{ecosystem} has no client named {tool:?}"))
}

/// The percent-encoding of a package URL component: everything but
/// unreserved characters.
pub fn purl_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `text` as a TOML basic string, quotes included: `"`, `\` and every
/// control character escaped, so that a name from a hostile request can
/// neither end the string nor start another line.
pub fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `key = [ … ]` with one TOML string of `values` a line, ending in a
/// line break: what a `wanted_config` writes into its table.
pub fn toml_array(key: &str, values: &[String]) -> String {
    let mut out = format!("{key} = [\n");
    for value in values {
        out.push_str("    ");
        out.push_str(&toml_string(value));
        out.push_str(",\n");
    }
    out.push_str("]\n");
    out
}

/// `text` made safe for one comment line of a TOML file: control
/// characters (line breaks among them) shown as `?`.
pub fn toml_comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The registered ecosystems, in the order they are collected and listed.
pub type Registry = [Arc<dyn Ecosystem>];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_components_are_percent_encoded() {
        assert_eq!(purl_encode("flask"), "flask");
        assert_eq!(purl_encode("@types/node"), "%40types%2Fnode");
        assert_eq!(purl_encode("1.0+local"), "1.0%2Blocal");
    }

    #[test]
    fn licences_are_kept_as_stated_unless_they_are_text() {
        assert_eq!(
            stated_license(" MIT OR Apache-2.0 ").as_deref(),
            Some("MIT OR Apache-2.0")
        );
        assert_eq!(stated_license(""), None);
        assert_eq!(
            stated_license("Copyright (c) 2020\nPermission is hereby granted"),
            None
        );
        assert_eq!(stated_license(&"x".repeat(LICENSE_LIMIT + 1)), None);
    }

    #[test]
    fn toml_strings_escape_what_would_end_them() {
        assert_eq!(toml_string("flask"), "\"flask\"");
        assert_eq!(toml_string("a\"b\\c\nd\u{7}"), "\"a\\\"b\\\\c\\nd\\u0007\"");
        let parsed: toml::Value =
            toml::from_str(&format!("x = {}", toml_string("q\"\n[x]\u{1b}"))).expect("parses");
        assert_eq!(parsed["x"].as_str(), Some("q\"\n[x]\u{1b}"));
        assert_eq!(toml_comment("a\nb"), "a?b");
    }

    #[test]
    fn upstream_versions_keep_the_newer_ones_in_order_and_bounded() {
        let numeric = |a: &str, b: &str| {
            let parse = |v: &str| {
                v.split('.')
                    .map(|p| p.parse::<u64>().unwrap_or(0))
                    .collect::<Vec<_>>()
            };
            parse(a).cmp(&parse(b))
        };
        let offered = ["1.10", "1.2", "0.9", "1.2", "1.9", "2.0"].map(String::from);
        let newer = UpstreamVersions::newer_than("alpha", "1.2", offered, numeric);
        assert_eq!(newer.name, "alpha");
        assert_eq!(newer.versions, ["1.9", "1.10", "2.0"]);
        let many = (0..1000u32).map(|n| format!("1.{n}"));
        let newer = UpstreamVersions::newer_than("beta", "0.1", many, numeric);
        assert_eq!(newer.versions.len(), UPSTREAM_VERSIONS_LIMIT);
        assert_eq!(newer.versions.first().map(String::as_str), Some("1.744"));
        assert_eq!(newer.versions.last().map(String::as_str), Some("1.999"));
        let oldest =
            UpstreamVersions::oldest_carried([("a", "1.10"), ("a", "1.9"), ("b", "3.0")], numeric);
        assert_eq!(oldest.get("a").map(String::as_str), Some("1.9"));
        assert_eq!(oldest.get("b").map(String::as_str), Some("3.0"));
    }

    #[test]
    fn errors_keep_their_kind_and_hints() {
        let error = Error::upstream("index.example.com: 503").hint("try again");
        assert_eq!(error.kind, ErrorKind::Upstream);
        assert_eq!(error.to_string(), "index.example.com: 503");
        assert_eq!(error.hints, ["try again"]);
    }
}
