//! Container images under the ecosystem contract.

use std::sync::Arc;

use airlift_ecosystem::{
    About, BoxFuture, CollectContext, Collected, Declared, Ecosystem, Error, ErrorKind, Package,
    Plan, Services, Table,
};
use airlift_store::Entry;
use axum::Router;

use crate::collect::CollectError;
use crate::index::Key;
use crate::spec::{ImageRef, ImageSpec};

/// Container images: `[[oci]]`, an OCI registry at `/v2/`.
pub struct Oci;

impl Ecosystem for Oci {
    fn about(&self) -> About {
        About {
            name: crate::ECOSYSTEM,
            title: "Container images (OCI registry)",
            table: Table::many("oci"),
            served_at: "/v2/",
        }
    }

    /// Always a plan, possibly empty: the collect summary always counts
    /// images.
    fn plan(&self, declared: &Declared<'_>) -> Result<Option<Box<dyn Plan>>, Error> {
        let specs: Vec<ImageSpec> = declared.table("oci")?.unwrap_or_default();
        let planned = crate::collect::plan(&specs).map_err(|e| declared.invalid(e))?;
        Ok(airlift_ecosystem::Planned::boxed(
            (!planned.is_empty()).then_some(planned),
            collect,
            || summarize(crate::collect::Collected::default()),
        ))
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

// `&Vec`, not a slice: the contract's `CollectFn<P>` takes `&P`.
#[allow(clippy::ptr_arg)]
fn collect<'a>(
    planned: &'a Vec<(ImageSpec, ImageRef)>,
    context: &'a CollectContext<'a>,
) -> BoxFuture<'a, Result<Collected, Error>> {
    Box::pin(async move {
        let oci = crate::collect::collect(
            context.store,
            context.fetcher,
            planned,
            context.progress.clone(),
        )
        .await
        .map_err(|e| {
            Error::classify(e, |e| match e {
                CollectError::Spec { .. } => ErrorKind::Input,
                CollectError::Store(_) => ErrorKind::Store,
                _ => ErrorKind::Upstream,
            })
        })?;
        Ok(summarize(oci))
    })
}

fn summarize(oci: crate::collect::Collected) -> Collected {
    Collected {
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
    }
}

/// The ecosystem, for the registry.
pub fn ecosystem() -> Arc<dyn Ecosystem> {
    Arc::new(Oci)
}
