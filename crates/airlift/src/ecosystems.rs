//! The registered ecosystems: the one list that `airlift.toml`, `collect`,
//! `serve`, `client-config` and `status` iterate. A new ecosystem is a
//! crate implementing `airlift_ecosystem::Ecosystem` and one line here.

use std::sync::Arc;

use airlift_ecosystem::Ecosystem;

/// Every ecosystem this build carries, in the order they are collected,
/// summarized and listed.
pub fn all() -> Arc<[Arc<dyn Ecosystem>]> {
    Arc::from(vec![
        airlift_files::ecosystem::ecosystem(),
        airlift_oci::ecosystem::ecosystem(),
        airlift_pypi::ecosystem::ecosystem(),
        airlift_cargo::ecosystem::ecosystem(),
        airlift_npm::ecosystem::ecosystem(),
        airlift_apt::ecosystem::ecosystem(),
        airlift_advisory::ecosystem::ecosystem(),
        airlift_sbom::ecosystem::ecosystem(),
    ])
}

#[cfg(test)]
mod tests {
    /// The contract and the inventory (which depends on no other airlift
    /// crate) each spell OSV's Rust ecosystem name; they must agree, or
    /// crates found in images would never match carried advisories.
    #[test]
    fn the_osv_rust_names_agree() {
        assert_eq!(airlift_ecosystem::OSV_RUST, airlift_inventory::OSV_RUST);
    }
}
