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
            licenses: entry
                .meta
                .get("license")
                .and_then(|l| l.as_str())
                .and_then(airlift_ecosystem::stated_license)
                .into_iter()
                .collect(),
        })
    }

    /// Each carried version's normal and build dependencies (from its
    /// index line, optional ones too), each to the highest carried version
    /// of that crate its requirement admits; dev-dependencies and
    /// dependencies from another registry give no edge.
    fn dependencies(&self, entries: &[Entry]) -> Vec<(usize, usize)> {
        index_dependencies(entries)
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

/// The dependency edges among carried versions; see
/// [`Cargo::dependencies`].
fn index_dependencies(entries: &[Entry]) -> Vec<(usize, usize)> {
    use std::collections::HashMap;
    let mut carried: HashMap<&str, Vec<(semver::Version, usize)>> = HashMap::new();
    for (position, entry) in entries.iter().enumerate() {
        if let Some((name, version)) = entry
            .key
            .strip_prefix(crate::index::CRATE)
            .and_then(|rest| rest.split_once('/'))
            && let Ok(version) = semver::Version::parse(version)
        {
            carried.entry(name).or_default().push((version, position));
        }
    }
    let mut edges = Vec::new();
    for (position, entry) in entries.iter().enumerate() {
        if !entry.key.starts_with(crate::index::CRATE) {
            continue;
        }
        // The line was parsed when it was collected; one that no longer
        // parses gives no edges rather than failing the document.
        let Some(line) = entry
            .meta
            .get("line")
            .and_then(|l| l.as_str())
            .and_then(|l| serde_json::from_str::<crate::index::Line>(l).ok())
        else {
            continue;
        };
        let mut targets = Vec::new();
        for dep in &line.deps {
            if dep.kind() == "dev" || dep.registry.is_some() {
                continue;
            }
            let Some(versions) = carried.get(dep.crate_name().to_ascii_lowercase().as_str()) else {
                continue;
            };
            let Ok(requirement) = semver::VersionReq::parse(&dep.req) else {
                continue;
            };
            if let Some((_, target)) = versions
                .iter()
                .filter(|(version, _)| requirement.matches(version))
                .max_by(|a, b| a.0.cmp(&b.0))
                && *target != position
                && !targets.contains(target)
            {
                targets.push(*target);
            }
        }
        edges.extend(targets.into_iter().map(|target| (position, target)));
    }
    edges
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

    fn crate_entry(name: &str, version: &str, deps: &str, license: Option<&str>) -> Entry {
        let raw = format!(
            r#"{{"name":"{name}","vers":"{version}","deps":[{deps}],"cksum":"{}","features":{{}}}}"#,
            "a".repeat(64)
        );
        let release = crate::index::parse_file(name, raw.as_bytes())
            .expect("parses")
            .remove(0);
        crate::index::entry(&release, 1, license)
    }

    #[test]
    fn the_licence_is_the_one_collect_recorded() {
        let entry = crate_entry("foo", "1.0.0", "", Some("MIT OR Apache-2.0"));
        let package = Cargo.package(&entry).expect("a crate is a package");
        assert_eq!(package.licenses, ["MIT OR Apache-2.0"]);
        let entry = crate_entry("foo", "1.0.0", "", None);
        assert!(Cargo.package(&entry).expect("package").licenses.is_empty());
    }

    #[test]
    fn dependencies_go_to_the_highest_carried_version_the_requirement_admits() {
        let dep = |name: &str, req: &str, extra: &str| {
            format!(
                r#"{{"name":"{name}","req":"{req}","features":[],"optional":false,"default_features":true,"target":null{extra}}}"#
            )
        };
        let deps = [
            dep("serde", "^1.0.100", r#","kind":"normal""#),
            dep("cc", "^1", r#","kind":"build""#),
            dep("proptest", "^1", r#","kind":"dev""#),
            dep("json", "^1", r#","kind":"normal","package":"Serde_Json""#),
            dep("absent", "^1", ""),
        ]
        .join(",");
        let entries = vec![
            crate_entry("app", "0.1.0", &deps, None),
            crate_entry("serde", "1.0.99", "", None),
            crate_entry("serde", "1.0.200", "", None),
            crate_entry("serde", "2.0.0", "", None),
            crate_entry("cc", "1.1.0", "", None),
            crate_entry("proptest", "1.0.0", "", None),
            crate_entry("serde_json", "1.0.0", "", None),
        ];
        let mut edges = Cargo.dependencies(&entries);
        edges.sort();
        assert_eq!(edges, [(0, 2), (0, 4), (0, 6)]);
    }
}
