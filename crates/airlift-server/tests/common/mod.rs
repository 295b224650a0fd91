//! What the server's tests share.

use std::sync::Arc;

use airlift_ecosystem::Ecosystem;

/// Every ecosystem, mounted as the binary mounts them.
pub fn ecosystems() -> Vec<Arc<dyn Ecosystem>> {
    vec![
        Arc::new(airlift_files::ecosystem::Files),
        Arc::new(airlift_oci::ecosystem::Oci),
        Arc::new(airlift_pypi::ecosystem::Pypi),
        Arc::new(airlift_cargo::ecosystem::Cargo),
        Arc::new(airlift_npm::ecosystem::Npm),
        Arc::new(airlift_apt::ecosystem::Apt),
    ]
}
