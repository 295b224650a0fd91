//! Prometheus metrics.
//!
//! A scrape reads the serving generation and the site state, which are
//! single rows. The blob count and bytes of a generation need every entry,
//! so they are computed once per generation (generations are immutable) and
//! served from that result until the serving generation changes. The disk
//! space under the home is one `statvfs` per scrape.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use airlift_store::{Store, StoreError, state_keys};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::monitoring::{AuditCheck, KeyExpiry, Monitoring};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// A severity level of advisory findings.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabels {
    severity: String,
}

/// An environment (ADR 0027): `default` follows every import.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EnvironmentLabels {
    environment: String,
}

/// A TUF role of the trusted metadata (`root`, `timestamp`, `snapshot`,
/// `targets`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoleLabels {
    role: String,
}

/// A certificate of the site's TLS directory (`server`, `ca`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertificateLabels {
    certificate: String,
}

/// The expiry a file states (TUF metadata's `signed.expires`, a
/// certificate's `notAfter`), remembered by its modification time and
/// length so that an unchanged file is not read again at every scrape.
type ExpiryCache =
    Mutex<std::collections::HashMap<PathBuf, (std::time::SystemTime, u64, Option<i64>)>>;

/// The largest TUF metadata file read for its expiry (a targets file of a
/// very large site); a larger one reports none.
const MAX_METADATA_BYTES: u64 = 256 << 20;

/// A request's route and the class of its status (`2xx` … `5xx`): the
/// latency histogram's labels, few enough that every series stays.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    route: String,
    class: String,
}

/// The latency buckets, in seconds: from a cached index page to a large
/// blob on a slow link.
const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EcosystemLabels {
    ecosystem: String,
}

/// Where `airlift drift` keeps its last counts: an access record (kind,
/// name), outside every generation.
pub const DRIFT_RECORD: (&str, &str) = ("drift", "last");

/// Request counters and store gauges.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    bytes: Family<RouteLabels, Counter>,
    durations: Family<DurationLabels, Histogram, fn() -> Histogram>,
    refusals: Family<ReasonLabels, Counter>,
    gc_runs: Counter,
    gc_reclaimed: Counter,
    gc_reclaimable: Gauge,
    gc_last: Gauge,
    blobs: Gauge,
    stored_bytes: Gauge,
    generation: Gauge,
    last_import: Gauge,
    advisory_records: Gauge,
    advisory_built: Gauge,
    advisory_age: Gauge,
    drift_integrity: Gauge,
    drift_provenance: Gauge,
    drift_checked: Gauge,
    drift_hosts: Gauge,
    drift_stale: Gauge,
    missing_names: Family<EcosystemLabels, Counter>,
    home_free: Gauge,
    home_size: Gauge,
    trust_expires: Family<RoleLabels, Gauge>,
    tls_expires: Family<CertificateLabels, Gauge>,
    environment_generation: Family<EnvironmentLabels, Gauge>,
    environment_moved: Family<EnvironmentLabels, Gauge>,
    findings: Family<SeverityLabels, Gauge>,
    expiry_cache: ExpiryCache,
    /// Imports, refusals, operation durations, the audit log's
    /// verification and the apt signing key (crate::monitoring).
    pub(crate) monitoring: Monitoring,
    /// The home whose file system `home_free` and `home_size` measure.
    home: Option<PathBuf>,
    /// The totals of the last generation measured.
    totals: Mutex<Option<Totals>>,
}

/// What a scan of one generation's entries measured.
#[derive(Clone, Copy)]
struct Totals {
    generation: u64,
    blobs: i64,
    bytes: i64,
    /// Advisory records carried.
    advisory_records: i64,
    /// The advisory database's build time (Unix seconds), when carried.
    advisory_built: Option<i64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("airlift");
        let requests = Family::<RequestLabels, Counter>::default();
        let bytes = Family::<RouteLabels, Counter>::default();
        let durations =
            Family::<DurationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer's headers, by route and status class \
             (2xx, 3xx, 4xx, 5xx); a body's streaming is not included",
            durations.clone(),
        );
        let refusals = Family::<ReasonLabels, Counter>::default();
        let gc_runs = Counter::default();
        let gc_reclaimed = Counter::default();
        let gc_reclaimable = Gauge::default();
        let gc_last = Gauge::default();
        registry.register(
            "gc_runs",
            "Garbage collections the server ran (serve --gc-every)",
            gc_runs.clone(),
        );
        registry.register(
            "gc_reclaimed_bytes",
            "Bytes of blobs and staged writes the server's garbage collections removed",
            gc_reclaimed.clone(),
        );
        registry.register(
            "gc_reclaimable_bytes",
            "Bytes a garbage collection would remove now, from the last dry run (hourly)",
            gc_reclaimable.clone(),
        );
        registry.register(
            "gc_last_run_timestamp_seconds",
            "Unix time of the last garbage collection the server ran (0 if none)",
            gc_last.clone(),
        );
        let blobs = Gauge::default();
        let stored_bytes = Gauge::default();
        let generation = Gauge::default();
        let last_import = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_response_bytes",
            "Response body bytes announced, by route",
            bytes.clone(),
        );
        registry.register(
            "auth_failures",
            "Requests refused by access control, by reason: bad credentials \
             (malformed, unknown_user, wrong_password, unknown_token, expired, revoked, \
             bad_signature), rate_limited, unauthenticated (no credentials where they \
             are needed) and denied (credentials that do not allow it)",
            refusals.clone(),
        );
        registry.register(
            "store_blobs",
            "Distinct blobs referenced by the serving generation",
            blobs.clone(),
        );
        registry.register(
            "store_bytes",
            "Bytes of the blobs referenced by the serving generation",
            stored_bytes.clone(),
        );
        registry.register(
            "generation",
            "Index generation being served",
            generation.clone(),
        );
        let advisory_records = Gauge::default();
        let advisory_built = Gauge::default();
        let advisory_age = Gauge::default();
        registry.register(
            "advisory_records",
            "OSV advisory records the serving generation carries",
            advisory_records.clone(),
        );
        registry.register(
            "advisory_database_built_timestamp_seconds",
            "Unix time the carried advisory database was built: its newest record's \
             modification time (0 if none is carried)",
            advisory_built.clone(),
        );
        registry.register(
            "advisory_database_age_seconds",
            "Seconds since the carried advisory database was built (-1 if none is carried)",
            advisory_age.clone(),
        );
        let drift_integrity = Gauge::default();
        let drift_provenance = Gauge::default();
        let drift_checked = Gauge::default();
        let drift_hosts = Gauge::default();
        let drift_stale = Gauge::default();
        registry.register(
            "drift_stale_packages",
            "Carried packages with newer versions upstream, as the staleness record of the \
             generation the last `airlift drift` checked says (-1 before any check, or when \
             that generation carries no staleness record)",
            drift_stale.clone(),
        );
        registry.register(
            "drift_host_packages",
            "Packages the hosts of the last `airlift drift --inventory` run that the site \
             does not serve as they are (-1 before any such check)",
            drift_hosts.clone(),
        );
        registry.register(
            "drift_integrity_problems",
            "Integrity problems the last `airlift drift` found: entries, indexes or blobs \
             that are not what the last imported bundle signed (-1 before any check)",
            drift_integrity.clone(),
        );
        registry.register(
            "drift_provenance_entries",
            "Entries the last `airlift drift` found that no imported bundle accounts for: \
             pushed, published or removed inside the site (-1 before any check)",
            drift_provenance.clone(),
        );
        registry.register(
            "drift_checked_timestamp_seconds",
            "Unix time of the last `airlift drift` (0 if never)",
            drift_checked.clone(),
        );
        let missing_names = Family::<EcosystemLabels, Counter>::default();
        registry.register(
            "requests_for_missing_names",
            "Reads of a package, crate, image repository, archive or file path the site \
             does not serve, answered 404, by ecosystem (see `airlift receipt export`'s \
             wanted list)",
            missing_names.clone(),
        );
        let home_free = Gauge::default();
        let home_size = Gauge::default();
        let trust_expires = Family::<RoleLabels, Gauge>::default();
        registry.register(
            "trust_expires_timestamp_seconds",
            "Unix time the trusted TUF metadata of each role expires (the last imported \
             bundle's timestamp, snapshot and targets, and the root); absent before any",
            trust_expires.clone(),
        );
        let tls_expires = Family::<CertificateLabels, Gauge>::default();
        registry.register(
            "tls_certificate_expires_timestamp_seconds",
            "Unix time the site's TLS certificates expire (server.crt, ca.crt of the home's \
             TLS directory); absent when there is none",
            tls_expires.clone(),
        );
        let findings = Family::<SeverityLabels, Gauge>::default();
        registry.register(
            "findings",
            "Advisory findings on the packages of the generation the last `airlift drift` \
             checked, by severity (-1 before any check, or when that generation carries no \
             advisory database)",
            findings.clone(),
        );
        let environment_generation = Family::<EnvironmentLabels, Gauge>::default();
        registry.register(
            "environment_generation",
            "Generation each environment serves (`default` follows every import)",
            environment_generation.clone(),
        );
        let environment_moved = Family::<EnvironmentLabels, Gauge>::default();
        registry.register(
            "environment_moved_timestamp_seconds",
            "Unix time each named environment was last promoted, rolled back or created",
            environment_moved.clone(),
        );
        registry.register(
            "home_free_bytes",
            "Bytes available to airlift on the file system of its home (-1 if unknown)",
            home_free.clone(),
        );
        registry.register(
            "home_size_bytes",
            "Size of the file system of airlift's home (-1 if unknown)",
            home_size.clone(),
        );
        registry.register(
            "last_import_timestamp_seconds",
            "Unix time of the last committed import (0 if none)",
            last_import.clone(),
        );
        let monitoring = Monitoring::register(&mut registry);
        Self {
            registry,
            requests,
            bytes,
            durations,
            refusals,
            gc_runs,
            gc_reclaimed,
            gc_reclaimable,
            gc_last,
            blobs,
            stored_bytes,
            generation,
            last_import,
            advisory_records,
            advisory_built,
            advisory_age,
            drift_integrity,
            drift_provenance,
            drift_checked,
            drift_hosts,
            drift_stale,
            missing_names,
            home_free,
            home_size,
            trust_expires,
            tls_expires,
            environment_generation,
            environment_moved,
            findings,
            expiry_cache: Mutex::default(),
            monitoring,
            home: None,
            totals: Mutex::new(None),
        }
    }

    /// Registers every metric, and measures the file system under `home`
    /// at each scrape.
    pub fn for_home(home: &Path) -> Self {
        Self {
            home: Some(home.to_owned()),
            ..Self::new()
        }
    }

    /// Verifies the home's audit log with `check` at scrapes, when due
    /// (see [`crate::monitoring::AUDIT_VERIFY_MIN_INTERVAL`]), for
    /// `airlift_audit_verified`.
    pub fn with_audit_check(mut self, check: AuditCheck) -> Self {
        self.monitoring.audit_check = Some(check);
        self
    }

    /// Reads the expiry of the apt signing key in the file at `path` with
    /// `read` (cached by the file's modification time and length), for
    /// `airlift_apt_signing_key_expires_timestamp_seconds`.
    pub fn with_apt_signing_key(mut self, path: PathBuf, read: KeyExpiry) -> Self {
        self.monitoring.apt_key = Some((path, read));
        self
    }

    /// Counts one response, answered `seconds` after the request came.
    pub fn observe(&self, route: &str, status: u16, bytes: u64, seconds: f64) {
        self.durations
            .get_or_create(&DurationLabels {
                route: route.to_owned(),
                class: format!("{}xx", status / 100),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
        self.bytes
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .inc_by(bytes);
    }

    /// Counts one read of a name the site does not serve.
    pub fn missing_name(&self, ecosystem: &str) {
        self.missing_names
            .get_or_create(&EcosystemLabels {
                ecosystem: ecosystem.to_owned(),
            })
            .inc();
    }

    /// Records a garbage collection that removed `bytes`, at `unix` time.
    pub fn collected(&self, bytes: u64, unix: i64) {
        self.gc_runs.inc();
        self.gc_reclaimed.inc_by(bytes);
        self.gc_last.set(unix);
    }

    /// Sets what a garbage collection would remove now.
    pub fn reclaimable(&self, bytes: u64) {
        self.gc_reclaimable
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Counts one request refused by access control.
    pub fn refused(&self, reason: &str) {
        self.refusals
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// The distinct blobs and their bytes in generation `id`, and its
    /// advisory database, scanned only when `id` is not the generation
    /// measured last. The lock is held over the scan, so scrapes that
    /// arrive together scan once.
    fn totals(&self, store: &Store, id: u64) -> Result<Totals, StoreError> {
        let mut cached = self
            .totals
            .lock()
            .map_err(|_| StoreError::Corrupt("metrics lock poisoned".to_owned()))?;
        if let Some(totals) = *cached
            && totals.generation == id
        {
            return Ok(totals);
        }
        let (mut blobs, mut bytes) = (BTreeSet::new(), 0u64);
        let (mut advisory_records, mut advisory_built) = (0i64, None);
        for entry in store.meta.entries(id, None)? {
            if entry.ecosystem == airlift_advisory::ECOSYSTEM {
                if entry.key == airlift_advisory::DATABASE_KEY {
                    advisory_built = entry
                        .meta
                        .get("built")
                        .and_then(|b| b.as_str())
                        .and_then(|b| b.parse::<jiff::Timestamp>().ok())
                        .map(|b| b.as_second());
                } else {
                    advisory_records += 1;
                }
            }
            if blobs.insert(entry.digest) {
                bytes += entry.size;
            }
        }
        let totals = Totals {
            generation: id,
            blobs: blobs.len() as i64,
            bytes: bytes as i64,
            advisory_records,
            advisory_built,
        };
        *cached = Some(totals);
        Ok(totals)
    }

    /// Refreshes the store gauges and renders the text format.
    pub fn render(&self, store: &Store) -> Result<String, StoreError> {
        let current = store.meta.current()?;
        let totals = match &current {
            Some(generation) => Some(self.totals(store, generation.id)?),
            None => None,
        };
        self.blobs.set(totals.map_or(0, |t| t.blobs));
        self.stored_bytes.set(totals.map_or(0, |t| t.bytes));
        self.advisory_records
            .set(totals.map_or(0, |t| t.advisory_records));
        let built = totals.and_then(|t| t.advisory_built);
        self.advisory_built.set(built.unwrap_or(0));
        self.advisory_age.set(built.map_or(-1, |built| {
            (jiff::Timestamp::now().as_second() - built).max(0)
        }));
        self.generation
            .set(current.as_ref().map_or(0, |g| g.id as i64));
        // Environments come and go: a deleted one's series goes with it.
        self.environment_generation.clear();
        self.environment_moved.clear();
        if let Some(current) = &current {
            self.environment_generation
                .get_or_create(&EnvironmentLabels {
                    environment: airlift_store::environment::DEFAULT.into(),
                })
                .set(current.id as i64);
        }
        match airlift_store::environment::list(store.meta.as_ref()) {
            Ok(environments) => {
                for environment in environments {
                    let labels = EnvironmentLabels {
                        environment: environment.name,
                    };
                    self.environment_generation
                        .get_or_create(&labels)
                        .set(environment.generation as i64);
                    self.environment_moved
                        .get_or_create(&labels)
                        .set(environment.moved_at);
                }
            }
            Err(e) => tracing::warn!("environments unreadable for metrics: {e}"),
        }
        let last = store
            .meta
            .state(state_keys::LAST_IMPORT_AT)?
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        self.last_import.set(last);
        // The last drift check's counts, as `airlift drift` recorded them.
        let drift = store
            .meta
            .records(DRIFT_RECORD.0)?
            .into_iter()
            .find(|(name, _)| name == DRIFT_RECORD.1)
            .and_then(|(_, value)| serde_json::from_str::<serde_json::Value>(&value).ok());
        let count = |field: &str| {
            drift
                .as_ref()
                .and_then(|d| d.get(field))
                .and_then(serde_json::Value::as_i64)
        };
        self.drift_integrity.set(count("integrity").unwrap_or(-1));
        self.drift_provenance.set(count("provenance").unwrap_or(-1));
        self.drift_checked.set(count("checked_at").unwrap_or(0));
        self.drift_hosts.set(
            count("hosts")
                .filter(|_| count("host_check").is_some_and(|c| c > 0))
                .unwrap_or(-1),
        );
        self.drift_stale.set(
            count("stale")
                .filter(|_| count("staleness_check").is_some_and(|c| c > 0))
                .unwrap_or(-1),
        );
        let checked = count("finding_check").is_some_and(|c| c > 0);
        for severity in ["critical", "high", "medium", "low", "unknown"] {
            let value = if checked {
                count(&format!("findings_{severity}")).unwrap_or(0)
            } else {
                -1
            };
            self.findings
                .get_or_create(&SeverityLabels {
                    severity: severity.into(),
                })
                .set(value);
        }
        // A full disk stops imports and pushes; measured at each scrape so
        // that an alert sees it fill. Unknown (no home, or statvfs failed):
        // -1, which no threshold on the free share mistakes for full.
        let (free, size) = self
            .home
            .as_deref()
            .and_then(disk_space)
            .unwrap_or((-1, -1));
        self.home_free.set(free);
        self.home_size.set(size);
        // What expires: the trusted metadata and the TLS certificates.
        if let Some(home) = self.home.as_deref() {
            for role in ["root", "timestamp", "snapshot", "targets"] {
                let path = home.join("trust/tuf").join(format!("{role}.json"));
                if let Some(unix) = self.expiry(&path, metadata_expires) {
                    self.trust_expires
                        .get_or_create(&RoleLabels { role: role.into() })
                        .set(unix);
                }
            }
            for certificate in ["server", "ca"] {
                let path = home.join("tls").join(format!("{certificate}.crt"));
                if let Some(unix) = self.expiry(&path, airlift_tls::not_after) {
                    self.tls_expires
                        .get_or_create(&CertificateLabels {
                            certificate: certificate.into(),
                        })
                        .set(unix);
                }
            }
        }
        self.monitoring
            .refresh(store, self.home.as_deref(), |path, read| {
                self.expiry(path, read)
            })?;
        let mut text = String::new();
        encode(&mut text, &self.registry)
            .map_err(|e| StoreError::Corrupt(format!("metrics encoding: {e}")))?;
        Ok(text)
    }
}

impl Metrics {
    /// The expiry `read` finds in the file at `path`, read again only when
    /// its modification time or length changed; `None` when there is no
    /// such file or it states none.
    fn expiry(&self, path: &Path, read: fn(&[u8]) -> Option<i64>) -> Option<i64> {
        let metadata = std::fs::metadata(path).ok()?;
        let stamp = (metadata.modified().ok()?, metadata.len());
        let mut cache = self
            .expiry_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((modified, length, unix)) = cache.get(path)
            && (*modified, *length) == stamp
        {
            return *unix;
        }
        let unix = (metadata.len() <= MAX_METADATA_BYTES)
            .then(|| std::fs::read(path).ok())
            .flatten()
            .and_then(|bytes| read(&bytes));
        cache.insert(path.to_owned(), (stamp.0, stamp.1, unix));
        unix
    }
}

/// A TUF metadata file's `signed.expires`, in Unix seconds.
fn metadata_expires(bytes: &[u8]) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct File {
        signed: Signed,
    }
    #[derive(serde::Deserialize)]
    struct Signed {
        expires: String,
    }
    let file: File = serde_json::from_slice(bytes).ok()?;
    file.signed
        .expires
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

/// Bytes available to an unprivileged writer and the size of the file
/// system holding `path`, or `None` when it cannot be read.
#[cfg(unix)]
fn disk_space(path: &Path) -> Option<(i64, i64)> {
    let stat = rustix::fs::statvfs(path).ok()?;
    let bytes =
        |blocks: u64| i64::try_from(blocks.saturating_mul(stat.f_frsize)).unwrap_or(i64::MAX);
    Some((bytes(stat.f_bavail), bytes(stat.f_blocks)))
}

#[cfg(not(unix))]
fn disk_space(_path: &Path) -> Option<(i64, i64)> {
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use airlift_store::{
        AuditHead, Change, Entry, FsBlobStore, Generation, MetaStore, SqliteMetaStore,
    };

    use super::*;

    /// An index that counts the scans of a generation's entries.
    struct Counting {
        inner: SqliteMetaStore,
        scans: AtomicUsize,
    }

    impl MetaStore for Counting {
        fn current(&self) -> Result<Option<Generation>, StoreError> {
            self.inner.current()
        }
        fn generations(&self) -> Result<Vec<Generation>, StoreError> {
            self.inner.generations()
        }
        fn entries(
            &self,
            generation: u64,
            ecosystem: Option<&str>,
        ) -> Result<Vec<Entry>, StoreError> {
            self.scans.fetch_add(1, Ordering::SeqCst);
            self.inner.entries(generation, ecosystem)
        }
        fn entry(
            &self,
            generation: u64,
            ecosystem: &str,
            key: &str,
        ) -> Result<Option<Entry>, StoreError> {
            self.inner.entry(generation, ecosystem, key)
        }
        fn entries_with_prefix(
            &self,
            generation: u64,
            ecosystem: &str,
            prefix: &str,
        ) -> Result<Vec<Entry>, StoreError> {
            self.inner
                .entries_with_prefix(generation, ecosystem, prefix)
        }
        fn apply(&self, change: Change) -> Result<Generation, StoreError> {
            self.inner.apply(change)
        }
        fn state(&self, key: &str) -> Result<Option<String>, StoreError> {
            self.inner.state(key)
        }
        fn records(&self, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
            self.inner.records(kind)
        }
        fn put_record(
            &self,
            kind: &str,
            name: &str,
            value: Option<&str>,
            create: bool,
        ) -> Result<bool, StoreError> {
            self.inner.put_record(kind, name, value, create)
        }
        fn records_version(&self) -> Result<u64, StoreError> {
            self.inner.records_version()
        }
        fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
            self.inner.audit_head()
        }
        fn record_audit_head(&self, head: &AuditHead) -> Result<(), StoreError> {
            self.inner.record_audit_head(head)
        }
        fn clear_audit_head(&self, expected: &AuditHead) -> Result<(), StoreError> {
            self.inner.clear_audit_head(expected)
        }
    }

    fn push(meta: &Counting, key: &str, fill: char, size: u64) {
        meta.apply(Change {
            source: format!("push {key}"),
            upserts: vec![Entry {
                ecosystem: "files".into(),
                key: key.into(),
                digest: format!("sha256:{}", fill.to_string().repeat(64))
                    .parse()
                    .unwrap(),
                size,
                meta: Default::default(),
            }],
            ..Change::default()
        })
        .unwrap();
    }

    #[test]
    fn scrapes_scan_the_index_once_per_generation() {
        // No blob is read; the blob store only completes the `Store`.
        let dir = std::env::temp_dir().join(format!("airlift-metrics-test-{}", std::process::id()));
        let meta = Arc::new(Counting {
            inner: SqliteMetaStore::in_memory().unwrap(),
            scans: AtomicUsize::new(0),
        });
        let store = Store {
            blobs: Arc::new(FsBlobStore::open(&dir.join("blobs"), &dir.join("tmp")).unwrap()),
            meta: meta.clone(),
        };
        let metrics = Metrics::new();
        push(&meta, "a", 'a', 3);
        for _ in 0..5 {
            let text = metrics.render(&store).unwrap();
            assert!(text.contains("airlift_store_blobs 1"), "{text}");
            assert!(text.contains("airlift_store_bytes 3"), "{text}");
        }
        assert_eq!(
            meta.scans.load(Ordering::SeqCst),
            1,
            "every scrape scanned the index"
        );
        push(&meta, "b", 'b', 4);
        let text = metrics.render(&store).unwrap();
        assert!(text.contains("airlift_store_blobs 2"), "{text}");
        assert!(text.contains("airlift_store_bytes 7"), "{text}");
        metrics.render(&store).unwrap();
        assert_eq!(meta.scans.load(Ordering::SeqCst), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn stale_packages_are_the_last_drift_counts_or_minus_one() {
        let dir =
            std::env::temp_dir().join(format!("airlift-metrics-stale-{}", std::process::id()));
        let meta = Arc::new(SqliteMetaStore::in_memory().unwrap());
        let store = Store {
            blobs: Arc::new(FsBlobStore::open(&dir.join("blobs"), &dir.join("tmp")).unwrap()),
            meta: meta.clone(),
        };
        let metrics = Metrics::new();
        let text = metrics.render(&store).unwrap();
        assert!(text.contains("airlift_drift_stale_packages -1\n"), "{text}");
        let record = |counts: &str| {
            meta.put_record(DRIFT_RECORD.0, DRIFT_RECORD.1, Some(counts), false)
                .unwrap();
        };
        assert!(
            text.contains("airlift_findings{severity=\"high\"} -1\n"),
            "{text}"
        );
        record(
            r#"{"integrity":0,"provenance":0,"checked_at":1,"stale":3,"staleness_check":1,"findings_high":2,"finding_check":1}"#,
        );
        let text = metrics.render(&store).unwrap();
        assert!(text.contains("airlift_drift_stale_packages 3\n"), "{text}");
        assert!(
            text.contains("airlift_findings{severity=\"high\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("airlift_findings{severity=\"critical\"} 0\n"),
            "{text}"
        );
        // A generation without a staleness record: unknown, not zero.
        record(r#"{"integrity":0,"provenance":0,"checked_at":2,"stale":0,"staleness_check":0}"#);
        let text = metrics.render(&store).unwrap();
        assert!(text.contains("airlift_drift_stale_packages -1\n"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
    #[test]
    fn home_disk_space_is_measured_at_scrape_or_minus_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store {
            blobs: Arc::new(
                FsBlobStore::open(&dir.path().join("blobs"), &dir.path().join("tmp")).unwrap(),
            ),
            meta: Arc::new(SqliteMetaStore::in_memory().unwrap()),
        };
        let value = |text: &str, name: &str| -> i64 {
            let line = text
                .lines()
                .find(|line| line.starts_with(&format!("{name} ")))
                .unwrap_or_else(|| panic!("no {name} in {text}"));
            line[name.len() + 1..].parse().unwrap()
        };
        let text = Metrics::for_home(dir.path()).render(&store).unwrap();
        let (free, size) = (
            value(&text, "airlift_home_free_bytes"),
            value(&text, "airlift_home_size_bytes"),
        );
        assert!(size > 0 && (0..=size).contains(&free), "{text}");
        let text = Metrics::new().render(&store).unwrap();
        assert_eq!(value(&text, "airlift_home_free_bytes"), -1, "{text}");
        assert_eq!(value(&text, "airlift_home_size_bytes"), -1, "{text}");
        let text = Metrics::for_home(&dir.path().join("absent"))
            .render(&store)
            .unwrap();
        assert_eq!(value(&text, "airlift_home_size_bytes"), -1, "{text}");
    }

    #[test]
    fn expiries_of_the_trusted_metadata_and_the_certificates_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store {
            blobs: Arc::new(
                FsBlobStore::open(&dir.path().join("blobs"), &dir.path().join("tmp")).unwrap(),
            ),
            meta: Arc::new(SqliteMetaStore::in_memory().unwrap()),
        };
        let metrics = Metrics::for_home(dir.path());
        let text = metrics.render(&store).unwrap();
        assert!(
            !text.contains("airlift_trust_expires_timestamp_seconds{"),
            "{text}"
        );
        let tuf = dir.path().join("trust/tuf");
        std::fs::create_dir_all(&tuf).unwrap();
        std::fs::write(
            tuf.join("timestamp.json"),
            r#"{"signed": {"_type": "timestamp", "expires": "2027-01-06T06:00:00Z"}, "signatures": []}"#,
        )
        .unwrap();
        std::fs::write(tuf.join("targets.json"), "not json").unwrap();
        airlift_tls::init(&dir.path().join("tls"), &[], jiff::Timestamp::now()).unwrap();
        let text = metrics.render(&store).unwrap();
        assert!(
            text.contains(
                "airlift_trust_expires_timestamp_seconds{role=\"timestamp\"} 1799215200\n"
            ),
            "{text}"
        );
        assert!(!text.contains("role=\"targets\""), "{text}");
        let server = text
            .lines()
            .find(|l| {
                l.starts_with(
                    "airlift_tls_certificate_expires_timestamp_seconds{certificate=\"server\"}",
                )
            })
            .unwrap_or_else(|| panic!("{text}"));
        let unix: i64 = server.rsplit(' ').next().unwrap().parse().unwrap();
        let days = (unix - jiff::Timestamp::now().as_second()) / 86_400;
        assert!((396..=397).contains(&days), "{server}");
        // A file that changes is read again.
        std::fs::write(
            tuf.join("timestamp.json"),
            r#"{"signed": {"_type": "timestamp", "expires": "2027-02-06T06:00:00.5Z"}, "signatures": [], "pad": 1}"#,
        )
        .unwrap();
        let text = metrics.render(&store).unwrap();
        assert!(
            text.contains(
                "airlift_trust_expires_timestamp_seconds{role=\"timestamp\"} 1801893600\n"
            ),
            "{text}"
        );
    }
}
