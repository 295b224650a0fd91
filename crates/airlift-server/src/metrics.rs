//! Prometheus metrics.

use std::collections::BTreeSet;

use airlift_store::{Store, StoreError, state_keys};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// Request counters and store gauges.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    bytes: Family<RouteLabels, Counter>,
    blobs: Gauge,
    stored_bytes: Gauge,
    generation: Gauge,
    last_import: Gauge,
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
        registry.register(
            "last_import_timestamp_seconds",
            "Unix time of the last committed import (0 if none)",
            last_import.clone(),
        );
        Self {
            registry,
            requests,
            bytes,
            blobs,
            stored_bytes,
            generation,
            last_import,
        }
    }

    /// Counts one response.
    pub fn observe(&self, route: &str, status: u16, bytes: u64) {
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

    /// Refreshes the store gauges and renders the text format.
    pub fn render(&self, store: &Store) -> Result<String, StoreError> {
        let current = store.meta.current()?;
        let (mut blobs, mut bytes) = (BTreeSet::new(), 0u64);
        if let Some(generation) = &current {
            for entry in store.meta.entries(generation.id, None)? {
                if blobs.insert(entry.digest) {
                    bytes += entry.size;
                }
            }
        }
        self.blobs.set(blobs.len() as i64);
        self.stored_bytes.set(bytes as i64);
        self.generation.set(current.map_or(0, |g| g.id as i64));
        let last = store
            .meta
            .state(state_keys::LAST_IMPORT_AT)?
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        self.last_import.set(last);
        let mut text = String::new();
        encode(&mut text, &self.registry)
            .map_err(|e| StoreError::Corrupt(format!("metrics encoding: {e}")))?;
        Ok(text)
    }
}
