//! Image layers: reads each layer's tar stream once, in order, keeping only the files that say
//! what is installed, and applies OCI whiteouts (`.wh.<name>` deletes a lower layer's path,
//! `.wh..wh..opq` hides everything a lower layer had under that directory) so that what a later
//! layer removed is not reported.
//!
//! Boundary: nothing is written or run. Metadata files are read into memory within
//! [`Limits`]; ELF files are spooled (into memory when small, else an anonymous temporary file)
//! to read their section table. A file that fails to parse becomes an entry of
//! [`Inventory::skipped`]; a broken tar stream or an exceeded image-wide bound is an [`Error`].

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Seek, SeekFrom, Write};

use crate::control::{self, ApkEntry, DebEntry};
use crate::{
    Distro, Error, Installed, Inventory, Kind, Limits, auditable, elf, gobuild, npm, purl, python,
};

/// ELF files up to this size are spooled into memory rather than a temporary file.
const IN_MEMORY_BINARY: u64 = 32 << 20;

/// What one file of interest said.
#[derive(Debug, Clone)]
enum Found {
    OsRelease(Distro),
    Deb(control::Records<DebEntry>),
    Apk(control::Records<ApkEntry>),
    Python(python::Metadata),
    Npm(npm::Manifest),
    Go(gobuild::BuildInfo),
    Rust(Vec<auditable::Package>),
    Skipped(String),
}

#[derive(Debug, Clone)]
struct Tracked {
    layer: usize,
    found: Found,
}

/// Which parser a path calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interest {
    OsRelease,
    DpkgStatus,
    DpkgStatusFile,
    Apk,
    Python,
    Npm,
    /// Any other regular file: inspected if it turns out to be ELF.
    Other,
}

/// Normalizes a tar path: no leading `/` or `./`, no empty or `.` components, `..` resolved
/// lexically and never above the root.
pub(crate) fn normalize(raw: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.is_char_boundary(text.len() - suffix.len())
        && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// `status.d` holds a package's other control files next to its stanza in some images.
const STATUS_DIRECTORY_EXTRAS: &[&str] = &[
    ".md5sums",
    ".conffiles",
    ".list",
    ".preinst",
    ".postinst",
    ".prerm",
    ".postrm",
    ".shlibs",
    ".symbols",
    ".triggers",
    ".templates",
    ".config",
];

fn classify(path: &str) -> Interest {
    if path == "etc/os-release" || path == "usr/lib/os-release" {
        return Interest::OsRelease;
    }
    let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
    if name == "status" && (parent == "lib/dpkg" || parent.ends_with("/lib/dpkg")) {
        return Interest::DpkgStatus;
    }
    if (parent == "lib/dpkg/status.d" || parent.ends_with("/lib/dpkg/status.d"))
        && !STATUS_DIRECTORY_EXTRAS
            .iter()
            .any(|extra| name.ends_with(extra))
    {
        return Interest::DpkgStatusFile;
    }
    if name == "installed" && (parent == "lib/apk/db" || parent.ends_with("/lib/apk/db")) {
        return Interest::Apk;
    }
    if (name == "METADATA" && ends_with_ignore_case(parent, "dist-info"))
        || (name == "PKG-INFO" && ends_with_ignore_case(parent, "egg-info"))
        || ends_with_ignore_case(name, ".egg-info")
    {
        return Interest::Python;
    }
    if name == "package.json" {
        // node_modules/<name>/package.json or node_modules/@scope/<name>/package.json
        let components: Vec<&str> = parent.split('/').collect();
        let length = components.len();
        let direct = length >= 2
            && components[length - 2] == "node_modules"
            && !components[length - 1].starts_with('@');
        let scoped = length >= 3
            && components[length - 3] == "node_modules"
            && components[length - 2].starts_with('@');
        if direct || scoped {
            return Interest::Npm;
        }
    }
    Interest::Other
}

/// Removes what lower layers had at `path` and, with `below`, under it.
fn remove_lower(
    state: &mut BTreeMap<String, Tracked>,
    path: &str,
    layer: usize,
    exact: bool,
    below: bool,
) {
    if exact && state.get(path).is_some_and(|tracked| tracked.layer < layer) {
        state.remove(path);
    }
    if below {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let doomed: Vec<String> = state
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .filter(|(_, tracked)| tracked.layer < layer)
            .map(|(key, _)| key.clone())
            .collect();
        for key in doomed {
            state.remove(&key);
        }
    }
}

fn read_bounded<R: Read>(
    reader: &mut R,
    size: u64,
    limit: u64,
    layer: usize,
) -> Result<Result<Vec<u8>, String>, Error> {
    if size > limit {
        return Ok(Err(format!("{size} bytes is over the limit of {limit}")));
    }
    let mut buffer = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut buffer)
        .map_err(|source| Error::Tar { layer, source })?;
    if buffer.len() as u64 > limit {
        return Ok(Err(format!("more than {limit} bytes")));
    }
    Ok(Ok(buffer))
}

fn parse_metadata(interest: Interest, bytes: &[u8]) -> Found {
    let result = match interest {
        Interest::OsRelease => control::parse_os_release(bytes)
            .map(Found::OsRelease)
            .ok_or_else(|| "no ID".to_string()),
        Interest::DpkgStatus | Interest::DpkgStatusFile => {
            control::parse_dpkg(bytes).map(Found::Deb)
        }
        Interest::Apk => control::parse_apk(bytes).map(Found::Apk),
        Interest::Python => python::parse(bytes).map(Found::Python),
        Interest::Npm => npm::parse(bytes).map(Found::Npm),
        Interest::Other => Err("not a metadata file".to_string()),
    };
    result.unwrap_or_else(Found::Skipped)
}

/// Reads an ELF file's Go build information or cargo-auditable data; `Ok(None)` for any other ELF.
fn inspect_binary<F: Read + Seek>(
    file: &mut F,
    length: u64,
    limits: &Limits,
) -> Result<Option<Found>, String> {
    let sections = elf::sections(file, length)?;
    for name in [".dep-v0", ".rust-deps-v0"] {
        if let Some(data) =
            elf::section_data(file, length, &sections, name, limits.max_metadata_bytes)?
        {
            return auditable::parse(&data, limits.max_metadata_bytes)
                .map(|packages| Some(Found::Rust(packages)));
        }
    }
    if let Some(data) = elf::section_data(
        file,
        length,
        &sections,
        ".go.buildinfo",
        limits.max_metadata_bytes,
    )? {
        return gobuild::parse(&data).map(|info| info.map(Found::Go));
    }
    if sections.is_empty() {
        // Without a section table (stripped by sstrip and the like) the magic is searched for.
        file.seek(SeekFrom::Start(0))
            .map_err(|error| format!("seek: {error}"))?;
        return gobuild::scan(file, limits.max_metadata_bytes).map(|info| info.map(Found::Go));
    }
    Ok(None)
}

/// Spools the rest of an ELF entry (whose first bytes are `start`) and inspects it.
fn spool_binary<R: Read>(
    start: &[u8],
    reader: &mut R,
    size: u64,
    limits: &Limits,
    layer: usize,
) -> Result<Option<Found>, Error> {
    if size > limits.max_binary_bytes {
        return Ok(Some(Found::Skipped(format!(
            "executable of {size} bytes is over the limit of {}",
            limits.max_binary_bytes
        ))));
    }
    let remaining = size.saturating_sub(start.len() as u64);
    if size <= IN_MEMORY_BINARY {
        let mut buffer = start.to_vec();
        reader
            .take(remaining)
            .read_to_end(&mut buffer)
            .map_err(|source| Error::Tar { layer, source })?;
        let length = buffer.len() as u64;
        return Ok(found_or_skipped(inspect_binary(
            &mut Cursor::new(buffer),
            length,
            limits,
        )));
    }
    let mut file = tempfile::tempfile().map_err(|source| Error::Spool { source })?;
    file.write_all(start)
        .map_err(|source| Error::Spool { source })?;
    let copied = std::io::copy(&mut reader.take(remaining), &mut file)
        .map_err(|source| Error::Tar { layer, source })?;
    let length = start.len() as u64 + copied;
    file.seek(SeekFrom::Start(0))
        .map_err(|source| Error::Spool { source })?;
    Ok(found_or_skipped(inspect_binary(&mut file, length, limits)))
}

fn found_or_skipped(result: Result<Option<Found>, String>) -> Option<Found> {
    match result {
        Ok(found) => found,
        Err(reason) => Some(Found::Skipped(reason)),
    }
}

/// Reads layers in order (each an uncompressed tar stream; the caller decompresses), applying OCI
/// whiteouts so a file deleted by a later layer is not reported, streaming: keeps only files of
/// interest, each bounded by `limits`; never runs anything.
pub fn inspect_layers<R: Read>(
    layers: impl IntoIterator<Item = R>,
    limits: &Limits,
) -> Result<Inventory, Error> {
    let mut state: BTreeMap<String, Tracked> = BTreeMap::new();
    let mut entries_seen: u64 = 0;
    for (layer, reader) in layers.into_iter().enumerate() {
        let mut archive = tar::Archive::new(reader);
        let entries = archive
            .entries()
            .map_err(|source| Error::Tar { layer, source })?;
        for entry in entries {
            let mut entry = entry.map_err(|source| Error::Tar { layer, source })?;
            entries_seen += 1;
            if entries_seen > limits.max_entries {
                return Err(Error::TooManyEntries {
                    layer,
                    limit: limits.max_entries,
                });
            }
            let path = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            if name == ".wh..wh..opq" {
                remove_lower(&mut state, parent, layer, false, true);
                continue;
            }
            if let Some(hidden) = name.strip_prefix(".wh.") {
                // `.wh.` alone names nothing; at the root it would otherwise hide everything.
                if hidden.is_empty() {
                    continue;
                }
                let target = if parent.is_empty() {
                    hidden.to_string()
                } else {
                    format!("{parent}/{hidden}")
                };
                remove_lower(&mut state, &target, layer, true, true);
                continue;
            }
            if path.is_empty() {
                continue;
            }
            let entry_type = entry.header().entry_type();
            // Whatever this entry is, it replaces what was at its path before; a non-directory
            // also hides whatever lower layers had below that path.
            state.remove(&path);
            if !entry_type.is_dir() {
                remove_lower(&mut state, &path, layer, false, true);
            }
            if entry_type.is_hard_link() {
                let target = entry
                    .link_name_bytes()
                    .map(|bytes| normalize(&String::from_utf8_lossy(&bytes)));
                if let Some(found) = target
                    .and_then(|target| state.get(&target).map(|tracked| tracked.found.clone()))
                {
                    state.insert(path, Tracked { layer, found });
                }
                continue;
            }
            if !(entry_type.is_file() || entry_type == tar::EntryType::Continuous) {
                continue;
            }
            let size = entry.size();
            let found = match classify(&path) {
                Interest::Other => {
                    if size < 64 {
                        continue;
                    }
                    let mut start = Vec::with_capacity(4);
                    (&mut entry)
                        .take(4)
                        .read_to_end(&mut start)
                        .map_err(|source| Error::Tar { layer, source })?;
                    if !elf::is_elf(&start) {
                        continue;
                    }
                    match spool_binary(&start, &mut entry, size, limits, layer)? {
                        Some(found) => found,
                        None => continue,
                    }
                }
                interest => {
                    let limit = match interest {
                        Interest::DpkgStatus | Interest::Apk => limits.max_status_bytes,
                        _ => limits.max_metadata_bytes,
                    };
                    match read_bounded(&mut entry, size, limit, layer)? {
                        Ok(bytes) => parse_metadata(interest, &bytes),
                        Err(reason) => Found::Skipped(reason),
                    }
                }
            };
            state.insert(path, Tracked { layer, found });
        }
    }
    finish(state, limits)
}

/// Turns what the surviving files said into the inventory; purls and ecosystems of distribution
/// packages need the distribution, known only once every layer is read.
fn finish(state: BTreeMap<String, Tracked>, limits: &Limits) -> Result<Inventory, Error> {
    let distro = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|path| match state.get(*path) {
            Some(Tracked {
                found: Found::OsRelease(distro),
                ..
            }) => Some(distro.clone()),
            _ => None,
        });
    let mut debian_seen = std::collections::BTreeSet::new();
    let mut inventory = Inventory {
        packages: Vec::new(),
        distro: distro.clone(),
        skipped: Vec::new(),
    };
    let deb_ecosystem = distro
        .as_ref()
        .filter(|distro| distro.id == "debian" || distro.id == "ubuntu")
        .and_then(purl::distro_ecosystem);
    let apk_ecosystem = distro
        .as_ref()
        .filter(|distro| distro.id == "alpine")
        .and_then(purl::distro_ecosystem);
    for (path, tracked) in state {
        let location = format!("/{path}");
        let packages = &mut inventory.packages;
        match tracked.found {
            Found::OsRelease(_) => {}
            Found::Skipped(reason) => inventory.skipped.push(format!("{location}: {reason}")),
            Found::Deb((entries, problems)) => {
                inventory.skipped.extend(
                    problems
                        .iter()
                        .map(|problem| format!("{location}: {problem}")),
                );
                for entry in entries.into_iter().filter(DebEntry::installed) {
                    let purl = purl::deb(
                        &entry.package,
                        &entry.version,
                        &entry.architecture,
                        &entry.upstream(),
                        distro.as_ref(),
                    );
                    // A package in both `status` and `status.d` is one package; `status`, read
                    // first (paths are in order), names it.
                    if !debian_seen.insert(purl.clone()) {
                        continue;
                    }
                    packages.push(Installed {
                        kind: Kind::Deb,
                        purl,
                        name: entry.package,
                        version: entry.version,
                        osv_ecosystem: deb_ecosystem.clone(),
                        licenses: Vec::new(),
                        location: location.clone(),
                        main: false,
                    });
                }
            }
            Found::Apk((entries, problems)) => {
                inventory.skipped.extend(
                    problems
                        .iter()
                        .map(|problem| format!("{location}: {problem}")),
                );
                for entry in entries {
                    let upstream = if entry.origin == entry.name {
                        ""
                    } else {
                        entry.origin.as_str()
                    };
                    packages.push(Installed {
                        kind: Kind::Apk,
                        purl: purl::apk(
                            &entry.name,
                            &entry.version,
                            &entry.architecture,
                            upstream,
                            distro.as_ref(),
                        ),
                        licenses: if entry.license.is_empty() {
                            Vec::new()
                        } else {
                            vec![entry.license.clone()]
                        },
                        name: entry.name,
                        version: entry.version,
                        osv_ecosystem: apk_ecosystem.clone(),
                        location: location.clone(),
                        main: false,
                    });
                }
            }
            Found::Python(metadata) => {
                // An egg-info named Python is the interpreter's own (Python 2.7), not a package.
                if metadata.name != "Python" {
                    packages.push(Installed {
                        kind: Kind::Python,
                        purl: purl::pypi(&metadata.name, &metadata.version),
                        name: python::normalize(&metadata.name),
                        version: metadata.version,
                        osv_ecosystem: Some("PyPI".to_string()),
                        licenses: metadata.licenses,
                        location,
                        main: false,
                    });
                }
            }
            Found::Npm(manifest) => packages.push(Installed {
                kind: Kind::Npm,
                purl: purl::npm(&manifest.name, &manifest.version),
                name: manifest.name,
                version: manifest.version,
                osv_ecosystem: Some("npm".to_string()),
                licenses: manifest.licenses,
                location,
                main: false,
            }),
            Found::Go(info) => packages.extend(go_packages(info, &location)),
            Found::Rust(crates) => {
                for package in crates {
                    packages.push(Installed {
                        kind: Kind::Rust,
                        purl: purl::cargo(&package.name, &package.version),
                        osv_ecosystem: (package.source == crate::OSV_RUST)
                            .then(|| crate::OSV_RUST.to_string()),
                        name: package.name,
                        version: package.version,
                        licenses: Vec::new(),
                        location: location.clone(),
                        main: package.root,
                    });
                }
            }
        }
        if inventory.packages.len() > limits.max_packages {
            return Err(Error::TooManyPackages {
                path: location_of_last(&inventory),
                limit: limits.max_packages,
            });
        }
    }
    Ok(inventory)
}

fn location_of_last(inventory: &Inventory) -> String {
    inventory
        .packages
        .last()
        .map(|package| package.location.clone())
        .unwrap_or_default()
}

/// The modules a Go binary was built from: the main module when it has a real version, every
/// dependency with a version, and the standard library as `stdlib` at the toolchain's version.
pub(crate) fn go_packages(info: gobuild::BuildInfo, location: &str) -> Vec<Installed> {
    let module = |path: &str, version: &str, purl: String, main: bool| Installed {
        kind: Kind::Go,
        name: path.to_string(),
        version: version.to_string(),
        purl,
        osv_ecosystem: Some("Go".to_string()),
        licenses: Vec::new(),
        location: location.to_string(),
        main,
    };
    let mut packages = Vec::new();
    if let Some(main) = &info.main
        && !main.version.is_empty()
        && main.version != "(devel)"
        && main.path != "command-line-arguments"
    {
        packages.push(module(
            &main.path,
            &main.version,
            purl::golang(&main.path, &main.version),
            true,
        ));
    }
    for dependency in &info.deps {
        // A dependency replaced by a local directory has no version to report or match.
        if !dependency.version.is_empty() && dependency.version != "(devel)" {
            packages.push(module(
                &dependency.path,
                &dependency.version,
                purl::golang(&dependency.path, &dependency.version),
                false,
            ));
        }
    }
    if !info.go_version.is_empty() {
        let bare = info.go_version.trim_start_matches("go");
        packages.push(module(
            "stdlib",
            &info.go_version,
            purl::golang("stdlib", bare),
            false,
        ));
    }
    packages
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Hostile binaries: every single-byte change and every truncation of a Go and a
    /// cargo-auditable ELF file is read without a panic, within the limits.
    #[test]
    fn mangled_binaries_never_panic() {
        let go = crate::elf::tests::build(&[(
            ".go.buildinfo",
            &crate::gobuild::tests::payload(
                "go1.22.1",
                "mod\texample.com/m\tv1.0.0\t\ndep\tgithub.com/a/b\tv1.2.3\th1:x=\n",
            ),
        )]);
        let rust = crate::elf::tests::build(&[(
            ".dep-v0",
            &crate::auditable::tests::compress(
                &r#"{"packages":[{"name":"itoa","version":"1.0.11","source":"@RUST@"}]}"#
                    .replace("@RUST@", crate::OSV_RUST),
            ),
        )]);
        let limits = Limits {
            max_metadata_bytes: 4096,
            ..Limits::default()
        };
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for original in [go, rust] {
            assert!(matches!(
                inspect_binary(
                    &mut Cursor::new(original.clone()),
                    original.len() as u64,
                    &limits
                ),
                Ok(Some(_))
            ));
            for length in 0..original.len() {
                let truncated = &original[..length];
                let _ =
                    inspect_binary(&mut Cursor::new(truncated.to_vec()), length as u64, &limits);
            }
            for _ in 0..20_000 {
                // xorshift: deterministic, so a failure reproduces.
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let mut mangled = original.clone();
                let at = (seed % mangled.len() as u64) as usize;
                mangled[at] = (seed >> 32) as u8;
                let _ = inspect_binary(
                    &mut Cursor::new(mangled.clone()),
                    mangled.len() as u64,
                    &limits,
                );
            }
        }
    }

    /// The main module of a Go binary and the root crate of a Rust binary are marked `main`;
    /// their dependencies and the Go standard library are not.
    #[test]
    fn main_modules_and_root_crates_are_marked() {
        let go = crate::elf::tests::build(&[(
            ".go.buildinfo",
            &crate::gobuild::tests::payload(
                "go1.22.1",
                "mod\texample.com/m\tv1.0.0\t\ndep\tgithub.com/a/b\tv1.2.3\th1:x=\n",
            ),
        )]);
        let rust = crate::elf::tests::build(&[(
            ".dep-v0",
            &crate::auditable::tests::compress(
                &r#"{"packages":[{"name":"app","version":"0.1.0","source":"local","root":true},{"name":"itoa","version":"1.0.11","source":"@RUST@"}]}"#.replace("@RUST@", crate::OSV_RUST),
            ),
        )]);
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in [("usr/bin/go-app", &go), ("usr/bin/rust-app", &rust)] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o755);
            header.set_cksum();
            builder
                .append_data(&mut header, path, data.as_slice())
                .unwrap();
        }
        let layer = builder.into_inner().unwrap();
        let inventory = inspect_layers([Cursor::new(layer)], &Limits::default()).unwrap();
        let mut marked: Vec<(&str, bool)> = inventory
            .packages
            .iter()
            .map(|package| (package.name.as_str(), package.main))
            .collect();
        marked.sort();
        assert_eq!(
            marked,
            [
                ("app", true),
                ("example.com/m", true),
                ("github.com/a/b", false),
                ("itoa", false),
                ("stdlib", false),
            ]
        );
    }

    #[test]
    fn normalizes_paths() {
        assert_eq!(normalize("./var//lib/./dpkg/status"), "var/lib/dpkg/status");
        assert_eq!(normalize("/../../etc/os-release"), "etc/os-release");
        assert_eq!(normalize("a/b/../c/"), "a/c");
    }

    #[test]
    fn classifies_paths() {
        assert_eq!(classify("var/lib/dpkg/status"), Interest::DpkgStatus);
        assert_eq!(
            classify("var/lib/dpkg/status.d/libc6"),
            Interest::DpkgStatusFile
        );
        assert_eq!(
            classify("var/lib/dpkg/status.d/libc6.md5sums"),
            Interest::Other
        );
        assert_eq!(classify("lib/apk/db/installed"), Interest::Apk);
        assert_eq!(
            classify("usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA"),
            Interest::Python
        );
        assert_eq!(
            classify("usr/lib/python3/dist-packages/six-1.16.0.egg-info"),
            Interest::Python
        );
        assert_eq!(classify("x/foo.egg-info/PKG-INFO"), Interest::Python);
        assert_eq!(
            classify("app/node_modules/left-pad/package.json"),
            Interest::Npm
        );
        assert_eq!(
            classify("app/node_modules/@scope/name/package.json"),
            Interest::Npm
        );
        assert_eq!(classify("app/package.json"), Interest::Other);
        assert_eq!(
            classify("app/node_modules/left-pad/test/package.json"),
            Interest::Other
        );
        assert_eq!(
            classify("app/node_modules/@scope/package.json"),
            Interest::Other
        );
    }
}
