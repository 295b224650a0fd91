//! Container images under the ecosystem contract.

use std::sync::Arc;

use airlift_ecosystem::{
    BoxFuture, CollectContext, Collected, Declared, Ecosystem, Error, Package, Plan, Services,
    Table,
};
use airlift_store::Entry;
use axum::Router;

use crate::collect::CollectError;
use crate::index::Key;
use crate::spec::{ImageRef, ImageSpec};

/// Container images: `[[oci]]`, an OCI registry at `/v2/`.
pub struct Oci;

impl Ecosystem for Oci {
    fn name(&self) -> &'static str {
        crate::ECOSYSTEM
    }

    fn title(&self) -> &'static str {
        "Container images (OCI registry)"
    }

    fn table(&self) -> Table {
        Table {
            key: "oci",
            many: true,
        }
    }

    fn served_at(&self) -> &'static str {
        "/v2/"
    }

    /// Always a plan, possibly empty: the collect summary always counts
    /// images.
    fn plan(&self, declared: &Declared<'_>) -> Result<Option<Box<dyn Plan>>, Error> {
        let specs: Vec<ImageSpec> = declared.table("oci")?.unwrap_or_default();
        let planned = crate::collect::plan(&specs).map_err(|e| declared.invalid(e))?;
        Ok(Some(Box::new(OciPlan(planned))))
    }

    fn routes(&self, services: &Services) -> Router {
        crate::serve::router_with_expiry(
            services.store.clone(),
            services.uploads.clone(),
            services.audit.clone(),
            services
                .upload_expiry
                .unwrap_or(crate::serve::DEFAULT_UPLOAD_EXPIRY),
        )
    }

    /// A manifest is a package: its repository, at its digest.
    fn package(&self, entry: &Entry) -> Option<Package> {
        let Some(Key::Manifest { repository, digest }) = crate::index::parse_key(&entry.key) else {
            return None;
        };
        let name = repository.rsplit('/').next().unwrap_or(repository);
        Some(Package {
            ecosystem: crate::ECOSYSTEM,
            name: repository.to_owned(),
            version: digest.to_owned(),
            purl: format!(
                "pkg:oci/{}@{}?repository_url={}",
                airlift_ecosystem::purl_encode(name),
                airlift_ecosystem::purl_encode(digest),
                airlift_ecosystem::purl_encode(repository)
            ),
            digest: Some(digest.to_owned()),
        })
    }
}

struct OciPlan(Vec<(ImageSpec, ImageRef)>);

impl Plan for OciPlan {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn collect<'a>(
        &'a self,
        context: &'a CollectContext<'a>,
    ) -> BoxFuture<'a, Result<Collected, Error>> {
        Box::pin(async move {
            let oci = crate::collect::collect(
                context.store,
                context.fetcher,
                &self.0,
                context.progress.clone(),
            )
            .await
            .map_err(|e| match e {
                CollectError::Spec { .. } => Error::input(e.to_string()),
                CollectError::Store(_) => Error::store(e.to_string()),
                _ => Error::upstream(e.to_string()),
            })?;
            Ok(Collected {
                line: (oci.images > 0).then(|| {
                    format!(
                        "{} images ({} manifests, {} blobs, {} bytes)",
                        oci.images, oci.manifests, oci.blobs, oci.bytes
                    )
                }),
                summary: vec![
                    ("images", oci.images.into()),
                    ("manifests", oci.manifests.into()),
                    ("image_blobs", oci.blobs.into()),
                    ("image_bytes", oci.bytes.into()),
                    ("platforms_left_out", oci.left_out.clone().into()),
                ],
                notes: oci
                    .left_out
                    .iter()
                    .map(|l| format!("left out by platforms: {l}"))
                    .collect(),
                entries: oci.entries,
            })
        })
    }
}

/// The ecosystem, for the registry.
pub fn ecosystem() -> Arc<dyn Ecosystem> {
    Arc::new(Oci)
}
