//! Debian packages under the ecosystem contract.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use airlift_ecosystem::{
    About, Access, Action, AdvisoryName, BoxFuture, Client, ClientConfig, ClientRequest,
    CollectContext, Collected, Declared, Ecosystem, Error, ErrorKind, Package, Plan, Services,
    Table,
};
use airlift_store::Entry;
use axum::Router;
use axum::http::Method;

use crate::collect::{CollectError, Planned};
use crate::serve::Signer;
use crate::spec::AptSpec;

/// Debian packages: `[[apt]]`, signed apt repositories at `/apt/`.
pub struct Apt;

/// An index key of this ecosystem, parsed: the one place that knows the
/// `<archive>/dists/<suite>` and `<archive>/<pool path>` forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key<'a> {
    /// The upstream's signed Release of a suite.
    Suite {
        /// The archive's name in `airlift.toml`.
        archive: &'a str,
        /// The suite.
        suite: &'a str,
    },
    /// A `.deb` file.
    Package {
        /// The archive.
        archive: &'a str,
        /// Its path in the archive (`pool/…`).
        path: &'a str,
    },
}

/// The OSV ecosystem of a suite's advisories, from its `Release` fields
/// as collect recorded them: `Debian:12` for `Origin: Debian` and
/// `Version: 12.8`, `Ubuntu:24.04` for Ubuntu; the origin alone when the
/// suite has no version.
fn advisory_release(meta: &serde_json::Value) -> String {
    let field = |name: &str| {
        meta.get("fields")
            .and_then(|f| f.get(name))
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let origin = field("origin").unwrap_or("Debian");
    match field("version") {
        // Debian numbers point releases (12.8); its advisories name the
        // major release only.
        Some(version) if origin == "Debian" => {
            format!("{origin}:{}", version.split('.').next().unwrap_or(version))
        }
        Some(version) => format!("{origin}:{version}"),
        None => origin.to_owned(),
    }
}

/// The source package of a `.deb` entry and its version, from the stanza
/// collect recorded: `Source: openssl` (the binary's version) or
/// `Source: openssl (3.0.11-1)`. `None` without a `Source` field (the
/// binary is named like its source).
fn source_of(entry: &Entry) -> Option<(String, String)> {
    let stanza = entry.meta.get("stanza")?.as_str()?;
    let paragraphs = crate::control::paragraphs(stanza).ok()?;
    let source = paragraphs.first()?.get("Source")?.trim();
    let version = entry.meta.get("version")?.as_str()?;
    Some(match source.split_once(' ') {
        Some((name, rest)) => (
            name.to_owned(),
            rest.trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .map_or_else(|| version.to_owned(), |v| v.trim().to_owned()),
        ),
        None => (source.to_owned(), version.to_owned()),
    })
}

/// Most relation groups read of one stanza.
const RELATIONS_PER_PACKAGE: usize = 4096;

/// A carried `.deb` as dependency edges need it.
struct Carried<'a> {
    position: usize,
    version: &'a str,
    architecture: &'a str,
}

/// The dependency edges among carried `.deb`s; see
/// [`Apt::dependencies`].
fn stanza_dependencies(entries: &[Entry]) -> Vec<(usize, usize)> {
    // (archive, name) → carried packages of that name, and (archive,
    // virtual name) → carried packages that provide it.
    let mut named: BTreeMap<(&str, String), Vec<Carried<'_>>> = BTreeMap::new();
    let mut provided: BTreeMap<(&str, String), Vec<Carried<'_>>> = BTreeMap::new();
    let mut stanzas = Vec::new();
    for (position, entry) in entries.iter().enumerate() {
        let Some(Key::Package { archive, .. }) = parse_key(&entry.key) else {
            continue;
        };
        let field = |name: &str| entry.meta.get(name).and_then(|v| v.as_str());
        let (Some(name), Some(version)) = (field("package"), field("version")) else {
            continue;
        };
        let architecture = field("architecture").unwrap_or("all");
        let carried = || Carried {
            position,
            version,
            architecture,
        };
        named
            .entry((archive, name.to_owned()))
            .or_default()
            .push(carried());
        let Some(paragraph) = field("stanza")
            .and_then(|s| crate::control::paragraphs(s).ok())
            .and_then(|p| p.into_iter().next())
        else {
            continue;
        };
        let relations = |name: &str| {
            paragraph
                .get(name)
                .and_then(|text| crate::relation::parse(&text.replace('\n', " ")).ok())
                .unwrap_or_default()
        };
        for group in relations("Provides") {
            for virtual_package in group {
                provided
                    .entry((archive, virtual_package.name))
                    .or_default()
                    .push(carried());
            }
        }
        let mut depends = relations("Pre-Depends");
        depends.extend(relations("Depends"));
        depends.truncate(RELATIONS_PER_PACKAGE);
        stanzas.push((position, archive, architecture, depends));
    }
    let compatible = |dependent: &str, dependency: &str| {
        dependent == dependency || dependent == "all" || dependency == "all"
    };
    let mut edges = Vec::new();
    for (position, archive, architecture, depends) in stanzas {
        let mut targets = Vec::new();
        for group in depends {
            let found = group.iter().find_map(|relation| {
                let key = (archive, relation.name.clone());
                let real = named.get(&key).into_iter().flatten().filter(|c| {
                    relation.accepts(c.version) && compatible(architecture, c.architecture)
                });
                // A versioned relation is only met by the real package:
                // providers here state no version.
                let providers = provided.get(&key).into_iter().flatten().filter(|c| {
                    relation.constraint.is_none() && compatible(architecture, c.architecture)
                });
                let best = |candidates: Vec<&Carried<'_>>| {
                    candidates
                        .into_iter()
                        .max_by(|a, b| crate::version::compare(a.version, b.version))
                        .map(|c| c.position)
                };
                best(real.collect()).or_else(|| best(providers.collect()))
            });
            if let Some(target) = found
                && target != position
                && !targets.contains(&target)
            {
                targets.push(target);
            }
        }
        edges.extend(targets.into_iter().map(|target| (position, target)));
    }
    edges
}

/// Parses an index key of this ecosystem.
pub fn parse_key(key: &str) -> Option<Key<'_>> {
    if let Some((archive, suite)) = key.split_once("/dists/") {
        return Some(Key::Suite { archive, suite });
    }
    key.split_once('/')
        .map(|(archive, path)| Key::Package { archive, path })
}

impl Ecosystem for Apt {
    fn about(&self) -> About {
        About {
            name: crate::ECOSYSTEM,
            title: "Debian packages",
            table: Table::many("apt"),
            served_at: "/apt/",
        }
    }

    fn plan(&self, declared: &Declared<'_>) -> Result<Option<Box<dyn Plan>>, Error> {
        let specs: Vec<AptSpec> = declared.table("apt")?.unwrap_or_default();
        let planned =
            crate::collect::plan(&specs, declared.base).map_err(|e| declared.invalid(e))?;
        Ok(airlift_ecosystem::Planned::boxed(
            (!planned.is_empty()).then_some(planned),
            collect,
            || summarize(crate::collect::Collected::default()),
        ))
    }

    /// The repositories, signed by the [`Signer`] in the services; without
    /// one, packages but no Release.
    /// The archive list and the signing key are the ecosystem; everything
    /// else is its archive.
    /// Everything is its archive's (the key's first segment).
    fn entry_name(&self, entry: &Entry) -> Option<String> {
        entry.key.split('/').next().map(str::to_owned)
    }

    /// Requests name apt archives (`/apt/<archive>/…`), not packages: apt
    /// resolves packages from the carried `Packages` indexes and never asks
    /// the server for one that is not listed. So a wanted name is an
    /// archive, and its table's URL, suites, keyring and packages are
    /// for people to fill in.
    fn wanted_config(&self, names: &[String]) -> Option<String> {
        let mut out = String::from(
            "# apt archives asked for inside the gap and not carried: an [[apt]]\n\
             # table each. Which mirror, suites, keyring and packages are meant\n\
             # cannot be known inside: fill them in and uncomment.\n",
        );
        for name in names {
            out.push_str(&format!(
                "# [[apt]]\n# name = {}\n# url = \"https://<mirror>/<path>\"\n\
                 # suites = [\"<suite>\"]\n# keyring = \"<keyring.gpg>\"\n\
                 # packages = [\"<package>\"]\n",
                airlift_ecosystem::toml_comment(&airlift_ecosystem::toml_string(name))
            ));
        }
        Some(out)
    }

    fn access(&self, method: &Method, path: &str) -> Option<Access> {
        let rest = path.strip_prefix("/apt/")?;
        let archive = rest.split('/').next().unwrap_or_default();
        Some(if archive.is_empty() || archive == "airlift.asc" {
            Access::any(Action::Read)
        } else {
            Access::by_method(method, archive)
        })
    }

    fn routes(&self, services: &Services) -> Router {
        let signer = services.extensions.get::<Arc<Signer>>().cloned();
        Router::new()
            .nest("/apt", crate::serve::router(services.store.clone(), signer))
            .merge(crate::serve::root_routes(services.store.clone()))
    }

    fn clients(&self) -> &'static [Client] {
        &[Client {
            name: "apt",
            about: "apt: a deb822 `.sources` file for every carried archive",
        }]
    }

    fn client_config(
        &self,
        tool: &str,
        request: &ClientRequest<'_>,
    ) -> Result<ClientConfig, Error> {
        if tool != "apt" {
            return Err(airlift_ecosystem::no_client(self.name(), tool));
        }
        let mut archives: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
        let store_error = |e: airlift_store::StoreError| Error::store(e.to_string());
        let store = (request.store)()?;
        if let Some(generation) = store.meta.current().map_err(store_error)? {
            for entry in store
                .meta
                .entries(generation.id, Some(crate::ECOSYSTEM))
                .map_err(store_error)?
            {
                let Some(Key::Suite { archive, suite }) = parse_key(&entry.key) else {
                    continue;
                };
                let slot = archives.entry(archive.to_owned()).or_default();
                slot.0.push(suite.to_owned());
                for c in entry
                    .meta
                    .get("components")
                    .and_then(|c| c.as_array())
                    .into_iter()
                    .flatten()
                {
                    if let Some(c) = c.as_str()
                        && !slot.1.iter().any(|x| x == c)
                    {
                        slot.1.push(c.to_owned());
                    }
                }
            }
        }
        if archives.is_empty() {
            return Err(Error::input(
                "the current generation carries no apt archive; declare [[apt]] in airlift.toml, collect and import first",
            ));
        }
        let extensions = (request.extensions)()?;
        let signer = extensions
            .get::<Arc<Signer>>()
            .ok_or_else(|| Error::store("this site has no apt signing key"))?;
        let signed_by = request.signed_by.display();
        let mut content = format!(
            "# the key: `airlift apt key --out {signed_by}` (fingerprint {})\n",
            signer.key.fingerprint()
        );
        for (archive, (suites, components)) in &archives {
            content.push_str(&format!(
                "\nTypes: deb\nURIs: {}/apt/{archive}\nSuites: {}\nComponents: {}\nSigned-By: {signed_by}\n",
                request.base,
                suites.join(" "),
                components.join(" ")
            ));
        }
        if request.tls {
            content.push_str(&format!(
                "# HTTPS: install {} as a CA (/usr/local/share/ca-certificates/airlift.crt, then update-ca-certificates)\n",
                request.ca.display()
            ));
        }
        if let Some(login) = request.login {
            // apt reads credentials from auth.conf (netrc format), never
            // from sources: the file stays readable by root only. A
            // machine without `http://` is used for HTTPS only.
            content.push_str(&format!(
                "# credentials, in /etc/apt/auth.conf.d/airlift.conf (mode 0600):\n# machine {}/apt/ login {} password {}\n",
                request.base, login.user, login.token
            ));
        }
        Ok(ClientConfig {
            tool: "apt",
            file: "/etc/apt/sources.list.d/airlift.sources",
            content,
            environment: Vec::new(),
        })
    }

    fn package(&self, entry: &Entry) -> Option<Package> {
        let Some(Key::Package { .. }) = parse_key(&entry.key) else {
            return None;
        };
        let name = entry.meta.get("package")?.as_str()?;
        let version = entry.meta.get("version")?.as_str()?;
        let arch = entry
            .meta
            .get("architecture")
            .and_then(|a| a.as_str())
            .unwrap_or("all");
        // The purl's `distro` is the suite it was collected from (its
        // codename, as the package URL specification's examples have it);
        // of several, the first by name.
        let distro = entry
            .meta
            .get("homes")
            .and_then(|h| h.as_array())
            .and_then(|homes| {
                homes
                    .iter()
                    .filter_map(|h| h.as_str()?.split('/').next())
                    .filter(|suite| !suite.is_empty())
                    .min()
            })
            .map(|suite| format!("&distro={}", airlift_ecosystem::purl_encode(suite)))
            .unwrap_or_default();
        Some(Package {
            ecosystem: crate::ECOSYSTEM,
            name: name.to_owned(),
            version: version.to_owned(),
            purl: format!(
                "pkg:deb/debian/{}@{}?arch={}{distro}",
                airlift_ecosystem::purl_encode(name),
                airlift_ecosystem::purl_encode(version),
                airlift_ecosystem::purl_encode(arch)
            ),
            digest: Some(format!("sha256:{}", entry.digest.hex())),
            // A `.deb` states its licences in `copyright` inside its data
            // archive, in no field of the index: none are recorded.
            licenses: Vec::new(),
        })
    }

    /// Each carried `.deb`'s `Depends` and `Pre-Depends` (from the stanza
    /// collect recorded): for each group of alternatives, the first
    /// alternative a carried package of the same archive satisfies (name,
    /// version constraint and architecture, or a carried package that
    /// `Provides` it), its highest carried version.
    fn dependencies(&self, entries: &[Entry]) -> Vec<(usize, usize)> {
        stanza_dependencies(entries)
    }

    /// Debian's and Ubuntu's advisories, in dpkg's order.
    fn advisory_ecosystems(&self) -> &'static [&'static str] {
        &["Debian", "Ubuntu"]
    }

    /// Each `.deb` as its source package, under the release of every suite
    /// it was collected from: OSV names Debian packages by source package
    /// and version (`openssl` for `libssl3`, with the source's version when
    /// its `Source` field gives one) and per release (`Debian:12`), which
    /// only the suite's `Release` (its `Origin` and `Version`) tells. A
    /// suite without a version (unstable) names its packages without one.
    fn advisory_names(&self, entries: &[Entry]) -> Vec<(usize, AdvisoryName)> {
        let mut releases: BTreeMap<(&str, &str), String> = BTreeMap::new();
        for entry in entries {
            if let Some(Key::Suite { archive, suite }) = parse_key(&entry.key) {
                releases.insert((archive, suite), advisory_release(&entry.meta));
            }
        }
        let mut names = Vec::new();
        for (position, entry) in entries.iter().enumerate() {
            let Some(Key::Package { archive, .. }) = parse_key(&entry.key) else {
                continue;
            };
            let Some(package) = self.package(entry) else {
                continue;
            };
            let (name, version) =
                source_of(entry).unwrap_or_else(|| (package.name.clone(), package.version.clone()));
            let suites: BTreeSet<&str> = entry
                .meta
                .get("homes")
                .and_then(|h| h.as_array())
                .into_iter()
                .flatten()
                .filter_map(|home| home.as_str()?.split('/').next())
                .collect();
            let ecosystems: BTreeSet<&String> = releases
                .iter()
                .filter(|((a, suite), _)| {
                    *a == archive && (suites.is_empty() || suites.contains(suite))
                })
                .map(|(_, release)| release)
                .collect();
            for ecosystem in ecosystems {
                names.push((
                    position,
                    AdvisoryName {
                        ecosystem: ecosystem.clone(),
                        name: name.clone(),
                        version: version.clone(),
                    },
                ));
            }
        }
        names
    }

    /// dpkg's order.
    fn compare_versions(&self, a: &str, b: &str) -> Ordering {
        crate::version::compare(a, b)
    }
}

// `&Vec`, not a slice: the contract's `CollectFn<P>` takes `&P`.
#[allow(clippy::ptr_arg)]
fn collect<'a>(
    planned: &'a Vec<Planned>,
    context: &'a CollectContext<'a>,
) -> BoxFuture<'a, Result<Collected, Error>> {
    Box::pin(async move {
        let apt = crate::collect::collect(
            context.store,
            context.fetcher,
            planned,
            context.progress.clone(),
        )
        .await
        .map_err(|e| Error::classify(e, kind))?;
        Ok(summarize(apt))
    })
}

/// Bad input, the store, or the upstream.
fn kind(error: &CollectError) -> ErrorKind {
    match error {
        CollectError::Spec { .. } => ErrorKind::Input,
        CollectError::Store(_) => ErrorKind::Store,
        _ => ErrorKind::Upstream,
    }
}

fn summarize(apt: crate::collect::Collected) -> Collected {
    Collected {
        line: (apt.packages > 0)
            .then(|| format!("{} Debian packages ({} bytes)", apt.packages, apt.bytes)),
        summary: vec![
            ("debian_packages", apt.packages.into()),
            ("debian_bytes", apt.bytes.into()),
            ("debian_notes", apt.notes.clone().into()),
        ],
        notes: apt.notes.iter().map(|n| format!("note: {n}")).collect(),
        entries: apt.entries,
        upstream: Vec::new(),
    }
}

/// The ecosystem, for the registry.
pub fn ecosystem() -> Arc<dyn Ecosystem> {
    Arc::new(Apt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_archives_are_commented_tables_a_name_cannot_break_out_of() {
        let lines = Apt
            .wanted_config(&["ubuntu".to_owned(), "x\n[[apt]]\"".to_owned()])
            .expect("lines");
        assert!(lines.lines().all(|line| line.starts_with('#')), "{lines}");
        assert!(lines.contains("# name = \"ubuntu\"\n"), "{lines}");
        assert!(lines.contains("# name = \"x\\n[[apt]]\\\"\"\n"), "{lines}");
    }

    fn deb(archive: &str, name: &str, version: &str, arch: &str, fields: &str) -> Entry {
        Entry {
            ecosystem: crate::ECOSYSTEM.into(),
            key: format!("{archive}/pool/main/{name}_{version}_{arch}.deb"),
            digest: airlift_core::Digest::of(format!("{archive}{name}{version}").as_bytes()),
            size: 1,
            meta: serde_json::json!({
                "stanza": format!("Package: {name}\nVersion: {version}\nArchitecture: {arch}\n{fields}"),
                "package": name,
                "version": version,
                "architecture": arch,
            }),
        }
    }

    #[test]
    fn dependencies_follow_depends_and_pre_depends_to_carried_packages() {
        let entries = vec![
            deb(
                "debian",
                "jq",
                "1.6-2",
                "amd64",
                "Pre-Depends: libc6 (>= 2.34)\nDepends: libjq1 (= 1.6-2),\n missing | mail-transport-agent, absent\n",
            ),
            deb("debian", "libc6", "2.36-9", "amd64", ""),
            deb("debian", "libc6", "2.30-1", "amd64", ""),
            deb("debian", "libjq1", "1.6-2", "amd64", ""),
            deb("debian", "libjq1", "1.6-2", "arm64", ""),
            deb(
                "debian",
                "postfix",
                "3.7",
                "amd64",
                "Provides: mail-transport-agent\n",
            ),
            // Another archive's package never satisfies this one's.
            deb("other", "absent", "1.0", "all", ""),
            Entry {
                key: "debian/dists/bookworm".into(),
                ..deb("debian", "x", "1", "all", "")
            },
        ];
        let mut edges = Apt.dependencies(&entries);
        edges.sort();
        assert_eq!(edges, [(0, 1), (0, 3), (0, 5)]);
        assert!(
            Apt.package(&entries[0])
                .expect("a .deb")
                .licenses
                .is_empty()
        );
    }

    #[test]
    fn keys_parse() {
        assert_eq!(
            parse_key("debian/dists/bookworm"),
            Some(Key::Suite {
                archive: "debian",
                suite: "bookworm"
            })
        );
        assert_eq!(
            parse_key("debian/pool/main/j/jq/jq_1.6_amd64.deb"),
            Some(Key::Package {
                archive: "debian",
                path: "pool/main/j/jq/jq_1.6_amd64.deb"
            })
        );
        assert_eq!(parse_key("nothing"), None);
    }

    fn entry(key: &str, meta: serde_json::Value) -> Entry {
        Entry {
            ecosystem: "apt".into(),
            key: key.into(),
            digest: airlift_core::Digest::of(key.as_bytes()),
            size: 1,
            meta,
        }
    }

    #[test]
    fn a_package_url_names_the_suite_it_came_from() {
        let package = Apt
            .package(&entry(
                "debian/pool/main/j/jq/jq_1.6-2.1_amd64.deb",
                serde_json::json!({"package": "jq", "version": "1.6-2.1", "architecture": "amd64",
                    "homes": ["bookworm/main", "bookworm-updates/main"]}),
            ))
            .unwrap();
        assert_eq!(
            package.purl,
            "pkg:deb/debian/jq@1.6-2.1?arch=amd64&distro=bookworm"
        );
        let without = Apt
            .package(&entry(
                "debian/pool/main/j/jq/jq_1.6-2.1_amd64.deb",
                serde_json::json!({"package": "jq", "version": "1.6-2.1", "architecture": "amd64"}),
            ))
            .unwrap();
        assert_eq!(without.purl, "pkg:deb/debian/jq@1.6-2.1?arch=amd64");
    }

    #[test]
    fn debian_packages_are_named_per_release_for_advisories() {
        let entries = [
            entry(
                "debian/dists/bookworm",
                serde_json::json!({"fields": {"origin": "Debian", "version": "12.8"}}),
            ),
            entry(
                "debian/pool/main/j/jq/jq_1.6-2.1_amd64.deb",
                serde_json::json!({"package": "jq", "version": "1.6-2.1", "architecture": "amd64",
                    "homes": ["bookworm/main"]}),
            ),
            entry(
                "debian/pool/main/o/openssl/libssl3_3.0.11-1~deb12u2+b1_amd64.deb",
                serde_json::json!({"package": "libssl3", "version": "3.0.11-1~deb12u2+b1",
                    "architecture": "amd64", "homes": ["bookworm/main"],
                    "stanza": "Package: libssl3\nSource: openssl (3.0.11-1~deb12u2)\nVersion: 3.0.11-1~deb12u2+b1\n"}),
            ),
            entry(
                "sid/dists/unstable",
                serde_json::json!({"fields": {"origin": "Debian"}}),
            ),
            entry(
                "sid/pool/main/j/jq/jq_1.7_amd64.deb",
                serde_json::json!({"package": "jq", "version": "1.7", "architecture": "amd64"}),
            ),
        ];
        let names = Apt.advisory_names(&entries);
        let named = |ecosystem: &str, version: &str| AdvisoryName {
            ecosystem: ecosystem.into(),
            name: "jq".into(),
            version: version.into(),
        };
        assert_eq!(
            names,
            vec![
                (1, named("Debian:12", "1.6-2.1")),
                (
                    2,
                    AdvisoryName {
                        ecosystem: "Debian:12".into(),
                        name: "openssl".into(),
                        version: "3.0.11-1~deb12u2".into(),
                    }
                ),
                (4, named("Debian", "1.7")),
            ]
        );
    }
}
