//! What the browse and search pages show, derived once per generation.
//!
//! A generation is immutable (ADR 0006), so everything derived from its
//! entries is computed once, on the first page that needs it after the
//! generation became current, and kept until another one does: the
//! packages of each ecosystem grouped by name, sorted, each with its
//! versions (newest first), files, tags and digests, and the site's
//! documents. A request then costs a lookup or a scan of names, never a
//! read of the index's entries.

use std::collections::HashMap;
use std::sync::Arc;

use airlift_ecosystem::{Ecosystem, Registry};
use airlift_store::{Entry, Generation, Store, StoreError};

/// What an item of a package is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A package version or file (a wheel, a crate, a tarball, a `.deb`,
    /// a plain file) or an image manifest by digest.
    Package,
    /// An image tag.
    Tag,
}

/// One version, file or tag of a package.
#[derive(Clone, Debug)]
pub struct Item {
    /// The index key.
    pub key: String,
    /// The version (a manifest's digest for an image; the tag for a tag).
    pub version: String,
    /// The digest clients check (the upstream's, else the blob's).
    pub digest: String,
    /// Bytes.
    pub size: u64,
    /// What it is.
    pub kind: Kind,
}

/// A package (project, crate, npm package, Debian package, image
/// repository, file) and its items.
#[derive(Debug)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// The name in lowercase, for search.
    pub lower: String,
    /// Its items: tags first, then versions newest first.
    pub items: Vec<Item>,
}

/// One ecosystem's part of the catalog.
#[derive(Debug)]
pub struct Shelf {
    /// The ecosystem's name.
    pub name: &'static str,
    /// What people call it.
    pub title: &'static str,
    /// Where it is served (empty: carried, not served).
    pub served_at: &'static str,
    /// Index entries of the ecosystem, packages or not.
    pub entries: u64,
    /// Its packages, by name.
    pub groups: Vec<Group>,
    /// Whether its entries are documents of the site (SBOMs), listed by
    /// key on the documents page instead of as packages.
    pub documents: Vec<Item>,
}

/// Everything the pages derive from one generation.
#[derive(Debug)]
pub struct Catalog {
    /// The generation.
    pub generation: Generation,
    /// One shelf per registered ecosystem, in the registry's order.
    pub shelves: Vec<Shelf>,
}

impl Catalog {
    /// The shelf of an ecosystem.
    pub fn shelf(&self, name: &str) -> Option<&Shelf> {
        self.shelves.iter().find(|s| s.name == name)
    }

    /// Reads generation `generation`'s entries once and derives the
    /// catalog.
    pub fn build(
        store: &Store,
        ecosystems: &Registry,
        generation: Generation,
    ) -> Result<Self, StoreError> {
        let by_name: HashMap<&str, (usize, &Arc<dyn Ecosystem>)> = ecosystems
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name(), (i, e)))
            .collect();
        let mut shelves: Vec<Shelf> = ecosystems
            .iter()
            .map(|e| Shelf {
                name: e.name(),
                title: e.title(),
                served_at: e.served_at(),
                entries: 0,
                groups: Vec::new(),
                documents: Vec::new(),
            })
            .collect();
        let mut groups: Vec<HashMap<String, Vec<Item>>> = vec![HashMap::new(); shelves.len()];
        store
            .meta
            .for_each_entry(generation.id, None, &mut |entry: Entry| {
                let Some(&(position, ecosystem)) = by_name.get(entry.ecosystem.as_str()) else {
                    return Ok(());
                };
                let shelf = &mut shelves[position];
                shelf.entries += 1;
                if ecosystem.table().is_none() && !ecosystem.served_at().is_empty() {
                    shelf.documents.push(Item {
                        digest: format!("sha256:{}", entry.digest.hex()),
                        version: String::new(),
                        size: entry.size,
                        kind: Kind::Package,
                        key: entry.key,
                    });
                    return Ok(());
                }
                if let Some((name, item)) = item_of(ecosystem.as_ref(), entry) {
                    groups[position].entry(name).or_default().push(item);
                }
                Ok(())
            })?;
        for ((shelf, found), ecosystem) in shelves.iter_mut().zip(groups).zip(ecosystems.iter()) {
            let mut list: Vec<Group> = found
                .into_iter()
                .map(|(name, mut items)| {
                    items.sort_by(|a, b| {
                        (a.kind != Kind::Tag)
                            .cmp(&(b.kind != Kind::Tag))
                            .then_with(|| ecosystem.compare_versions(&b.version, &a.version))
                            .then_with(|| a.key.cmp(&b.key))
                    });
                    Group {
                        lower: name.to_lowercase(),
                        name,
                        items,
                    }
                })
                .collect();
            list.sort_by(|a, b| a.name.cmp(&b.name));
            shelf.groups = list;
        }
        Ok(Self {
            generation,
            shelves,
        })
    }
}

/// The package an entry belongs to and what it is of it; `None` for
/// entries that are metadata (an index page, a blob of an image).
fn item_of(ecosystem: &dyn Ecosystem, entry: Entry) -> Option<(String, Item)> {
    let blob = || format!("sha256:{}", entry.digest.hex());
    if let Some(package) = ecosystem.package(&entry) {
        let digest = package.digest.clone().unwrap_or_else(blob);
        return Some((
            package.name,
            Item {
                version: package.version,
                digest,
                size: entry.size,
                kind: Kind::Package,
                key: entry.key,
            },
        ));
    }
    // Image tags (`t:<repository>:<tag>`) are what people pull; the OCI
    // adapter names them by repository and has no package for them.
    if ecosystem.name() == "oci"
        && let Some(rest) = entry.key.strip_prefix("t:")
        && let Some(repository) = ecosystem.entry_name(&entry)
        && let Some(tag) = rest
            .strip_prefix(repository.as_str())
            .and_then(|t| t.strip_prefix(':'))
    {
        let tag = tag.to_owned();
        return Some((
            repository,
            Item {
                version: tag,
                digest: blob(),
                size: entry.size,
                kind: Kind::Tag,
                key: entry.key,
            },
        ));
    }
    None
}

/// The command that installs or pulls `item` of package `name` of
/// ecosystem `ecosystem` from the server at `base` (`http://host:port`),
/// when the ecosystem has one.
pub fn command(
    ecosystem: &str,
    served_at: &str,
    base: &str,
    name: &str,
    item: &Item,
) -> Option<String> {
    let host = base.split_once("://").map_or(base, |(_, host)| host);
    Some(match (ecosystem, item.kind) {
        ("pypi", _) => format!("pip install {name}=={}", item.version),
        ("npm", _) => format!("npm install {name}@{}", item.version),
        ("cargo", _) => format!("cargo add {name}@={}", item.version),
        ("apt", _) => format!("apt-get install {name}={}", item.version),
        ("oci", Kind::Tag) => format!("docker pull {host}/{name}:{}", item.version),
        ("oci", Kind::Package) => format!("docker pull {host}/{name}@{}", item.version),
        ("files", _) => format!("curl -O {base}/files/{}", crate::html::path(&item.key)),
        (_, _) if !served_at.is_empty() && item.version.is_empty() => {
            format!("curl -O {base}{served_at}{}", crate::html::path(&item.key))
        }
        _ => return None,
    })
}
