//! Plain files under the ecosystem contract.

use std::sync::Arc;

use airlift_ecosystem::{
    About, Access, Action, BoxFuture, CollectContext, Collected, Declared, Ecosystem, Error,
    Package, Plan, Services, Table,
};
use airlift_store::Entry;
use axum::Router;
use axum::http::Method;

use crate::collect::Planned;
use crate::spec::FileSpec;

/// Plain files: `[[files]]`, served at `/files/`.
pub struct Files;

impl Ecosystem for Files {
    fn about(&self) -> About {
        About {
            name: crate::ECOSYSTEM,
            title: "Plain files",
            table: Table::many("files"),
            served_at: "/files/",
        }
    }

    /// Always a plan, possibly empty: the collect summary always counts
    /// files.
    fn plan(&self, declared: &Declared<'_>) -> Result<Option<Box<dyn Plan>>, Error> {
        let specs: Vec<FileSpec> = declared.table("files")?.unwrap_or_default();
        let planned = crate::collect::plan(&specs).map_err(|e| declared.invalid(e))?;
        Ok(Some(Box::new(FilesPlan(planned))))
    }

    fn routes(&self, services: &Services) -> Router {
        Router::new()
            .nest("/files", crate::serve::writable_router(services))
            .merge(crate::serve::root_routes(services.store.clone()))
    }

    /// `/files/` is the listing; every other path is its file.
    /// A file is named by its path.
    fn entry_name(&self, entry: &Entry) -> Option<String> {
        Some(entry.key.clone())
    }

    /// Commented `[[files]]` tables: a file needs the URL it is fetched
    /// from, which a request inside the gap does not say.
    fn wanted_config(&self, names: &[String]) -> Option<String> {
        let mut out = String::from(
            "# Files asked for inside the gap and not carried. Each needs the URL\n\
             # to fetch it from: fill it in and uncomment.\n",
        );
        for name in names {
            let path = airlift_ecosystem::toml_string(name);
            out.push_str(&format!(
                "# [[files]]\n# url = \"<URL>\"\n# path = {}\n",
                airlift_ecosystem::toml_comment(&path)
            ));
        }
        Some(out)
    }

    fn access(&self, method: &Method, path: &str) -> Option<Access> {
        let rest = path.strip_prefix("/files/")?;
        Some(if rest.is_empty() {
            Access::any(Action::Read)
        } else if *method == Method::DELETE {
            Access::name(Action::Delete, rest)
        } else {
            Access::by_method(method, rest)
        })
    }

    fn package(&self, entry: &Entry) -> Option<Package> {
        let name = entry.key.rsplit('/').next().unwrap_or(&entry.key);
        Some(Package {
            ecosystem: crate::ECOSYSTEM,
            name: entry.key.clone(),
            version: String::new(),
            purl: format!(
                "pkg:generic/{}?checksum=sha256:{}",
                airlift_ecosystem::purl_encode(name),
                entry.digest.hex()
            ),
            digest: Some(format!("sha256:{}", entry.digest.hex())),
            licenses: Vec::new(),
        })
    }
}

struct FilesPlan(Vec<Planned>);

impl Plan for FilesPlan {
    fn collect<'a>(
        &'a self,
        context: &'a CollectContext<'a>,
    ) -> BoxFuture<'a, Result<Collected, Error>> {
        Box::pin(async move {
            let collected = crate::collect::collect(
                context.store,
                context.fetcher,
                &self.0,
                context.progress.clone(),
            )
            .await;
            if !collected.failures.is_empty() {
                let mut error = Error::upstream(format!(
                    "{} of {} files could not be collected",
                    collected.failures.len(),
                    self.0.len()
                ));
                for (path, failure) in &collected.failures {
                    error = error.hint(format!("{path}: {failure}"));
                }
                return Err(error);
            }
            let files = self.0.len();
            Ok(Collected {
                line: (files > 0).then(|| {
                    format!(
                        "{files} files ({} downloaded, {} already stored, {} bytes)",
                        collected.downloaded, collected.cached, collected.bytes
                    )
                }),
                summary: vec![
                    ("files", files.into()),
                    ("downloaded", collected.downloaded.into()),
                    ("cached", collected.cached.into()),
                    ("bytes", collected.bytes.into()),
                ],
                entries: collected.entries,
                upstream: Vec::new(),
                notes: Vec::new(),
            })
        })
    }
}

/// The ecosystem, for the registry.
pub fn ecosystem() -> Arc<dyn Ecosystem> {
    Arc::new(Files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delete_asks_to_delete_the_path() {
        let asked = |method: Method| Files.access(&method, "/files/ci/app.bin");
        assert_eq!(
            asked(Method::GET),
            Some(Access::name(Action::Read, "ci/app.bin"))
        );
        assert_eq!(
            asked(Method::PUT),
            Some(Access::name(Action::Write, "ci/app.bin"))
        );
        assert_eq!(
            asked(Method::DELETE),
            Some(Access::name(Action::Delete, "ci/app.bin"))
        );
    }
}
