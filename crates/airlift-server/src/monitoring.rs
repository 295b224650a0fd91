//! The metrics of what the server learns from outside its own requests:
//! the CLI's operations (imports, refusals, durations, from the index's
//! records: see [`crate::operations`]), the verification of the audit log,
//! and the expiry of the apt signing key. [`crate::Metrics`] registers
//! them and refreshes them at each scrape.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use airlift_store::{Store, StoreError};
use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::operations::{self, OPERATIONS, REFUSAL_REASONS};

/// Verifies the home's audit log in full (against its signed checkpoint
/// and the index's record of its head): `Ok` when it is intact, or the
/// failure's message. Supplied by the binary, which knows the log.
pub type AuditCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Reads a key file's expiry: `Some(unix seconds)`, `Some(i64::MAX)` for a
/// key that never expires, `None` for a file that is not a key.
pub type KeyExpiry = fn(&[u8]) -> Option<i64>;

/// The audit log is verified again at a scrape when it changed (length or
/// modification time) and this long has passed since the last
/// verification...
pub const AUDIT_VERIFY_MIN_INTERVAL: Duration = Duration::from_secs(30);
/// ... and in any case once this long has passed.
pub const AUDIT_VERIFY_MAX_INTERVAL: Duration = Duration::from_secs(600);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

/// No labels: a series that exists only once there is something to say.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct NoLabels;

impl EncodeLabelSet for NoLabels {
    fn encode(&self, _encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

/// The last verification of the audit log.
struct Verification {
    at: Instant,
    unix: i64,
    /// The log file's (modification time, length) then.
    stamp: Option<(SystemTime, u64)>,
    ok: bool,
}

/// The metrics of this module.
pub(crate) struct Monitoring {
    imports: Counter,
    refusals: Family<ReasonLabels, Counter>,
    runs: Family<OperationLabels, Counter>,
    durations: Family<OperationLabels, Gauge<f64, AtomicU64>>,
    finished: Family<OperationLabels, Gauge>,
    audit_verified: Gauge,
    audit_verified_at: Gauge,
    apt_key_expires: Family<NoLabels, Gauge<f64, AtomicU64>>,
    pub(crate) audit_check: Option<AuditCheck>,
    pub(crate) apt_key: Option<(PathBuf, KeyExpiry)>,
    verification: Mutex<Option<Verification>>,
}

impl Monitoring {
    /// Registers the metrics in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let this = Self {
            imports: Counter::default(),
            refusals: Family::default(),
            runs: Family::default(),
            durations: Family::default(),
            finished: Family::default(),
            audit_verified: Gauge::default(),
            audit_verified_at: Gauge::default(),
            apt_key_expires: Family::default(),
            audit_check: None,
            apt_key: None,
            verification: Mutex::new(None),
        };
        registry.register(
            "imports",
            "Imports that committed a generation (`airlift import`, from the index's records; \
             an already imported bundle is not counted)",
            this.imports.clone(),
        );
        registry.register(
            "import_refusals",
            "Imports refused, by reason: signature, expired, rollback, tampered, custody, \
             approval, admission, policy, other (every reason is present, from 0)",
            this.refusals.clone(),
        );
        // Every reason from 0: a rate or an alert over them has data before
        // the first refusal, and a first refusal is an increase.
        for reason in REFUSAL_REASONS {
            drop(this.refusals.get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            }));
        }
        registry.register(
            "operation_runs",
            "Successful runs of `airlift collect`, `pack` and `import` on this home, by \
             operation (present once the operation ran)",
            this.runs.clone(),
        );
        registry.register(
            "operation_last_duration_seconds",
            "How long the last successful run of each operation (collect, pack, import) took",
            this.durations.clone(),
        );
        registry.register(
            "operation_last_run_timestamp_seconds",
            "Unix time the last successful run of each operation (collect, pack, import) ended",
            this.finished.clone(),
        );
        registry.register(
            "audit_verified",
            "Whether the audit log verified at its last verification (1), failed it (0: \
             tampered, truncated, unreadable), or is not checked by this server (-1); \
             verified at most every 30 seconds when it changed, and every 10 minutes",
            this.audit_verified.clone(),
        );
        registry.register(
            "audit_verified_timestamp_seconds",
            "Unix time of the audit log's last verification (0 if none)",
            this.audit_verified_at.clone(),
        );
        registry.register(
            "apt_signing_key_expires_timestamp_seconds",
            "Unix time the site's apt signing key expires (+Inf: it never does, as the keys \
             airlift makes); absent while the site has no apt signing key",
            this.apt_key_expires.clone(),
        );
        this.audit_verified.set(-1);
        this
    }

    /// Refreshes the metrics at a scrape. `expiry` reads a file's expiry,
    /// cached by its modification time and length.
    pub(crate) fn refresh(
        &self,
        store: &Store,
        home: Option<&Path>,
        expiry: impl Fn(&Path, KeyExpiry) -> Option<i64>,
    ) -> Result<(), StoreError> {
        let records = operations::read(store.meta.as_ref())?;
        for operation in OPERATIONS {
            let Some(record) = records.get(operation) else {
                continue;
            };
            let labels = OperationLabels {
                operation: operation.to_owned(),
            };
            raise(&self.runs.get_or_create(&labels), record.runs);
            self.durations
                .get_or_create(&labels)
                .set(record.last_duration_seconds);
            self.finished
                .get_or_create(&labels)
                .set(record.last_finished_at);
            if operation == "import" {
                raise(&self.imports, record.runs);
                for (reason, count) in &record.refusals {
                    raise(
                        &self.refusals.get_or_create(&ReasonLabels {
                            reason: reason.clone(),
                        }),
                        *count,
                    );
                }
            }
        }
        if let Some((path, read)) = &self.apt_key {
            match expiry(path, *read) {
                Some(unix) => {
                    let value = if unix == i64::MAX {
                        f64::INFINITY
                    } else {
                        unix as f64
                    };
                    self.apt_key_expires.get_or_create(&NoLabels).set(value);
                }
                None => {
                    self.apt_key_expires.clear();
                }
            }
        }
        if let (Some(check), Some(home)) = (&self.audit_check, home) {
            self.verify_audit(check, &home.join("audit/log.jsonl"));
        }
        Ok(())
    }

    /// Verifies the audit log when it is due, and sets the gauges.
    fn verify_audit(&self, check: &AuditCheck, log: &Path) {
        let stamp = std::fs::metadata(log)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        let mut last = self
            .verification
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = last.as_ref().is_none_or(|v| {
            let elapsed = v.at.elapsed();
            elapsed >= AUDIT_VERIFY_MAX_INTERVAL
                || (v.stamp != stamp && elapsed >= AUDIT_VERIFY_MIN_INTERVAL)
        });
        if due {
            let ok = match check() {
                Ok(()) => true,
                Err(message) => {
                    tracing::warn!("the audit log does not verify: {message}");
                    false
                }
            };
            *last = Some(Verification {
                at: Instant::now(),
                unix: jiff::Timestamp::now().as_second(),
                stamp,
                ok,
            });
        }
        if let Some(v) = last.as_ref() {
            self.audit_verified.set(i64::from(v.ok));
            self.audit_verified_at.set(v.unix);
        }
    }

    /// Forgets the last verification, so the next scrape verifies.
    #[cfg(test)]
    pub(crate) fn reverify(&self) {
        *self
            .verification
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

/// Raises `counter` to `to`, the count recorded in the index (a counter
/// never goes down: a lower record, from a restored index, leaves it).
fn raise(counter: &Counter, to: u64) {
    let now = counter.get();
    if to > now {
        counter.inc_by(to - now);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use airlift_store::{FsBlobStore, MetaStore, SqliteMetaStore};

    use super::*;
    use crate::Metrics;

    fn store(dir: &Path) -> (Store, Arc<SqliteMetaStore>) {
        let meta = Arc::new(SqliteMetaStore::in_memory().unwrap());
        let store = Store {
            blobs: Arc::new(FsBlobStore::open(&dir.join("blobs"), &dir.join("tmp")).unwrap()),
            meta: meta.clone(),
        };
        (store, meta)
    }

    fn has(text: &str, line: &str) -> bool {
        text.lines().any(|l| l == line)
    }

    #[test]
    fn imports_refusals_and_durations_come_from_the_records() {
        let dir = tempfile::tempdir().unwrap();
        let (store, meta) = store(dir.path());
        let metrics = Metrics::new();
        let text = metrics.render(&store).unwrap();
        assert!(has(&text, "airlift_imports_total 0"), "{text}");
        for reason in REFUSAL_REASONS {
            assert!(
                has(
                    &text,
                    &format!("airlift_import_refusals_total{{reason=\"{reason}\"}} 0")
                ),
                "{text}"
            );
        }
        assert!(
            !text.contains("airlift_operation_last_duration_seconds{"),
            "{text}"
        );
        operations::record_run(meta.as_ref(), "import", 1.5, 1_700_000_000).unwrap();
        operations::record_run(meta.as_ref(), "import", 0.5, 1_700_000_100).unwrap();
        operations::record_refusal(meta.as_ref(), "tampered").unwrap();
        operations::record_run(meta.as_ref(), "collect", 12.25, 1_700_000_200).unwrap();
        let text = metrics.render(&store).unwrap();
        assert!(has(&text, "airlift_imports_total 2"), "{text}");
        assert!(
            has(
                &text,
                "airlift_import_refusals_total{reason=\"tampered\"} 1"
            ),
            "{text}"
        );
        assert!(
            has(
                &text,
                "airlift_import_refusals_total{reason=\"signature\"} 0"
            ),
            "{text}"
        );
        assert!(
            has(
                &text,
                "airlift_operation_last_duration_seconds{operation=\"import\"} 0.5"
            ),
            "{text}"
        );
        assert!(
            has(
                &text,
                "airlift_operation_last_duration_seconds{operation=\"collect\"} 12.25"
            ),
            "{text}"
        );
        assert!(
            has(
                &text,
                "airlift_operation_last_run_timestamp_seconds{operation=\"import\"} 1700000100"
            ),
            "{text}"
        );
        assert!(
            has(
                &text,
                "airlift_operation_runs_total{operation=\"collect\"} 1"
            ),
            "{text}"
        );
        assert!(!text.contains("operation=\"pack\""), "{text}");
        // A scrape again changes nothing: the counts are the records'.
        let again = metrics.render(&store).unwrap();
        assert!(has(&again, "airlift_imports_total 2"), "{again}");
        // Recording made no generation.
        assert!(meta.current().unwrap().is_none());
    }

    #[test]
    fn the_audit_log_is_verified_when_due_and_its_failure_is_zero() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store(dir.path());
        let text = Metrics::new().render(&store).unwrap();
        assert!(has(&text, "airlift_audit_verified -1"), "{text}");
        let intact = Arc::new(AtomicBool::new(true));
        let calls = Arc::new(AtomicUsize::new(0));
        let check: AuditCheck = {
            let (intact, calls) = (intact.clone(), calls.clone());
            Arc::new(move || {
                calls.fetch_add(1, Ordering::SeqCst);
                if intact.load(Ordering::SeqCst) {
                    Ok(())
                } else {
                    Err("the log was truncated".to_owned())
                }
            })
        };
        let metrics = Metrics::for_home(dir.path()).with_audit_check(check);
        let text = metrics.render(&store).unwrap();
        assert!(has(&text, "airlift_audit_verified 1"), "{text}");
        assert!(
            !has(&text, "airlift_audit_verified_timestamp_seconds 0"),
            "{text}"
        );
        // Not due again at the next scrapes, even when the log changes
        // (less than AUDIT_VERIFY_MIN_INTERVAL passed).
        std::fs::create_dir_all(dir.path().join("audit")).unwrap();
        std::fs::write(dir.path().join("audit/log.jsonl"), "x\n").unwrap();
        intact.store(false, Ordering::SeqCst);
        let text = metrics.render(&store).unwrap();
        assert!(has(&text, "airlift_audit_verified 1"), "{text}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Due: the failure is 0.
        metrics.monitoring.reverify();
        let text = metrics.render(&store).unwrap();
        assert!(has(&text, "airlift_audit_verified 0"), "{text}");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_apt_signing_key_expiry_is_absent_without_a_key_and_inf_when_it_never_expires() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store(dir.path());
        let path = dir.path().join("trust/apt-signing-key.json");
        let metrics =
            Metrics::for_home(dir.path()).with_apt_signing_key(path.clone(), |bytes| match bytes {
                b"never" => Some(i64::MAX),
                b"soon" => Some(1_800_000_000),
                _ => None,
            });
        let name = "airlift_apt_signing_key_expires_timestamp_seconds";
        let text = metrics.render(&store).unwrap();
        assert!(!text.contains(&format!("{name} ")), "{text}");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "never").unwrap();
        let text = metrics.render(&store).unwrap();
        assert!(has(&text, &format!("{name} inf")), "{text}");
        std::fs::write(&path, "soon").unwrap();
        let text = metrics.render(&store).unwrap();
        assert!(has(&text, &format!("{name} 1800000000.0")), "{text}");
        std::fs::write(&path, "damaged").unwrap();
        let text = metrics.render(&store).unwrap();
        assert!(!text.contains(&format!("{name} ")), "{text}");
    }
}
