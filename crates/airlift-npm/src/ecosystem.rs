//! npm packages under the ecosystem contract.

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
use crate::spec::NpmSpec;

/// npm packages: `[npm]`, a registry at `/npm/`.
pub struct Npm;

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

impl Ecosystem for Npm {
    fn about(&self) -> About {
        About {
            name: crate::ECOSYSTEM,
            title: "npm packages",
            table: Table::one("npm"),
            served_at: "/npm/",
        }
    }

    fn plan(&self, declared: &Declared<'_>) -> Result<Option<Box<dyn Plan>>, Error> {
        // A plan even when nothing is declared, so that the collect
        // summary always has this ecosystem's fields.
        let planned = declared.plan_with::<NpmSpec, _, _>("npm", crate::collect::plan)?;
        Ok(airlift_ecosystem::Planned::boxed(planned, collect, || {
            summarize(crate::collect::Collected::default())
        }))
    }

    /// The registry under `/npm/`, and tarballs also at the server's root,
    /// where lockfiles written against another registry point.
    /// Refusals as npm registries answer them (`{"error": …}`), with a
    /// Basic challenge on a 401 (npm then says to log in).
    fn refuse(&self, refusal: &Refusal) -> axum::response::Response {
        use axum::response::IntoResponse;
        let body = serde_json::json!({"error": refusal.message});
        let mut response = (
            refusal.status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        airlift_ecosystem::refusal_headers(refusal, &mut response, || {
            format!("Basic realm=\"{}\"", refusal.service)
        });
        response
    }

    /// The registry root and its `-/` endpoints (ping, audit) are the
    /// ecosystem; a packument and a tarball are the package, with its
    /// scope (`@team/tool`). Tarballs are also served from the root
    /// (`/<name>/-/<file>`), as some lockfiles name them.
    /// A version and a packument are their package's (with its scope).
    fn entry_name(&self, entry: &Entry) -> Option<String> {
        if let Some(rest) = entry.key.strip_prefix(crate::index::VERSION) {
            return rest.rsplit_once('/').map(|(name, _)| name.to_owned());
        }
        entry
            .key
            .strip_prefix(crate::index::PACKAGE)
            .map(str::to_owned)
    }

    fn wanted_config(&self, names: &[String]) -> Option<String> {
        Some(format!(
            "# npm packages asked for inside the gap and not carried: merge them\n\
             # into `packages` of your [npm] table (`name@range` to pin a range).\n\
             [npm]\n{}",
            airlift_ecosystem::toml_array("packages", names)
        ))
    }

    fn access(&self, method: &Method, path: &str) -> Option<Access> {
        let rest = match path.strip_prefix("/npm/") {
            Some(rest) => rest,
            None => {
                // Only the two root tarball routes: /<name>/-/<file> and
                // /<scope>/<name>/-/<file>.
                let segments: Vec<&str> = path.split('/').skip(1).collect();
                let root_tarball = matches!(segments.as_slice(), [_, "-", _] | [_, _, "-", _]);
                if !root_tarball {
                    return None;
                }
                &path[1..]
            }
        };
        let delete = *method == Method::DELETE;
        // Unpublishing (`<name>/-rev/<rev>`, `<name>/-/<file>/-rev/<rev>`,
        // by PUT or DELETE) deletes versions of the package.
        if (*method == Method::PUT || delete)
            && let Some((name, _)) = crate::publish::unpublish_target(rest)
        {
            return Some(Access::name(Action::Delete, name));
        }
        if let Some(endpoint) = rest.strip_prefix("-/") {
            // dist-tags are the package's; the other `-/` endpoints (ping,
            // whoami, audits) only read.
            if let Some((name, _)) = endpoint
                .strip_prefix("package/")
                .and_then(|p| p.split_once("/dist-tags"))
            {
                return Some(Access::by_method(method, name));
            }
            let reads = matches!(*method, Method::GET | Method::HEAD | Method::POST);
            return Some(Access::any(if reads {
                Action::Read
            } else {
                Action::Write
            }));
        }
        let name = match rest.split_once("/-/") {
            Some((name, _)) => crate::tarball_package(name),
            None => rest,
        };
        let name = name.trim_end_matches('/');
        Some(if name.is_empty() || name == "-" {
            Access::any(Action::Read)
        } else if delete {
            Access::name(Action::Delete, name)
        } else {
            Access::by_method(method, name)
        })
    }

    fn routes(&self, services: &Services) -> Router {
        Router::new()
            .nest("/npm", crate::serve::publishing_router(services))
            .merge(crate::serve::root_tarballs(services.store.clone()))
            .merge(crate::serve::root_routes(services.store.clone()))
    }

    fn clients(&self) -> &'static [Client] {
        &[Client {
            name: "npm",
            about: "npm: an `.npmrc`",
        }]
    }

    fn client_config(
        &self,
        tool: &str,
        request: &ClientRequest<'_>,
    ) -> Result<ClientConfig, Error> {
        if tool != "npm" {
            return Err(airlift_ecosystem::no_client(self.name(), tool));
        }
        let registry = format!("{}/npm/", request.base);
        let ca = request.ca.display().to_string();
        let mut content = format!(
            "registry={registry}\n# lockfiles that name another registry are fetched from this one\nreplace-registry-host=always\n"
        );
        if request.tls {
            content.push_str(&format!("cafile={ca}\n"));
        }
        if let Some(login) = request.login {
            // npm sends this as `Authorization: Bearer` to URLs under it.
            let scope = registry
                .split_once("://")
                .map_or(registry.as_str(), |(_, rest)| rest);
            content.push_str(&format!("//{scope}:_authToken={}\n", login.token));
        }
        let mut environment = vec![
            ("npm_config_registry".into(), registry),
            ("npm_config_replace_registry_host".into(), "always".into()),
        ];
        if request.tls {
            environment.push(("npm_config_cafile".into(), ca));
        }
        Ok(ClientConfig {
            tool: "npm",
            file: ".npmrc (~/.npmrc, or the project's .npmrc)",
            content,
            environment,
        })
    }

    fn package(&self, entry: &Entry) -> Option<Package> {
        let (name, version) = entry
            .key
            .strip_prefix(crate::index::VERSION)?
            .rsplit_once('/')?;
        let path = match name.split_once('/') {
            Some((scope, base)) => format!(
                "{}/{}",
                airlift_ecosystem::purl_encode(scope),
                airlift_ecosystem::purl_encode(base)
            ),
            None => airlift_ecosystem::purl_encode(name),
        };
        Some(Package {
            ecosystem: crate::ECOSYSTEM,
            name: name.to_owned(),
            version: version.to_owned(),
            purl: format!("pkg:npm/{path}@{}", airlift_ecosystem::purl_encode(version)),
            digest: entry
                .meta
                .get("integrity")
                .and_then(|i| i.as_str())
                .map(str::to_owned),
            licenses: manifest_licenses(entry.meta.get("manifest")),
        })
    }

    /// Each carried version's `dependencies` and `optionalDependencies`
    /// (from its manifest as the packument has it), each to the highest
    /// carried version of that name its range admits; aliases
    /// (`npm:other@^1`) name the package they stand for. Ranges that are
    /// no semver range (tags, URLs, `file:`) give no edge.
    fn dependencies(&self, entries: &[Entry]) -> Vec<(usize, usize)> {
        manifest_dependencies(entries)
    }

    /// Advisories name its packages in OSV's `npm` ecosystem.
    fn advisory_ecosystems(&self) -> &'static [&'static str] {
        &["npm"]
    }

    /// node-semver.
    fn compare_versions(&self, a: &str, b: &str) -> Ordering {
        match (
            crate::range::parse_version(a),
            crate::range::parse_version(b),
        ) {
            (Some(a), Some(b)) => crate::range::compare(&a, &b),
            _ => a.cmp(b),
        }
    }
}

/// Most licences kept of one manifest.
const LICENSES_PER_PACKAGE: usize = 16;
/// Most dependencies read of one manifest.
const DEPENDENCIES_PER_PACKAGE: usize = 4096;

/// The licences a manifest states: `license` as an SPDX expression
/// (`"MIT"`) or, in old manifests, an object (`{"type": "MIT"}`), or the
/// older `licenses` list of either.
fn manifest_licenses(manifest: Option<&serde_json::Value>) -> Vec<String> {
    let Some(manifest) = manifest else {
        return Vec::new();
    };
    let one = |value: &serde_json::Value| match value {
        serde_json::Value::String(text) => airlift_ecosystem::stated_license(text),
        serde_json::Value::Object(object) => object
            .get("type")
            .and_then(|t| t.as_str())
            .and_then(airlift_ecosystem::stated_license),
        _ => None,
    };
    let mut licenses: Vec<String> = Vec::new();
    if let Some(license) = manifest.get("license").and_then(one) {
        licenses.push(license);
    } else if let Some(list) = manifest.get("licenses").and_then(|l| l.as_array()) {
        for license in list.iter().filter_map(one).take(LICENSES_PER_PACKAGE) {
            if !licenses.contains(&license) {
                licenses.push(license);
            }
        }
    }
    licenses
}

/// The dependency edges among carried versions; see
/// [`Npm::dependencies`].
fn manifest_dependencies(entries: &[Entry]) -> Vec<(usize, usize)> {
    use std::collections::HashMap;
    // Name → its carried versions, with their positions.
    let mut carried: HashMap<&str, Vec<(semver::Version, usize)>> = HashMap::new();
    for (position, entry) in entries.iter().enumerate() {
        let Some((name, version)) = entry
            .key
            .strip_prefix(crate::index::VERSION)
            .and_then(|rest| rest.rsplit_once('/'))
        else {
            continue;
        };
        if let Some(version) = crate::range::parse_version(version) {
            carried.entry(name).or_default().push((version, position));
        }
    }
    let mut edges = Vec::new();
    for (position, entry) in entries.iter().enumerate() {
        if !entry.key.starts_with(crate::index::VERSION) {
            continue;
        }
        let Some(manifest) = entry.meta.get("manifest") else {
            continue;
        };
        let declared = ["dependencies", "optionalDependencies"]
            .into_iter()
            .filter_map(|field| manifest.get(field)?.as_object())
            .flatten()
            .take(DEPENDENCIES_PER_PACKAGE);
        let mut targets = Vec::new();
        for (name, range) in declared {
            let Some(range) = range.as_str() else {
                continue;
            };
            let (name, range) = match range.strip_prefix("npm:") {
                // `npm:other@^1`, `npm:@scope/other@^1`, or no range.
                Some(alias) => match alias.get(1..).and_then(|rest| rest.rsplit_once('@')) {
                    Some((_, range)) => (&alias[..alias.len() - range.len() - 1], range),
                    None => (alias, "*"),
                },
                None => (name.as_str(), range),
            };
            let Some(versions) = carried.get(name) else {
                continue;
            };
            let Ok(range) =
                crate::range::Range::parse(if range.trim().is_empty() { "*" } else { range })
            else {
                continue;
            };
            if let Some((_, target)) = versions
                .iter()
                .filter(|(version, _)| range.satisfies(version))
                .max_by(|a, b| crate::range::compare(&a.0, &b.0))
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

fn collect<'a>(
    planned: &'a Planned,
    context: &'a CollectContext<'a>,
) -> BoxFuture<'a, Result<Collected, Error>> {
    Box::pin(async move {
        let npm = crate::collect::collect(planned, context).await;
        Ok(summarize(npm.map_err(failed)?))
    })
}

fn summarize(npm: crate::collect::Collected) -> Collected {
    Collected {
        line: (npm.versions > 0).then(|| {
            format!(
                "{} npm packages ({} versions, {} bytes)",
                npm.packages, npm.versions, npm.bytes
            )
        }),
        summary: vec![
            ("npm_packages", npm.packages.into()),
            ("npm_versions", npm.versions.into()),
            ("npm_bytes", npm.bytes.into()),
            ("npm_notes", npm.notes.clone().into()),
        ],
        notes: npm.notes.iter().map(|n| format!("note: {n}")).collect(),
        entries: npm.entries,
        upstream: npm.upstream,
    }
}

/// The ecosystem, for the registry.
pub fn ecosystem() -> Arc<dyn Ecosystem> {
    Arc::new(Npm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_names_the_package_and_the_action() {
        let asked = |method: Method, path: &str| Npm.access(&method, path).expect("claimed");
        assert_eq!(
            asked(Method::PUT, "/npm/@corp/tool"),
            Access::name(Action::Write, "@corp/tool")
        );
        assert_eq!(
            asked(Method::GET, "/npm/@corp/tool/-/tool-1.0.0.tgz"),
            Access::name(Action::Read, "@corp/tool")
        );
        // Debian 12's npm doubles the registry's path in front of a tarball.
        assert_eq!(
            asked(Method::GET, "/npm/npm/@corp/tool/-/tool-1.0.0.tgz"),
            Access::name(Action::Read, "@corp/tool")
        );
        assert_eq!(
            asked(Method::GET, "/npm/npm/fx-left/-/fx-left-1.1.0.tgz"),
            Access::name(Action::Read, "fx-left")
        );
        // ... while the tarball of a package named npm is npm's.
        assert_eq!(
            asked(Method::GET, "/npm/npm/-/npm-10.0.0.tgz"),
            Access::name(Action::Read, "npm")
        );
        for (method, path) in [
            (Method::PUT, "/npm/@corp/tool/-rev/3-abc"),
            (Method::DELETE, "/npm/@corp/tool/-rev/3-abc"),
            (
                Method::DELETE,
                "/npm/@corp/tool/-/tool-1.0.0.tgz/-rev/4-def",
            ),
            // npm repeats the registry's path before a tarball it deletes.
            (
                Method::DELETE,
                "/npm/npm/@corp/tool/-/tool-1.0.0.tgz/-rev/undefined",
            ),
            (Method::DELETE, "/npm/@corp/tool"),
        ] {
            assert_eq!(
                asked(method, path),
                Access::name(Action::Delete, "@corp/tool"),
                "{path}"
            );
        }
        assert_eq!(
            asked(Method::PUT, "/npm/-/package/@corp/tool/dist-tags/beta"),
            Access::name(Action::Write, "@corp/tool")
        );
        assert_eq!(
            asked(Method::GET, "/npm/-/whoami"),
            Access::any(Action::Read)
        );
        assert_eq!(
            asked(Method::POST, "/npm/-/npm/v1/security/audits/quick"),
            Access::any(Action::Read)
        );
        assert_eq!(
            asked(Method::PUT, "/npm/-/user/org.couchdb.user:x"),
            Access::any(Action::Write)
        );
    }

    fn version(name: &str, version: &str, manifest: serde_json::Value) -> Entry {
        crate::index::version_entry(
            name,
            version,
            airlift_core::Digest::of(format!("{name}@{version}").as_bytes()),
            1,
            &manifest,
            None,
            "sha512-AAAA",
        )
    }

    #[test]
    fn licences_come_from_the_manifest_in_every_form() {
        let licenses = |manifest| {
            Npm.package(&version("a", "1.0.0", manifest))
                .expect("a version is a package")
                .licenses
        };
        assert_eq!(
            licenses(serde_json::json!({"license": "(MIT OR Apache-2.0)"})),
            ["(MIT OR Apache-2.0)"]
        );
        assert_eq!(
            licenses(serde_json::json!({"license": {"type": "ISC", "url": "x"}})),
            ["ISC"]
        );
        assert_eq!(
            licenses(
                serde_json::json!({"licenses": [{"type": "MIT"}, {"type": "GPL-2.0"}, "MIT"]})
            ),
            ["MIT", "GPL-2.0"]
        );
        assert!(licenses(serde_json::json!({})).is_empty());
        assert!(licenses(serde_json::json!({"license": 7})).is_empty());
    }

    #[test]
    fn dependencies_go_to_the_highest_carried_version_the_range_admits() {
        let entries = vec![
            version(
                "app",
                "1.0.0",
                serde_json::json!({
                    "dependencies": {"lib": "^1.2.0", "missing": "^1", "tagged": "latest"},
                    "optionalDependencies": {"alias": "npm:@scope/real@~2.0.0"},
                }),
            ),
            version("lib", "1.2.0", serde_json::json!({})),
            version("lib", "1.3.1", serde_json::json!({})),
            version("lib", "2.0.0", serde_json::json!({})),
            version("@scope/real", "2.0.5", serde_json::json!({})),
            version("tagged", "1.0.0", serde_json::json!({})),
            crate::index::package_entry("lib", airlift_core::Digest::of(b"p"), 1),
        ];
        let mut edges = Npm.dependencies(&entries);
        edges.sort();
        assert_eq!(edges, [(0, 2), (0, 4)]);
    }
}
