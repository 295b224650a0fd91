//! The token endpoint of the registry's token authentication
//! (`GET /v2/token?service=…&scope=repository:<name>:pull,push`), which
//! docker, podman, skopeo, crane, oras and containerd follow after a
//! `WWW-Authenticate: Bearer realm=…` challenge.
//!
//! The server has already checked the caller's credentials (HTTP Basic
//! with a password or an API token; none is an anonymous caller). Of each
//! scope asked for, the token grants what the caller may do; a scope it may
//! not is left out, not refused, as the specification says, so that the
//! request that needs it is refused with its own clear 403.

use airlift_ecosystem::{Action, Caller, Scope};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Registry;
use crate::errors::Code;

/// Most scopes one token request may ask for.
const MAX_SCOPES: usize = 64;

/// The registry actions of an OCI scope, in ours.
fn actions(text: &str) -> Vec<Action> {
    let mut actions: Vec<Action> = text
        .split(',')
        .filter_map(|action| match action.trim() {
            "pull" => Some(Action::Read),
            "push" => Some(Action::Write),
            "delete" => Some(Action::Delete),
            "*" => Some(Action::Admin),
            _ => None,
        })
        .collect();
    actions.sort();
    actions.dedup();
    actions
}

/// Parses one OCI scope (`repository:team/app:pull,push`,
/// `registry:catalog:*`) into ours; `None` for a kind we do not serve.
fn parse_scope(text: &str) -> Option<(Scope, Vec<Action>)> {
    let (kind, rest) = text.split_once(':')?;
    let (name, wanted) = rest.rsplit_once(':')?;
    match kind {
        "repository" if crate::names::valid_repository(name) => {
            Some((Scope::Name(name.to_owned()), actions(wanted)))
        }
        // The catalog lists what the caller may read, so a token for it
        // needs only that the caller may read something.
        "registry" if name == "catalog" => Some((Scope::Any, vec![Action::Read])),
        _ => None,
    }
}

/// The repository a name asked for through an environment stands for
/// (`env/<environment>/<repository>`, ADR 0027), when that environment
/// exists. The server serves such names from the environment's view; the
/// token is decided as for the repository itself, and for reading only,
/// since environments take no writes.
fn through_environment(store: &airlift_store::Store, name: &str) -> Option<String> {
    let rest = name.strip_prefix("env/")?;
    let (environment, repository) = rest.split_once('/')?;
    airlift_store::environment::get(store.meta.as_ref(), environment)
        .ok()
        .flatten()?;
    Some(repository.to_owned())
}

pub(super) async fn token(registry: &Registry, pairs: &[(String, String)]) -> Response {
    let Some(gatekeeper) = registry.gatekeeper.clone() else {
        return super::oci(
            Code::Unsupported,
            "this registry does not control access; no token is needed",
        );
    };
    let caller = Caller::current().unwrap_or_default();
    let asked: Vec<(Scope, Vec<Action>)> = pairs
        .iter()
        .filter(|(key, _)| key == "scope")
        .flat_map(|(_, value)| value.split(' '))
        .filter_map(parse_scope)
        .take(MAX_SCOPES)
        .collect();
    let store = registry.store.clone();
    let asked = tokio::task::spawn_blocking(move || {
        asked
            .into_iter()
            .map(|(scope, wanted)| {
                let through = match &scope {
                    Scope::Name(name) => through_environment(&store, name),
                    _ => None,
                };
                (scope, wanted, through)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let grants: Vec<(Scope, Vec<Action>)> = asked
        .into_iter()
        .map(|(scope, wanted, through)| {
            let granted = match through {
                // Decided as the repository itself, for reading only.
                Some(repository) => {
                    let read: Vec<Action> = wanted
                        .iter()
                        .copied()
                        .filter(|a| *a == Action::Read)
                        .collect();
                    gatekeeper.grant(&caller, crate::ECOSYSTEM, &Scope::Name(repository), &read)
                }
                None => gatekeeper.grant(&caller, crate::ECOSYSTEM, &scope, &wanted),
            };
            (scope, granted)
        })
        .filter(|(_, granted)| !granted.is_empty())
        .collect();
    match gatekeeper.issue(&caller, crate::ECOSYSTEM, &grants) {
        Ok((token, expires_in)) => {
            let issued_at = jiff::Timestamp::now().to_string();
            let body = serde_json::json!({
                "token": token,
                "access_token": token,
                "expires_in": expires_in,
                "issued_at": issued_at,
            });
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                body.to_string(),
            )
                .into_response()
        }
        Err(e) => super::internal(format!("issuing a registry token: {e}")),
    }
}

/// The OCI scope (`repository:<name>:pull,push`) that a challenge names
/// for `action` on `name`.
pub(crate) fn challenge_scope(name: &str, action: Action) -> String {
    let actions = match action {
        Action::Read => "pull",
        Action::Write => "pull,push",
        Action::Delete => "delete",
        Action::Admin => "*",
    };
    format!("repository:{name}:{actions}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_into_actions_and_unknown_kinds_are_left_out() {
        assert_eq!(
            parse_scope("repository:team/app:pull,push"),
            Some((
                Scope::Name("team/app".to_owned()),
                vec![Action::Read, Action::Write]
            ))
        );
        assert_eq!(
            parse_scope("registry:catalog:*"),
            Some((Scope::Any, vec![Action::Read]))
        );
        assert_eq!(parse_scope("repository:Bad Name:pull"), None);
        assert_eq!(parse_scope("plugin:x:pull"), None);
        assert_eq!(parse_scope("nonsense"), None);
        assert_eq!(
            challenge_scope("team/app", Action::Write),
            "repository:team/app:pull,push"
        );
    }
}
