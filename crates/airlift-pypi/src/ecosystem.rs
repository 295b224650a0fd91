//! Python packages under the ecosystem contract.

use std::cmp::Ordering;
use std::sync::Arc;

use airlift_ecosystem::{
    About, Access, Action, BoxFuture, Client, ClientConfig, ClientRequest, CollectContext,
    Collected, Declared, Ecosystem, Error, ErrorKind, Package, Plan, Services, Table,
};
use airlift_store::Entry;
use axum::Router;
use axum::http::Method;

use crate::collect::Planned;
use crate::spec::PypiSpec;

/// Python packages: `[pypi]`, the Simple API at `/pypi/simple/`.
pub struct Pypi;

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

impl Ecosystem for Pypi {
    fn about(&self) -> About {
        About {
            name: crate::ECOSYSTEM,
            title: "Python packages",
            table: Table::one("pypi"),
            served_at: "/pypi/simple/",
        }
    }

    fn plan(&self, declared: &Declared<'_>) -> Result<Option<Box<dyn Plan>>, Error> {
        // A plan even when nothing is declared, so that the collect
        // summary always has this ecosystem's fields.
        let planned = declared.plan_with::<PypiSpec, _, _>("pypi", crate::collect::plan)?;
        Ok(airlift_ecosystem::Planned::boxed(planned, collect, || {
            summarize(crate::collect::Collected::default())
        }))
    }

    /// The project list is the ecosystem; a project's page and its files
    /// are the project, by its normalized name.
    /// Files and metadata files are their project's.
    fn entry_name(&self, entry: &Entry) -> Option<String> {
        let rest = entry
            .key
            .strip_prefix(crate::index::FILE)
            .or_else(|| entry.key.strip_prefix(crate::index::METADATA))?;
        rest.split_once('/').map(|(project, _)| project.to_owned())
    }

    fn wanted_config(&self, names: &[String]) -> Option<String> {
        Some(format!(
            "# Python projects asked for inside the gap and not carried: merge them\n\
             # into `packages` of your [pypi] table (with a version range if wanted).\n\
             [pypi]\n{}",
            airlift_ecosystem::toml_array("packages", names)
        ))
    }

    fn access(&self, method: &Method, path: &str) -> Option<Access> {
        let rest = path.strip_prefix("/pypi/")?;
        // An upload names its project in the body: the guard checks that
        // the caller may write something here, and the upload handler asks
        // about the project itself before it stores anything.
        if rest == "legacy" || rest == "legacy/" {
            return Some(Access::any(Action::Write));
        }
        let project = if let Some(page) = rest.strip_prefix("simple/") {
            page.trim_end_matches('/')
        } else if let Some(file) = rest.strip_prefix("files/") {
            file.split('/').next().unwrap_or_default()
        } else {
            ""
        };
        Some(if project.is_empty() {
            Access::any(Action::Read)
        } else {
            Access::by_method(method, crate::requirement::normalize(project))
        })
    }

    fn routes(&self, services: &Services) -> Router {
        Router::new().nest(
            "/pypi",
            crate::serve::router(services.store.clone())
                .merge(crate::upload::router(services.clone())),
        )
    }

    fn clients(&self) -> &'static [Client] {
        &[
            Client {
                name: "pip",
                about: "pip: a pip.conf `[global]` section",
            },
            Client {
                name: "uv",
                about: "uv: a uv.toml `[[index]]` entry",
            },
        ]
    }

    fn client_config(
        &self,
        tool: &str,
        request: &ClientRequest<'_>,
    ) -> Result<ClientConfig, Error> {
        // pip and uv take credentials from the index URL.
        let base = match request.login {
            Some(login) => login.in_url(request.base),
            None => request.base.to_owned(),
        };
        let index = format!("{base}/pypi/simple/");
        let ca = request.ca.display();
        match tool {
            "pip" => {
                let mut content = format!("[global]\nindex-url = {index}\n");
                if request.tls {
                    content.push_str(&format!("cert = {ca}\n"));
                }
                Ok(ClientConfig {
                    tool: "pip",
                    file: "pip.conf (~/.config/pip/pip.conf, or /etc/pip.conf for every user)",
                    content,
                    environment: vec![("PIP_INDEX_URL".into(), index)],
                })
            }
            "uv" => Ok(ClientConfig {
                tool: "uv",
                file: "uv.toml (~/.config/uv/uv.toml, or /etc/uv/uv.toml for every user)",
                content: format!(
                    "[[index]]\nname = \"airlift\"\nurl = \"{index}\"\ndefault = true\n"
                ),
                environment: {
                    let mut env = vec![("UV_DEFAULT_INDEX".into(), index.clone())];
                    if request.tls {
                        env.push(("SSL_CERT_FILE".into(), ca.to_string()));
                    }
                    env
                },
            }),
            _ => Err(airlift_ecosystem::no_client(self.name(), tool)),
        }
    }

    /// A distribution file is a package version (a metadata entry is not).
    fn package(&self, entry: &Entry) -> Option<Package> {
        let rest = entry.key.strip_prefix(crate::index::FILE)?;
        let (project, _file) = rest.split_once('/')?;
        let version = entry.meta.get("version")?.as_str()?.to_owned();
        Some(Package {
            ecosystem: crate::ECOSYSTEM,
            name: project.to_owned(),
            purl: format!(
                "pkg:pypi/{}@{}",
                airlift_ecosystem::purl_encode(project),
                airlift_ecosystem::purl_encode(&version)
            ),
            version,
            digest: Some(format!("sha256:{}", entry.digest.hex())),
            licenses: recorded(entry, "licenses"),
        })
    }

    /// Each carried file's `Requires-Dist` (as collect recorded it from the
    /// core metadata), to every carried file of the highest carried
    /// version of each project named. Markers and extras are not
    /// evaluated: a dependency only of an extra or of another platform is
    /// an edge too, when its project is carried.
    fn dependencies(&self, entries: &[Entry]) -> Vec<(usize, usize)> {
        requires_dependencies(self, entries)
    }

    /// Advisories name its packages in OSV's `PyPI` ecosystem.
    fn advisory_ecosystems(&self) -> &'static [&'static str] {
        &["PyPI"]
    }

    /// PEP 440.
    fn compare_versions(&self, a: &str, b: &str) -> Ordering {
        match (
            crate::version::Version::parse(a),
            crate::version::Version::parse(b),
        ) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => a.cmp(b),
        }
    }
}

/// The strings of the list `field` of a file entry's meta.
fn recorded(entry: &Entry, field: &str) -> Vec<String> {
    entry
        .meta
        .get(field)
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().map(str::to_owned))
        .collect()
}

/// The dependency edges among carried files; see [`Pypi::dependencies`].
fn requires_dependencies(pypi: &Pypi, entries: &[Entry]) -> Vec<(usize, usize)> {
    use std::collections::HashMap;
    // Project → its highest carried version and that version's files.
    let mut carried: HashMap<&str, (String, Vec<usize>)> = HashMap::new();
    for (position, entry) in entries.iter().enumerate() {
        let Some(package) = pypi.package(entry) else {
            continue;
        };
        let Some((project, _)) = entry
            .key
            .strip_prefix(crate::index::FILE)
            .and_then(|rest| rest.split_once('/'))
        else {
            continue;
        };
        let highest = carried
            .entry(project)
            .or_insert_with(|| (package.version.clone(), Vec::new()));
        match pypi.compare_versions(&package.version, &highest.0) {
            Ordering::Greater => *highest = (package.version, vec![position]),
            Ordering::Equal => highest.1.push(position),
            Ordering::Less => {}
        }
    }
    let mut edges = Vec::new();
    for (position, entry) in entries.iter().enumerate() {
        if !entry.key.starts_with(crate::index::FILE) {
            continue;
        }
        for project in recorded(entry, "requires") {
            if let Some((_, files)) = carried.get(project.as_str()) {
                edges.extend(
                    files
                        .iter()
                        .filter(|file| **file != position)
                        .map(|file| (position, *file)),
                );
            }
        }
    }
    edges.sort_unstable();
    edges.dedup();
    edges
}

fn collect<'a>(
    planned: &'a Planned,
    context: &'a CollectContext<'a>,
) -> BoxFuture<'a, Result<Collected, Error>> {
    Box::pin(async move {
        let pypi = crate::collect::collect(planned, context).await;
        Ok(summarize(pypi.map_err(failed)?))
    })
}

fn summarize(pypi: crate::collect::Collected) -> Collected {
    Collected {
        line: (pypi.files > 0).then(|| {
            format!(
                "{} Python projects ({} files, {} bytes)",
                pypi.projects, pypi.files, pypi.bytes
            )
        }),
        summary: vec![
            ("python_projects", pypi.projects.into()),
            ("python_files", pypi.files.into()),
            ("python_bytes", pypi.bytes.into()),
            ("python_notes", pypi.notes.clone().into()),
        ],
        notes: pypi.notes.iter().map(|n| format!("note: {n}")).collect(),
        entries: pypi.entries,
        upstream: pypi.upstream,
    }
}

/// The ecosystem, for the registry.
pub fn ecosystem() -> Arc<dyn Ecosystem> {
    Arc::new(Pypi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(project: &str, filename: &str, version: &str, metadata: &str) -> Entry {
        let file = crate::upstream::UpFile {
            filename: filename.into(),
            url: url::Url::parse("https://files.example.com/x").expect("url"),
            sha256: None,
            requires_python: None,
            yanked: None,
            core_metadata: None,
            size: None,
            upload_time: None,
        };
        let described = crate::metadata::Metadata::parse(
            format!("Metadata-Version: 2.4\nName: {project}\nVersion: {version}\n{metadata}")
                .as_bytes(),
        )
        .expect("parses");
        crate::index::entries(
            project,
            &file,
            version,
            airlift_core::Digest::of(filename.as_bytes()),
            1,
            None,
            Some(&described),
        )
        .remove(0)
    }

    #[test]
    fn licences_and_dependencies_come_from_the_core_metadata() {
        let entries = vec![
            file(
                "app",
                "app-1.0-py3-none-any.whl",
                "1.0",
                "License-Expression: MIT\nRequires-Dist: Lib>=1\nRequires-Dist: absent\nRequires-Dist: extra-only; extra == 'x'\n",
            ),
            file("lib", "lib-1.0-py3-none-any.whl", "1.0", ""),
            file(
                "lib",
                "lib-1.10-cp312-cp312-manylinux_2_17_x86_64.whl",
                "1.10",
                "",
            ),
            file("lib", "lib-1.10.tar.gz", "1.10", ""),
            file("extra-only", "extra_only-2.0.tar.gz", "2.0", ""),
        ];
        assert_eq!(
            Pypi.package(&entries[0])
                .expect("a file is a package")
                .licenses,
            ["MIT"]
        );
        assert!(
            Pypi.package(&entries[1])
                .expect("package")
                .licenses
                .is_empty()
        );
        assert_eq!(Pypi.dependencies(&entries), [(0, 2), (0, 3), (0, 4)]);
    }
}
