//! Listings: the catalog, a repository's tags and the referrers of a
//! manifest, each read from the current index generation. The catalog and
//! tag lists page with `n` and `last` and a `Link` to the next page.

use std::collections::{BTreeMap, BTreeSet};

use airlift_core::Digest;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Registry, Reply, blocking, oci, query_value, with_prefix};
use crate::errors::Code;
use crate::index;

/// Applies `n`/`last` pagination; returns the page and whether more follow.
fn paginate(
    items: Vec<String>,
    pairs: &[(String, String)],
) -> Result<(Vec<String>, bool), Response> {
    let last = query_value(pairs, "last");
    let mut items: Vec<String> = items
        .into_iter()
        .filter(|item| last.is_none_or(|last| item.as_str() > last))
        .collect();
    let limit = match query_value(pairs, "n") {
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| oci(Code::Unsupported, format!("invalid n {n:?}")))?,
        ),
        None => None,
    };
    let more = limit.is_some_and(|n| items.len() > n);
    if let Some(n) = limit {
        items.truncate(n);
    }
    Ok((items, more))
}

fn listing(body: Value, next: Option<String>) -> Response {
    let mut headers = HeaderMap::new();
    airlift_http::set(&mut headers, header::CONTENT_TYPE, "application/json");
    if let Some(next) = next {
        airlift_http::set(
            &mut headers,
            header::LINK,
            &format!("<{next}>; rel=\"next\""),
        );
    }
    (StatusCode::OK, headers, body.to_string()).into_response()
}

pub(super) async fn tags_list(
    registry: &Registry,
    name: &str,
    pairs: &[(String, String)],
) -> Reply {
    let prefix = index::tag_prefix(name);
    let tags: Vec<String> = with_prefix(registry, prefix.clone())
        .await?
        .into_iter()
        .filter_map(|e| e.key.strip_prefix(&prefix).map(str::to_owned))
        .collect();
    if tags.is_empty()
        && with_prefix(registry, index::manifest_prefix(name))
            .await?
            .is_empty()
    {
        return Err(oci(
            Code::NameUnknown,
            format!("repository {name} not found"),
        ));
    }
    let (page, more) = paginate(tags, pairs)?;
    let next = if more {
        page.last()
            .map(|last| format!("/v2/{name}/tags/list?n={}&last={last}", page.len()))
    } else {
        None
    };
    Ok(listing(json!({"name": name, "tags": page}), next))
}

pub(super) async fn catalog(registry: &Registry, pairs: &[(String, String)]) -> Reply {
    let entries = blocking(registry, |store| match store.meta.current()? {
        Some(generation) => store.meta.entries(generation.id, Some(crate::ECOSYSTEM)),
        None => Ok(Vec::new()),
    })
    .await?;
    // Only the repositories the caller may read (its user's rights, within
    // its API token's scopes): a catalog never names what it may not pull.
    let caller = airlift_ecosystem::Caller::current().unwrap_or_default();
    let readable = |name: &str| {
        registry.gatekeeper.as_ref().is_none_or(|gatekeeper| {
            gatekeeper.principal_may(
                &caller,
                crate::ECOSYSTEM,
                &airlift_ecosystem::Scope::Name(name.to_owned()),
                airlift_ecosystem::Action::Read,
            )
        })
    };
    let repositories: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.key.starts_with("m:") || e.key.starts_with("t:"))
        .filter_map(|e| index::repository_of(&e.key).map(str::to_owned))
        .filter(|name| readable(name))
        .collect();
    let (page, more) = paginate(repositories.into_iter().collect(), pairs)?;
    let next = if more {
        page.last()
            .map(|last| format!("/v2/_catalog?n={}&last={last}", page.len()))
    } else {
        None
    };
    Ok(listing(json!({"repositories": page}), next))
}

pub(super) async fn referrers(
    registry: &Registry,
    name: &str,
    digest: &Digest,
    pairs: &[(String, String)],
) -> Reply {
    let filter = query_value(pairs, "artifactType").map(str::to_owned);
    let subject = digest.to_string();
    let mut manifests: BTreeMap<String, Value> = BTreeMap::new();
    for entry in with_prefix(registry, index::manifest_prefix(name)).await? {
        if entry.meta["subject"].as_str() != Some(subject.as_str()) {
            continue;
        }
        let artifact_type = entry.meta["artifact_type"].as_str().map(str::to_owned);
        if filter.is_some() && artifact_type != filter {
            continue;
        }
        let mut descriptor = json!({
            "mediaType": entry.meta["media_type"],
            "digest": entry.digest.to_string(),
            "size": entry.size,
        });
        if let Some(artifact_type) = artifact_type {
            descriptor["artifactType"] = json!(artifact_type);
        }
        if entry.meta["annotations"].is_object() {
            descriptor["annotations"] = entry.meta["annotations"].clone();
        }
        manifests.insert(entry.digest.to_string(), descriptor);
    }
    let body = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests.into_values().collect::<Vec<_>>(),
    });
    let mut headers = HeaderMap::new();
    airlift_http::set(
        &mut headers,
        header::CONTENT_TYPE,
        "application/vnd.oci.image.index.v1+json",
    );
    if filter.is_some() {
        airlift_http::set(
            &mut headers,
            header::HeaderName::from_static("oci-filters-applied"),
            "artifactType",
        );
    }
    Ok((StatusCode::OK, headers, body.to_string()).into_response())
}
