//! The documents a generation carries about itself (ecosystem `site`):
//! its SBOMs, which `collect` writes after every ecosystem has run, and
//! the staleness record of what upstream offered at that time.
//!
//! They are index entries like any other, so bundles sign and carry them,
//! deltas carry them only when they change, import verifies them, and gc
//! keeps what a generation holds. Nothing declares them: the ecosystem has
//! no table and plans nothing. The server serves the SBOMs at `/sbom/`:
//!
//! - `GET /sbom/`: what is there, one line each;
//! - `GET /sbom/cyclonedx.json`: CycloneDX 1.6 JSON
//!   (`application/vnd.cyclonedx+json`);
//! - `GET /sbom/spdx.json`: SPDX 2.3 JSON (`application/spdx+json`).
//!
//! They change with each generation, so they are served with validators
//! and `Cache-Control: no-cache`, never as immutable.

use airlift_ecosystem::{About, Access, Action, Declared, Ecosystem, Error, Plan, Services, Table};
use airlift_http::plain;
use airlift_store::{Entry, Store};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

/// The ecosystem's name in index entries and bundles.
pub const ECOSYSTEM: &str = "site";

/// The key of the generation's CycloneDX document.
pub const CYCLONEDX: &str = "sbom/cyclonedx.json";

/// The key of the generation's SPDX document.
pub const SPDX: &str = "sbom/spdx.json";

/// The key of the staleness record (what upstream offered at collect).
pub const STALENESS: &str = "staleness.json";

/// The SBOM documents, by the name they are served under, their key and
/// their media type.
const SERVED: [(&str, &str, &str); 2] = [
    (
        "cyclonedx.json",
        CYCLONEDX,
        "application/vnd.cyclonedx+json",
    ),
    ("spdx.json", SPDX, "application/spdx+json"),
];

/// The site's own documents.
pub struct Site;

/// The ecosystem, for the registry.
pub fn ecosystem() -> Arc<dyn Ecosystem> {
    Arc::new(Site)
}

impl Ecosystem for Site {
    fn about(&self) -> About {
        About {
            name: ECOSYSTEM,
            title: "Site documents (SBOMs, staleness)",
            table: Table::none(),
            served_at: "/sbom/",
        }
    }

    /// Nothing to plan: `collect` derives the documents from what the
    /// other ecosystems brought.
    fn plan(&self, _declared: &Declared<'_>) -> Result<Option<Box<dyn Plan>>, Error> {
        Ok(None)
    }

    fn routes(&self, services: &Services) -> Router {
        Router::new()
            .route("/sbom/", get(listing))
            .route("/sbom/{name}", get(document))
            .with_state(services.store.clone())
    }

    /// A document is named by its key (`sbom/cyclonedx.json`).
    fn entry_name(&self, entry: &Entry) -> Option<String> {
        Some(entry.key.clone())
    }

    /// Reading `/sbom/…` is reading the site's documents; nothing else.
    fn access(&self, method: &Method, path: &str) -> Option<Access> {
        let rest = path.strip_prefix("/sbom/")?;
        if rest.is_empty() {
            return Some(Access::any(Action::Read));
        }
        Some(Access::by_method(method, format!("sbom/{rest}")))
    }
}

/// `GET /sbom/`: the documents served, one `name size` line each.
async fn listing(State(store): State<Store>) -> Response {
    airlift_http::listing(store, ECOSYSTEM, |entries| {
        let mut text = String::from("SBOMs of the serving generation, under /sbom/:\n");
        let mut any = false;
        for (name, key, _) in SERVED {
            if let Some(entry) = entries.iter().find(|e| e.key == key) {
                text.push_str(&format!("{name} {}\n", entry.size));
                any = true;
            }
        }
        if !any {
            text.push_str("(none: the generation was collected before SBOMs were carried)\n");
        }
        text
    })
    .await
}

/// `GET /sbom/<name>`: one document.
async fn document(
    State(store): State<Store>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((_, key, content_type)) = SERVED.iter().find(|(served, _, _)| *served == name) else {
        return plain(StatusCode::NOT_FOUND, &format!("no SBOM named {name:?}"));
    };
    let blob =
        match airlift_http::current_blob(store, ECOSYSTEM, (*key).to_owned(), content_type).await {
            Ok(Some(blob)) => blob,
            Ok(None) => {
                return plain(
                    StatusCode::NOT_FOUND,
                    &format!("the serving generation carries no {name}"),
                );
            }
            Err(unavailable) => return unavailable.into_response(),
        };
    let mut extra = HeaderMap::new();
    airlift_http::set(&mut extra, header::CACHE_CONTROL, "no-cache");
    airlift_http::serve_blob(blob, &headers, extra).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sbom_paths_are_claimed_and_they_are_reads() {
        let site = Site;
        assert_eq!(site.access(&Method::GET, "/files/x"), None);
        assert_eq!(
            site.access(&Method::GET, "/sbom/"),
            Some(Access::any(Action::Read))
        );
        assert_eq!(
            site.access(&Method::GET, "/sbom/cyclonedx.json"),
            Some(Access::name(Action::Read, "sbom/cyclonedx.json"))
        );
        assert_eq!(
            site.access(&Method::PUT, "/sbom/cyclonedx.json"),
            Some(Access::name(Action::Write, "sbom/cyclonedx.json"))
        );
        assert!(site.table().is_none());
    }
}
