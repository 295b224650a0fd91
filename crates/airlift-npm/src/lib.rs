//! npm packages: an npm registry over the airlift store.
//!
//! Same shape as every ecosystem adapter:
//! - [`spec`]: `[npm]` in `airlift.toml`;
//! - [`collect`]: `package-lock.json` / `npm-shrinkwrap.json` packages as
//!   they are ([`lockfile`]), and declared packages with their closure from
//!   upstream packuments, picked with npm's rules ([`range`]); every tarball
//!   checked against its `integrity` while it streams;
//! - [`index`]: the entries versions and packuments become;
//! - [`serve`]: packuments (full and abbreviated) and tarballs under `/npm/`,
//!   plus the audit endpoints;
//! - [`publish`]: `npm publish` and `npm unpublish` of hosted packages.

pub mod collect;
pub mod ecosystem;
pub mod index;
pub mod lockfile;
pub mod publish;
pub mod range;
pub mod serve;
pub mod spec;

/// The ecosystem name used in the index and in bundles.
pub const ECOSYSTEM: &str = "npm";

/// Whether `name` is a valid npm package name (`name` or `@scope/name`,
/// lowercase URL-safe characters, at most 214 characters).
pub fn valid_name(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && !p.starts_with('_')
            && p.bytes().all(|b| {
                // Uppercase only exists in legacy names (JSONStream), still served.
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
            })
    };
    if name.len() > 214 {
        return false;
    }
    match name.strip_prefix('@') {
        Some(scoped) => scoped
            .split_once('/')
            .is_some_and(|(scope, rest)| part(scope) && part(rest)),
        None => part(name),
    }
}

/// The name without its scope (`@a/b` → `b`), as tarball names use it.
pub fn base_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The package a tarball path's `<name>` part names, with the registry's
/// own `npm/` in front taken off: npm 9.0 to 9.x with
/// `replace-registry-host=always` puts the whole registry URL (`/npm/`
/// included) in front of a tarball URL's path, so Debian 12's npm asks for
/// `/npm/npm/<name>/-/<file>`. A package name has a `/` only after an
/// `@scope`, so `npm/<name>` is never a package of its own.
pub fn tarball_package(name: &str) -> &str {
    match name.strip_prefix("npm/") {
        Some(rest) if !rest.is_empty() && (rest.starts_with('@') || !rest.contains('/')) => rest,
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("express") && valid_name("@types/node") && valid_name("lodash.merge"));
        assert!(valid_name("JSONStream"));
        for bad in ["", "@scope", "@/x", "../x", ".x", "a b", "@a/b/c", "é"] {
            assert!(!valid_name(bad), "{bad:?} accepted");
        }
        assert_eq!(base_name("@types/node"), "node");
    }
}
