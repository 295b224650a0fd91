//! Rust crates under the ecosystem contract.

use std::cmp::Ordering;
use std::sync::Arc;

use airlift_ecosystem::{
    About, Access, Action, BoxFuture, Client, ClientConfig, ClientRequest, CollectContext,
    Collected, Declared, Ecosystem, Error, ErrorKind, Package, Plan, Refusal, Services, Table,
};
use airlift_store::Entry;
use axum::Router;
use axum::http::Method;

use crate::collect::Planned;
use crate::spec::CargoSpec;

/// Rust crates: `[cargo]`, a sparse registry at `/cargo/index/`.
pub struct Cargo;

/// How the CLI reports a failed collect: bad input (the spec or a
/// lockfile), the store, or the upstream.
fn failed(error: crate::collect::CollectError) -> Error {
    use crate::collect::CollectError::{Lock, Spec, Store};
    let input = matches!(error, Spec(_) | Lock(_));
    Error::new(
        ErrorKind::of(input, matches!(error, Store(_))),
        error.to_string(),
    )
}

impl Ecosystem for Cargo {
    fn about(&self) -> About {
        About {
            name: crate::ECOSYSTEM,
            title: "Rust crates",
            table: Table::one("cargo"),
            served_at: "/cargo/index/",
        }
    }

    fn plan(&self, declared: &Declared<'_>) -> Result<Option<Box<dyn Plan>>, Error> {
        // A plan even when nothing is declared, so that the collect
        // summary always has this ecosystem's fields.
        let planned = declared.plan_with::<CargoSpec, _, _>("cargo", crate::collect::plan)?;
        Ok(airlift_ecosystem::Planned::boxed(planned, collect, || {
            summarize(crate::collect::Collected::default())
        }))
    }

    /// Refusals in the registry web API's shape (`{"errors":[{"detail"}]}`),
    /// which cargo prints, with RFC 3139's `WWW-Authenticate: Cargo`.
    fn refuse(&self, refusal: &Refusal) -> axum::response::Response {
        use axum::response::IntoResponse;
        let body = serde_json::json!({"errors": [{"detail": refusal.message}]});
        let mut response = (
            refusal.status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        airlift_ecosystem::refusal_headers(refusal, &mut response, || "Cargo".to_owned());
        response
    }

    /// `config.json` and the index root are the ecosystem; an index file
    /// and a download are the crate (lowercase, as the index names it).
    /// A crate version is its crate's.
    fn entry_name(&self, entry: &Entry) -> Option<String> {
        let rest = entry.key.strip_prefix(crate::index::CRATE)?;
        rest.split_once('/')
            .map(|(name, _)| name.to_ascii_lowercase())
    }

    fn wanted_config(&self, names: &[String]) -> Option<String> {
        Some(format!(
            "# Crates asked for inside the gap and not carried: merge them into\n\
             # `crates` of your [cargo] table (`name@requirement` to pin a range).\n\
             [cargo]\n{}",
            airlift_ecosystem::toml_array("crates", names)
        ))
    }

    fn access(&self, method: &Method, path: &str) -> Option<Access> {
        let rest = path.strip_prefix("/cargo/")?;
        // A publish names its crate in the body: the guard checks that the
        // caller may write something here, and the publish handler asks
        // about the crate itself before it stores anything. Yanks and
        // owners are on the crate in the path, as downloads are.
        if rest == "api/v1/crates/new" && method == Method::PUT {
            return Some(Access::any(Action::Write));
        }
        let name = if let Some(file) = rest.strip_prefix("index/") {
            if file == "config.json" {
                ""
            } else {
                file.rsplit('/').next().unwrap_or_default()
            }
        } else if let Some(download) = rest.strip_prefix("api/v1/crates/") {
            download.split('/').next().unwrap_or_default()
        } else {
            ""
        };
        Some(if name.is_empty() {
            Access::any(Action::Read)
        } else {
            Access::by_method(method, name.to_ascii_lowercase())
        })
    }

    fn routes(&self, services: &Services) -> Router {
        let auth = crate::serve::AuthRequired(
            services
                .gatekeeper
                .as_ref()
                .is_some_and(|g| !g.anonymous_reads_all(crate::ECOSYSTEM)),
        );
        Router::new()
            .nest(
                "/cargo",
                crate::serve::router_with_auth(services.store.clone(), auth)
                    .merge(crate::publish::router(services.clone())),
            )
            .merge(crate::serve::root_routes(services.store.clone()))
    }

    fn clients(&self) -> &'static [Client] {
        &[Client {
            name: "cargo",
            about: "cargo: source replacement in `$CARGO_HOME/config.toml`",
        }]
    }

    fn client_config(
        &self,
        tool: &str,
        request: &ClientRequest<'_>,
    ) -> Result<ClientConfig, Error> {
        if tool != "cargo" {
            return Err(airlift_ecosystem::no_client(self.name(), tool));
        }
        let index = format!("sparse+{}/cargo/index/", request.base);
        let mut environment = Vec::new();
        let mut content = match request.login {
            // A registry (not a plain source) so that cargo sends its token:
            // the server says `auth-required` (RFC 3139).
            Some(login) => {
                environment.push((
                    "CARGO_REGISTRIES_AIRLIFT_TOKEN".to_owned(),
                    login.token.clone(),
                ));
                format!(
                    "[source.crates-io]\nreplace-with = \"airlift\"\n\n[registries.airlift]\nindex = \"{index}\"\ncredential-provider = [\"cargo:token\"]\n# its token: CARGO_REGISTRIES_AIRLIFT_TOKEN, or `cargo login --registry airlift`\n"
                )
            }
            None => format!(
                "[source.crates-io]\nreplace-with = \"airlift\"\n\n[source.airlift]\nregistry = \"{index}\"\n"
            ),
        };
        if request.tls {
            content.push_str(&format!(
                "\n[http]\ncainfo = \"{}\"\n",
                toml_escape(&request.ca.display().to_string())
            ));
        }
        Ok(ClientConfig {
            tool: "cargo",
            file: "config.toml ($CARGO_HOME/config.toml, or .cargo/config.toml in a project)",
            content,
            environment,
        })
    }

    fn package(&self, entry: &Entry) -> Option<Package> {
        let (name, version) = entry
            .key
            .strip_prefix(crate::index::CRATE)?
            .split_once('/')?;
        Some(Package {
            ecosystem: crate::ECOSYSTEM,
            name: name.to_owned(),
            version: version.to_owned(),
            purl: format!(
                "pkg:cargo/{}@{}",
                airlift_ecosystem::purl_encode(name),
                airlift_ecosystem::purl_encode(version)
            ),
            digest: Some(format!("sha256:{}", entry.digest.hex())),
        })
    }

    /// Advisories name its packages in OSV's Rust ecosystem.
    fn advisory_ecosystems(&self) -> &'static [&'static str] {
        &[airlift_ecosystem::OSV_RUST]
    }

    /// Semantic versioning.
    fn compare_versions(&self, a: &str, b: &str) -> Ordering {
        match (semver::Version::parse(a), semver::Version::parse(b)) {
            (Ok(a), Ok(b)) => a.cmp(&b),
            _ => a.cmp(b),
        }
    }

    /// Registries answer 410 and 451 for crates they removed.
    fn not_found(&self) -> &'static [u16] {
        &[404, 410, 451]
    }
}

/// A TOML basic-string body: backslash, quote and control characters escaped.
fn toml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn collect<'a>(
    planned: &'a Planned,
    context: &'a CollectContext<'a>,
) -> BoxFuture<'a, Result<Collected, Error>> {
    Box::pin(async move {
        let cargo = crate::collect::collect(planned, context).await;
        Ok(summarize(cargo.map_err(failed)?))
    })
}

fn summarize(cargo: crate::collect::Collected) -> Collected {
    Collected {
        line: (cargo.crates > 0)
            .then(|| format!("{} crates ({} bytes)", cargo.crates, cargo.bytes)),
        summary: vec![
            ("crates", cargo.crates.into()),
            ("crate_bytes", cargo.bytes.into()),
            ("crate_notes", cargo.notes.clone().into()),
        ],
        notes: cargo.notes.iter().map(|n| format!("note: {n}")).collect(),
        entries: cargo.entries,
        upstream: cargo.upstream,
    }
}

/// The ecosystem, for the registry.
pub fn ecosystem() -> Arc<dyn Ecosystem> {
    Arc::new(Cargo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_escape(r#"C:\ca "x".crt"#), r#"C:\\ca \"x\".crt"#);
        assert_eq!(toml_escape("a\nb"), "a\\u000Ab");
    }
}
