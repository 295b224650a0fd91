//! Lockfiles: `requirements.txt` with `--hash` (as pip-compile writes it),
//! PEP 751 `pylock.toml`, and `uv.lock`. Each becomes a list of pins: an
//! exact version, the files (by name or by hash) it may use, and a marker.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use airlift_core::Digest;
use serde::Deserialize;

use crate::requirement::{Marker, Requirement, normalize, parse_marker};
use crate::version::Version;

/// A lockfile that cannot be used; names the file and line or package.
#[derive(Debug, thiserror::Error)]
#[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct LockError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// One locked release.
#[derive(Clone, Debug)]
pub struct Pin {
    /// Normalized project name.
    pub project: String,
    /// The exact version.
    pub version: String,
    /// Allowed SHA-256 digests (empty: the lockfile gives none).
    pub hashes: BTreeSet<Digest>,
    /// Filenames the lockfile lists (empty: any file of the version).
    pub files: Vec<(String, Option<Digest>)>,
    /// Only for environments where this holds.
    pub marker: Option<Marker>,
    /// `file:line` or `file (package name)`, for messages.
    pub origin: String,
}

/// Reads a lockfile, choosing the format by its name.
pub fn read(path: &Path) -> Result<Vec<Pin>, LockError> {
    let text = std::fs::read_to_string(path).map_err(|e| LockError {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &text)
}

/// Parses the text of a lockfile, choosing the format by the file name in
/// `path` (`uv.lock`, `pylock.*.toml`, else `requirements.txt`). `path`
/// names the file in messages, and `-r` includes of a `requirements.txt`
/// are read relative to its directory.
///
/// This is the parsing entry point behind [`read`], public so that it can be
/// fuzzed without a file.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Pin>, LockError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name == "uv.lock" {
        uv_lock(path, text)
    } else if name.starts_with("pylock.") && name.ends_with(".toml") {
        pylock(path, text)
    } else {
        requirements(path, text, 0)
    }
}

fn error(path: &Path, line: Option<usize>, message: impl Into<String>) -> LockError {
    LockError {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

fn parse_hash(text: &str) -> Option<Digest> {
    Digest::from_hex(
        text.strip_prefix("sha256:")
            .or_else(|| text.strip_prefix("sha256="))?,
    )
    .ok()
}

/// `requirements.txt`: `name==version [; marker] --hash=sha256:…`, with
/// continuation lines, comments, `-r` includes and pip options.
fn requirements(path: &Path, text: &str, depth: usize) -> Result<Vec<Pin>, LockError> {
    if depth > 8 {
        return Err(error(path, None, "-r includes nest deeper than 8"));
    }
    let mut pins = Vec::new();
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
        if let Some(body) = raw.strip_suffix('\\') {
            acc.push_str(body);
            acc.push(' ');
            pending = Some((start, acc));
        } else {
            acc.push_str(raw);
            logical.push((start, acc));
        }
    }
    if let Some(p) = pending {
        logical.push(p);
    }
    for (line, content) in logical {
        // A comment starts at `#` at the line's start or after whitespace.
        let mut cut = content.len();
        for (i, _) in content.match_indices('#') {
            if i == 0 || content[..i].ends_with(char::is_whitespace) {
                cut = i;
                break;
            }
        }
        let content = content[..cut].trim();
        if content.is_empty() {
            continue;
        }
        let mut words = content.split_whitespace().peekable();
        let first = words.peek().copied().unwrap_or("");
        if first.starts_with('-') {
            let option = first.split('=').next().unwrap_or(first);
            match option {
                "-r" | "--requirement" => {
                    let target = content
                        .split_once(['=', ' '])
                        .map(|(_, rest)| rest.trim())
                        .unwrap_or("");
                    let included = path.parent().unwrap_or(Path::new(".")).join(target);
                    let text = std::fs::read_to_string(&included).map_err(|e| {
                        error(
                            path,
                            Some(line),
                            format!("cannot read {}: {e}", included.display()),
                        )
                    })?;
                    pins.extend(requirements(&included, &text, depth + 1)?);
                }
                "-e" | "--editable" => {
                    return Err(error(
                        path,
                        Some(line),
                        "an editable requirement is a local project; a mirror cannot carry it",
                    ));
                }
                // Index and build options belong to the installing side.
                _ => {}
            }
            continue;
        }
        let mut requirement_text = String::new();
        let mut hashes = BTreeSet::new();
        for word in content.split_whitespace() {
            if let Some(value) = word
                .strip_prefix("--hash=")
                .or_else(|| word.strip_prefix("--hash:"))
            {
                if let Some(digest) = parse_hash(value) {
                    hashes.insert(digest);
                } else if value.starts_with("sha256") {
                    return Err(error(path, Some(line), format!("malformed hash {value:?}")));
                }
                // Other algorithms are not checked here; sha256 is required below.
            } else if word.starts_with("--") {
                // Per-requirement options such as --config-settings.
            } else {
                requirement_text.push_str(word);
                requirement_text.push(' ');
            }
        }
        if content.contains("--hash") && hashes.is_empty() {
            return Err(error(
                path,
                Some(line),
                "only sha256 hashes are supported; regenerate with sha256",
            ));
        }
        let requirement =
            Requirement::parse(requirement_text.trim()).map_err(|e| error(path, Some(line), e))?;
        if requirement.url.is_some() {
            return Err(error(
                path,
                Some(line),
                format!(
                    "{}: a direct URL cannot be mirrored from an index",
                    requirement.name
                ),
            ));
        }
        let pinned = requirement
            .specifiers
            .0
            .iter()
            .find(|s| {
                matches!(
                    s.op(),
                    crate::version::Op::Equal | crate::version::Op::Arbitrary
                )
            })
            .filter(|_| requirement.specifiers.0.len() == 1)
            .map(|s| s.to_string());
        let Some(pinned) = pinned.filter(|p| !p.ends_with(".*")) else {
            return Err(error(
                path,
                Some(line),
                format!(
                    "{} is not pinned with ==; a lockfile must pin exact versions (put ranges in packages)",
                    requirement.name
                ),
            ));
        };
        let version = pinned.trim_start_matches('=').to_owned();
        pins.push(Pin {
            project: requirement.key(),
            version,
            hashes,
            files: Vec::new(),
            marker: requirement.marker.clone(),
            origin: format!("{}:{line}", path.display()),
        });
    }
    Ok(pins)
}

#[derive(Deserialize)]
struct Pylock {
    #[serde(rename = "lock-version")]
    lock_version: Option<String>,
    #[serde(default)]
    packages: Vec<PylockPackage>,
}

#[derive(Deserialize)]
struct PylockPackage {
    name: String,
    version: Option<String>,
    marker: Option<String>,
    sdist: Option<PylockFile>,
    #[serde(default)]
    wheels: Vec<PylockFile>,
}

#[derive(Deserialize)]
struct PylockFile {
    name: Option<String>,
    url: Option<String>,
    path: Option<String>,
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
}

fn file_name(name: Option<&str>, url: Option<&str>) -> Option<String> {
    if let Some(name) = name {
        return Some(name.to_owned());
    }
    let url = url?;
    let path = url.split(['?', '#']).next()?;
    let last = path.rsplit('/').next()?;
    Some(
        percent_encoding::percent_decode_str(last)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// PEP 751 `pylock.toml`.
fn pylock(path: &Path, text: &str) -> Result<Vec<Pin>, LockError> {
    let lock: Pylock =
        toml::from_str(text).map_err(|e| error(path, None, e.message().trim().to_owned()))?;
    match lock.lock_version.as_deref() {
        Some(v) if v.starts_with("1.") || v == "1" => {}
        other => {
            return Err(error(
                path,
                None,
                format!("lock-version {other:?} is not supported (expected 1.x)"),
            ));
        }
    }
    let mut pins = Vec::new();
    for package in lock.packages {
        if !crate::requirement::valid_name(&package.name) {
            return Err(error(
                path,
                None,
                format!("{:?} is not a project name", package.name),
            ));
        }
        let origin = format!("{} (package {})", path.display(), package.name);
        let files: Vec<&PylockFile> = package.sdist.iter().chain(package.wheels.iter()).collect();
        if files.is_empty() {
            // A directory, VCS or archive source: the project itself, not an index package.
            continue;
        }
        let Some(version) = package.version.clone() else {
            return Err(error(
                path,
                None,
                format!("package {}: no version", package.name),
            ));
        };
        let mut pin_files = Vec::new();
        let mut hashes = BTreeSet::new();
        for file in files {
            if file.path.is_some() && file.url.is_none() {
                return Err(error(
                    path,
                    None,
                    format!(
                        "package {}: a local file path cannot be mirrored",
                        package.name
                    ),
                ));
            }
            let name = file_name(file.name.as_deref(), file.url.as_deref()).ok_or_else(|| {
                error(
                    path,
                    None,
                    format!("package {}: a file without name or url", package.name),
                )
            })?;
            let digest = match file.hashes.get("sha256") {
                Some(hex) => Some(Digest::from_hex(hex).map_err(|_| {
                    error(
                        path,
                        None,
                        format!("package {}: {name}: malformed sha256", package.name),
                    )
                })?),
                None => None,
            };
            if let Some(digest) = digest {
                hashes.insert(digest);
            }
            pin_files.push((name, digest));
        }
        let marker = match &package.marker {
            Some(text) => Some(
                parse_marker(text)
                    .map_err(|e| error(path, None, format!("package {}: {e}", package.name)))?,
            ),
            None => None,
        };
        pins.push(Pin {
            project: normalize(&package.name),
            version,
            hashes,
            files: pin_files,
            marker,
            origin,
        });
    }
    Ok(pins)
}

#[derive(Deserialize)]
struct UvLock {
    version: Option<u32>,
    #[serde(default)]
    package: Vec<UvPackage>,
}

#[derive(Deserialize)]
struct UvPackage {
    name: String,
    version: Option<String>,
    #[serde(default)]
    source: toml::Table,
    sdist: Option<UvFile>,
    #[serde(default)]
    wheels: Vec<UvFile>,
}

#[derive(Deserialize)]
struct UvFile {
    url: Option<String>,
    path: Option<String>,
    hash: Option<String>,
}

/// `uv.lock`: registry packages only (the workspace's own projects are skipped).
fn uv_lock(path: &Path, text: &str) -> Result<Vec<Pin>, LockError> {
    let lock: UvLock =
        toml::from_str(text).map_err(|e| error(path, None, e.message().trim().to_owned()))?;
    if lock.version != Some(1) {
        return Err(error(
            path,
            None,
            format!(
                "uv.lock version {:?} is not supported (expected 1)",
                lock.version
            ),
        ));
    }
    let mut pins = Vec::new();
    for package in lock.package {
        if !package.source.contains_key("registry") {
            continue;
        }
        if !crate::requirement::valid_name(&package.name) {
            return Err(error(
                path,
                None,
                format!("{:?} is not a project name", package.name),
            ));
        }
        let origin = format!("{} (package {})", path.display(), package.name);
        let Some(version) = package.version.clone() else {
            return Err(error(
                path,
                None,
                format!("package {}: no version", package.name),
            ));
        };
        let mut files = Vec::new();
        let mut hashes = BTreeSet::new();
        for file in package.sdist.iter().chain(package.wheels.iter()) {
            let location = file.url.as_deref().or(file.path.as_deref());
            let name = file_name(None, location).ok_or_else(|| {
                error(
                    path,
                    None,
                    format!("package {}: a file without url", package.name),
                )
            })?;
            let digest = match &file.hash {
                Some(h) => Some(parse_hash(h).ok_or_else(|| {
                    error(
                        path,
                        None,
                        format!(
                            "package {}: {name}: hash {h:?} is not sha256:<hex>",
                            package.name
                        ),
                    )
                })?),
                None => None,
            };
            if let Some(digest) = digest {
                hashes.insert(digest);
            }
            files.push((name, digest));
        }
        pins.push(Pin {
            project: normalize(&package.name),
            version,
            hashes,
            files,
            marker: None,
            origin,
        });
    }
    Ok(pins)
}

/// Whether `pin` names a valid version.
pub fn check_version(pin: &Pin) -> Result<Version, String> {
    Version::parse(&pin.version).ok_or_else(|| {
        format!(
            "{}: {} {:?} is not a PEP 440 version",
            pin.origin, pin.project, pin.version
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const H2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn requirements_txt_with_hashes() {
        let text = format!(
            "# pip-compile output\n--index-url https://pypi.example.com/simple\nflask==3.0.0 \\\n    --hash=sha256:{H1} \\\n    --hash=sha256:{H2}\n    # via -r requirements.in\nColorama==0.4.6 ; sys_platform == \"win32\" --hash=sha256:{H1}\n"
        );
        let pins = requirements(Path::new("r.txt"), &text, 0).expect("parses");
        assert_eq!(pins.len(), 2);
        assert_eq!(pins[0].project, "flask");
        assert_eq!(pins[0].version, "3.0.0");
        assert_eq!(pins[0].hashes.len(), 2);
        assert_eq!(pins[0].origin, "r.txt:3");
        assert!(pins[1].marker.is_some());
        let error = requirements(Path::new("r.txt"), "flask>=3\n", 0).expect_err("unpinned");
        assert!(
            error.to_string().contains("r.txt:1: flask is not pinned"),
            "{error}"
        );
        assert!(requirements(Path::new("r.txt"), "-e .\n", 0).is_err());
        assert!(requirements(Path::new("r.txt"), "a==1 --hash=md5:00\n", 0).is_err());
    }

    #[test]
    fn pylock_and_uv_lock() {
        let pylock_text = format!(
            "lock-version = \"1.0\"\ncreated-by = \"x\"\n[[packages]]\nname = \"Idna\"\nversion = \"3.7\"\nmarker = \"python_version >= '3.8'\"\n[[packages.wheels]]\nurl = \"https://files.example.com/idna-3.7-py3-none-any.whl\"\nhashes = {{sha256 = \"{H1}\"}}\n[packages.sdist]\nname = \"idna-3.7.tar.gz\"\nurl = \"https://files.example.com/x\"\nhashes = {{sha256 = \"{H2}\"}}\n[[packages]]\nname = \"me\"\ndirectory = {{ path = \".\" }}\n"
        );
        let pins = pylock(Path::new("pylock.toml"), &pylock_text).expect("parses");
        assert_eq!(pins.len(), 1);
        assert_eq!(pins[0].project, "idna");
        assert_eq!(pins[0].files.len(), 2);
        assert!(
            pins[0]
                .files
                .iter()
                .any(|(n, _)| n == "idna-3.7-py3-none-any.whl")
        );
        assert!(pylock(Path::new("pylock.toml"), "lock-version = \"2.0\"\n").is_err());

        let uv_text = format!(
            "version = 1\nrequires-python = \">=3.11\"\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = {{ editable = \".\" }}\n[[package]]\nname = \"six\"\nversion = \"1.16.0\"\nsource = {{ registry = \"https://pypi.example.com/simple\" }}\nsdist = {{ url = \"https://files.example.com/six-1.16.0.tar.gz\", hash = \"sha256:{H1}\", size = 3 }}\nwheels = [{{ url = \"https://files.example.com/six-1.16.0-py2.py3-none-any.whl\", hash = \"sha256:{H2}\", size = 4 }}]\n"
        );
        let pins = uv_lock(Path::new("uv.lock"), &uv_text).expect("parses");
        assert_eq!(pins.len(), 1);
        assert_eq!(pins[0].files.len(), 2);
        assert_eq!(pins[0].hashes.len(), 2);
        assert!(uv_lock(Path::new("uv.lock"), "version = 9\n").is_err());
    }
}
