//! Lockfile pins: the files of a locked release that the lockfile allows,
//! checked against what the upstream lists, for every target the pin's
//! marker admits.

use std::collections::BTreeSet;

use airlift_core::Digest;

use super::resolve::{carried, releases, usable};
use super::{Chosen, CollectError, Planned};
use crate::lockfile::Pin;
use crate::upstream::{Project, UpFile};
use crate::version::Version;

/// The files a lockfile pin carries, checked against the upstream.
pub(super) fn pinned_files(
    project: &Project,
    pin: &Pin,
    planned: &Planned,
) -> Result<Vec<Chosen>, CollectError> {
    let version = Version::parse(&pin.version).ok_or_else(|| CollectError::Missing {
        origin: pin.origin.clone(),
        project: pin.project.clone(),
        what: pin.version.clone(),
    })?;
    let release = releases(project)
        .into_iter()
        .find(|r| r.version == version)
        .ok_or_else(|| CollectError::Missing {
            origin: pin.origin.clone(),
            project: pin.project.clone(),
            what: format!("version {}", pin.version),
        })?;
    let mut allowed: Vec<(&UpFile, Option<Digest>)> = Vec::new();
    if pin.files.is_empty() {
        for file in &release.files {
            match (file.sha256, pin.hashes.is_empty()) {
                (_, true) => allowed.push((file, None)),
                (Some(sha), false) if pin.hashes.contains(&sha) => allowed.push((file, Some(sha))),
                // Not among the locked hashes: not a file the lock allows.
                (Some(_), false) => {}
                // The upstream states no hash: check the lock's on download.
                (None, false) => allowed.push((file, None)),
            }
        }
    } else {
        for (filename, digest) in &pin.files {
            let file = release
                .files
                .iter()
                .find(|f| &f.filename == filename)
                .ok_or_else(|| CollectError::Missing {
                    origin: pin.origin.clone(),
                    project: pin.project.clone(),
                    what: format!("file {filename}"),
                })?;
            if let (Some(locked), Some(upstream)) = (digest, file.sha256)
                && *locked != upstream
            {
                return Err(CollectError::HashMismatch {
                    project: pin.project.clone(),
                    filename: filename.clone(),
                    expected_from: pin.origin.clone(),
                    expected: *locked,
                    actual_from: "the upstream index says".into(),
                    actual: upstream,
                });
            }
            allowed.push((file, *digest));
        }
    }
    if allowed.is_empty() {
        return Err(CollectError::NoLockedFile {
            origin: pin.origin.clone(),
            project: pin.project.clone(),
            version: pin.version.clone(),
        });
    }
    let files: Vec<&UpFile> = allowed.iter().map(|(f, _)| *f).collect();
    let mut out: Vec<Chosen> = Vec::new();
    for target in &planned.targets {
        if let Some(marker) = &pin.marker
            && !marker.evaluate(&target.env, &BTreeSet::new())
        {
            continue;
        }
        let fits = usable(&pin.project, &files, target, true);
        if fits.is_empty() {
            return Err(CollectError::NoFile {
                project: pin.project.clone(),
                version: pin.version.clone(),
                target: target.to_string(),
                chain: vec![pin.origin.clone()],
            });
        }
        for file in carried(&pin.project, &fits, planned.sdist) {
            if out.iter().any(|c| c.file.filename == file.filename) {
                continue;
            }
            let locked = allowed
                .iter()
                .find(|(f, _)| f.filename == file.filename)
                .and_then(|(_, d)| *d);
            out.push(Chosen {
                file: file.clone(),
                version: pin.version.clone(),
                expected: locked.or(file.sha256),
            });
        }
    }
    // Without a per-file hash, the download must match one of the lock's.
    Ok(out)
}
