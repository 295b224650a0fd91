//! The OSV database under the ecosystem contract: `[advisories]` is
//! collected like any other table, its records become index entries, and
//! bundles, deltas, signatures, import and gc carry them like everything
//! else. It serves nothing: `airlift scan` and the server's metrics read it
//! from the index.

use std::sync::Arc;

use airlift_ecosystem::{
    About, Access, BoxFuture, CollectContext, Collected, Declared, Ecosystem, Error, Plan,
    Services, Table,
};
use airlift_store::Entry;
use axum::Router;
use axum::http::Method;

use crate::collect::ECOSYSTEM;
use crate::spec::{AdvisoriesSpec, Source};

/// Advisories: `[advisories]`.
pub struct Advisories;

impl Ecosystem for Advisories {
    fn about(&self) -> About {
        About {
            name: ECOSYSTEM,
            title: "Security advisories (OSV)",
            table: Table::one("advisories"),
            served_at: "",
        }
    }

    /// Always a plan, possibly of no source: a collect without
    /// `[advisories]` carries no database, as one without `[pypi]` carries
    /// no Python packages.
    fn plan(&self, declared: &Declared<'_>) -> Result<Option<Box<dyn Plan>>, Error> {
        let sources = declared
            .plan_with::<AdvisoriesSpec, _, _>("advisories", crate::spec::plan)?
            .unwrap_or_default();
        Ok(Some(Box::new(AdvisoriesPlan(sources))))
    }

    fn routes(&self, _services: &Services) -> Router {
        Router::new()
    }

    /// A record is named by its key (`osv/GHSA-…`).
    fn entry_name(&self, entry: &Entry) -> Option<String> {
        Some(entry.key.clone())
    }

    fn access(&self, _method: &Method, _path: &str) -> Option<Access> {
        None
    }
}

struct AdvisoriesPlan(Vec<Source>);

impl Plan for AdvisoriesPlan {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn collect<'a>(
        &'a self,
        context: &'a CollectContext<'a>,
    ) -> BoxFuture<'a, Result<Collected, Error>> {
        Box::pin(async move {
            let gathered = crate::collect::collect(
                context.store,
                context.fetcher,
                &self.0,
                context.progress.clone(),
            )
            .await
            .map_err(|error| match error {
                crate::collect::CollectError::Store(_) => Error::store(error.to_string()),
                crate::collect::CollectError::Directory { .. } => Error::input(error.to_string()),
                _ => Error::upstream(error.to_string()),
            })?;
            let mut notes = Vec::new();
            if gathered.skipped_count > 0 {
                notes.push(format!(
                    "skipped {} advisory records that are not OSV records:",
                    gathered.skipped_count
                ));
                notes.extend(gathered.skipped.iter().map(|s| format!("  {s}")));
            }
            let ecosystems = gathered
                .per_ecosystem
                .iter()
                .map(|(name, count)| format!("{name} {count}"))
                .collect::<Vec<_>>()
                .join(", ");
            Ok(Collected {
                line: (!self.0.is_empty()).then(|| {
                    format!(
                        "{} advisories ({} stored now; built {}){}",
                        gathered.records,
                        gathered.stored,
                        gathered.built.as_deref().unwrap_or("at an unknown time"),
                        if ecosystems.is_empty() {
                            String::new()
                        } else {
                            format!(": {ecosystems}")
                        }
                    )
                }),
                summary: vec![
                    ("advisories", gathered.records.into()),
                    ("advisories_stored", gathered.stored.into()),
                    ("advisories_withdrawn", gathered.withdrawn.into()),
                    ("advisories_skipped", gathered.skipped_count.into()),
                    ("advisories_built", gathered.built.clone().into()),
                ],
                entries: gathered.entries,
                upstream: Vec::new(),
                notes,
            })
        })
    }
}

/// The ecosystem, for the registry.
pub fn ecosystem() -> Arc<dyn Ecosystem> {
    Arc::new(Advisories)
}
