//! Container images under the ecosystem contract.

use std::sync::Arc;

use airlift_ecosystem::{
    About, Access, Action, BoxFuture, CollectContext, Collected, Declared, Ecosystem, Error,
    ErrorKind, Package, Plan, Refusal, Scope, Services, Table,
};
use airlift_store::Entry;
use axum::Router;
use axum::http::Method;

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
        crate::serve::router_with_gatekeeper(
            services.store.clone(),
            services.uploads.clone(),
            services.audit.clone(),
            services
                .upload_expiry
                .unwrap_or(crate::serve::DEFAULT_UPLOAD_EXPIRY),
            services.gatekeeper.clone(),
        )
    }

    /// `/v2/` is the base that clients probe for a challenge, `/v2/token`
    /// the token endpoint, `/v2/_catalog` the repositories the caller may
    /// read; every other
    /// path is its repository: GET and HEAD pull, DELETE of a manifest or
    /// blob deletes, anything else pushes.
    /// Every entry (manifest, tag, blob link) is its repository's.
    fn entry_name(&self, entry: &Entry) -> Option<String> {
        crate::index::repository_of(&entry.key).map(str::to_owned)
    }

    /// Commented `[[oci]]` tables: the registry an image repository came
    /// from and the tag wanted are not known inside the gap.
    fn wanted_config(&self, names: &[String]) -> Option<String> {
        let mut out = String::from(
            "# Image repositories asked for inside the gap and not carried. The\n\
             # registry they come from and the tag are not known inside: fill\n\
             # them in and uncomment.\n",
        );
        for name in names {
            let image = airlift_ecosystem::toml_string(&format!("<registry>/{name}:<tag>"));
            out.push_str(&format!(
                "# [[oci]]\n# image = {}\n",
                airlift_ecosystem::toml_comment(&image)
            ));
        }
        Some(out)
    }

    fn access(&self, method: &Method, path: &str) -> Option<Access> {
        let rest = if path == "/v2" {
            ""
        } else {
            path.strip_prefix("/v2/")?
        };
        let read = Access::any(Action::Read);
        let scope = match rest.trim_end_matches('/') {
            "" => Scope::Base,
            "token" => Scope::Login,
            // Listed as far as the caller may read (see `catalog`).
            "_catalog" => Scope::Any,
            _ => {
                let Some((name, deletable)) = repository_of(rest) else {
                    return Some(read);
                };
                let action = match *method {
                    Method::GET | Method::HEAD => Action::Read,
                    Method::DELETE if deletable => Action::Delete,
                    _ => Action::Write,
                };
                return Some(Access::name(action, name));
            }
        };
        Some(Access {
            action: Action::Read,
            scope,
        })
    }

    /// The registry's token authentication: a 401 names the token
    /// endpoint and the scope to ask for; errors are the specification's
    /// `UNAUTHORIZED`, `DENIED` and `TOOMANYREQUESTS`.
    fn refuse(&self, refusal: &Refusal) -> axum::response::Response {
        use axum::response::IntoResponse;
        let code = match refusal.status.as_u16() {
            401 => crate::errors::Code::Unauthorized,
            429 => crate::errors::Code::TooManyRequests,
            _ => crate::errors::Code::Denied,
        };
        let mut response =
            crate::errors::OciError::new(code, refusal.message.clone()).into_response();
        airlift_ecosystem::refusal_headers(refusal, &mut response, || {
            let mut challenge = format!(
                "Bearer realm=\"{}/v2/token\",service=\"{}\"",
                refusal.base, refusal.service
            );
            if let Some(Access {
                action,
                scope: Scope::Name(name),
            }) = &refusal.access
            {
                challenge.push_str(&format!(
                    ",scope=\"{}\"",
                    crate::serve::challenge_scope(name, *action)
                ));
            }
            challenge
        });
        response
    }

    /// A manifest is a package: its repository, at its digest; a referrer
    /// (it has a subject) is not.
    fn package(&self, entry: &Entry) -> Option<Package> {
        let Some(Key::Manifest { repository, digest }) = crate::index::parse_key(&entry.key) else {
            return None;
        };
        // A referrer (a signature, an SBOM, an attestation) is about a
        // package, not one.
        if entry.meta["subject"].is_string() {
            return None;
        }
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
            licenses: Vec::new(),
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
        upstream: Vec::new(),
    }
}

/// The ecosystem, for the registry.
pub fn ecosystem() -> Arc<dyn Ecosystem> {
    Arc::new(Oci)
}

/// The repository a `/v2/<name>/…` path is about, and whether DELETE on it
/// deletes content (a manifest or blob) rather than cancels an upload.
fn repository_of(rest: &str) -> Option<(&str, bool)> {
    if let Some((name, _)) = rest.rsplit_once("/manifests/") {
        return Some((name, true));
    }
    if let Some((name, _)) = rest.rsplit_once("/blobs/uploads") {
        return Some((name, false));
    }
    if let Some((name, _)) = rest.rsplit_once("/blobs/") {
        return Some((name, true));
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some((name, false));
    }
    rest.rsplit_once("/referrers/")
        .map(|(name, _)| (name, false))
}
