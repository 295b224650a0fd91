//! Distribution filenames, wheel tags and the targets files are chosen for.

use crate::requirement::{Environment, normalize};
use crate::version::Version;

/// What a distribution filename says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filename {
    /// The normalized project name.
    pub project: String,
    /// The version text.
    pub version: String,
    /// Wheel tag triples, expanded; empty for an sdist.
    pub tags: Vec<(String, String, String)>,
}

impl Filename {
    /// True for a wheel.
    pub fn is_wheel(&self) -> bool {
        !self.tags.is_empty()
    }
}

/// Parses a wheel or sdist filename of `project` (normalized).
pub fn parse_filename(filename: &str, project: &str) -> Option<Filename> {
    if let Some(stem) = filename.strip_suffix(".whl") {
        let parts: Vec<&str> = stem.split('-').collect();
        if !(parts.len() == 5 || parts.len() == 6) {
            return None;
        }
        if normalize(parts[0]) != project {
            return None;
        }
        let n = parts.len();
        let mut tags = Vec::new();
        for py in parts[n - 3].split('.') {
            for abi in parts[n - 2].split('.') {
                for plat in parts[n - 1].split('.') {
                    tags.push((py.to_owned(), abi.to_owned(), plat.to_owned()));
                }
            }
        }
        return Some(Filename {
            project: project.to_owned(),
            version: parts[1].to_owned(),
            tags,
        });
    }
    // Only the sdist formats whose metadata airlift can read.
    let stem = [".tar.gz", ".zip", ".tgz"]
        .iter()
        .find_map(|ext| filename.strip_suffix(ext))?;
    // The name may itself contain dashes: find the split whose prefix normalizes to the project.
    for (i, _) in stem.match_indices('-') {
        if normalize(&stem[..i]) == project {
            let version = &stem[i + 1..];
            Version::parse(version)?;
            return Some(Filename {
                project: project.to_owned(),
                version: version.to_owned(),
                tags: Vec::new(),
            });
        }
    }
    None
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Platform {
    family: String,
    version: (u32, u32),
    arch: String,
}

fn parse_platform(tag: &str) -> Option<Platform> {
    let legacy = [
        ("manylinux1_", (2, 5)),
        ("manylinux2010_", (2, 12)),
        ("manylinux2014_", (2, 17)),
    ];
    for (prefix, version) in legacy {
        if let Some(arch) = tag.strip_prefix(prefix) {
            return Some(Platform {
                family: "manylinux".into(),
                version,
                arch: arch.into(),
            });
        }
    }
    for family in ["manylinux", "musllinux", "macosx"] {
        if let Some(rest) = tag.strip_prefix(family).and_then(|r| r.strip_prefix('_')) {
            let mut parts = rest.splitn(3, '_');
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next()?.parse().ok()?;
            let arch = parts.next()?;
            return Some(Platform {
                family: family.into(),
                version: (major, minor),
                arch: arch.into(),
            });
        }
    }
    None
}

/// One target: an interpreter version on one operating system and machine,
/// with the platform tags declared for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `3.11`.
    pub python: Version,
    /// Declared platform tags of this OS and machine (`any` is always accepted).
    pub platforms: Vec<String>,
    /// The marker environment.
    pub env: Environment,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "python {} on {}/{}",
            self.env.python_version, self.env.sys_platform, self.env.platform_machine
        )
    }
}

/// The operating system and machine a platform tag implies.
fn os_machine(tag: &str) -> Option<(&'static str, String)> {
    if let Some(p) = parse_platform(tag) {
        let os = if p.family == "macosx" {
            "darwin"
        } else {
            "linux"
        };
        return Some((os, p.arch));
    }
    if let Some(arch) = tag.strip_prefix("linux_") {
        return Some(("linux", arch.to_owned()));
    }
    match tag {
        "win_amd64" => Some(("win32", "AMD64".into())),
        "win32" => Some(("win32", "x86".into())),
        "win_arm64" => Some(("win32", "ARM64".into())),
        _ => None,
    }
}

/// Builds the targets: every Python version × every (OS, machine) the
/// platform tags name; with only `any`, Linux on x86_64.
pub fn targets(pythons: &[String], platforms: &[String]) -> Result<Vec<Target>, String> {
    let mut groups: Vec<((&'static str, String), Vec<String>)> = Vec::new();
    for tag in platforms {
        if tag == "any" {
            continue;
        }
        let key = os_machine(tag).ok_or_else(|| {
            format!(
                "platform {tag:?} is not a wheel platform tag (manylinux_2_28_x86_64, musllinux_1_2_aarch64, macosx_11_0_arm64, win_amd64, any)"
            )
        })?;
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, tags)) => tags.push(tag.clone()),
            None => groups.push((key, vec![tag.clone()])),
        }
    }
    if groups.is_empty() {
        groups.push((("linux", "x86_64".into()), Vec::new()));
    }
    let mut out = Vec::new();
    for python in pythons {
        let version = Version::parse(python)
            .filter(|v| v.major_minor().0 == 3)
            .ok_or_else(|| {
                format!("python {python:?} is not a Python 3 version such as \"3.12\"")
            })?;
        let (major, minor) = version.major_minor();
        let full = if python.matches('.').count() >= 2 {
            python.clone()
        } else {
            format!("{major}.{minor}.0")
        };
        for ((os, machine), tags) in &groups {
            let (system, os_name) = match *os {
                "darwin" => ("Darwin", "posix"),
                "win32" => ("Windows", "nt"),
                _ => ("Linux", "posix"),
            };
            out.push(Target {
                python: version.clone(),
                platforms: tags.clone(),
                env: Environment {
                    python_version: format!("{major}.{minor}"),
                    python_full_version: full.clone(),
                    sys_platform: (*os).to_owned(),
                    platform_system: system.into(),
                    platform_machine: machine.clone(),
                    os_name: os_name.into(),
                },
            });
        }
    }
    Ok(out)
}

impl Target {
    /// Whether a wheel with these tags installs on this target.
    pub fn accepts_wheel(&self, tags: &[(String, String, String)]) -> bool {
        tags.iter()
            .any(|(py, abi, plat)| self.accepts_interpreter(py, abi) && self.accepts_platform(plat))
    }

    fn accepts_interpreter(&self, py: &str, abi: &str) -> bool {
        let (_, minor) = self.python.major_minor();
        let cp = format!("cp3{minor}");
        let py_minor = |tag: &str, prefix: &str| -> Option<u64> {
            let rest = tag.strip_prefix(prefix)?;
            if rest.is_empty() {
                return None;
            }
            rest.parse().ok()
        };
        match abi {
            "none" => py == "py3" || py == cp || py_minor(py, "py3").is_some_and(|m| m <= minor),
            "abi3" => py_minor(py, "cp3").is_some_and(|m| m <= minor),
            _ => py == cp && (abi == cp || abi == format!("{cp}m")),
        }
    }

    fn accepts_platform(&self, plat: &str) -> bool {
        if plat == "any" {
            return true;
        }
        // A plain `linux_<arch>` wheel installs on any Linux of that machine.
        if let Some(arch) = plat.strip_prefix("linux_")
            && self.env.sys_platform == "linux"
            && self
                .platforms
                .iter()
                .any(|d| os_machine(d).is_some_and(|(os, a)| os == "linux" && a == arch))
        {
            return true;
        }
        let wheel = parse_platform(plat);
        self.platforms.iter().any(|declared| {
            if declared == plat {
                return true;
            }
            match (&wheel, parse_platform(declared)) {
                (Some(w), Some(d)) if w.family == d.family => {
                    let arch_ok = w.arch == d.arch
                        || (w.family == "macosx"
                            && (w.arch == "universal2"
                                || (w.arch == "intel" && d.arch == "x86_64")));
                    arch_ok && w.version <= d.version
                }
                _ => false,
            }
        })
    }

    /// Whether `requires_python` admits this target's interpreter.
    pub fn accepts_python(&self, requires_python: Option<&str>) -> bool {
        let Some(text) = requires_python.filter(|t| !t.trim().is_empty()) else {
            return true;
        };
        match crate::version::Specifiers::parse(text) {
            Ok(spec) => {
                let full = Version::parse(&self.env.python_full_version)
                    .unwrap_or_else(|| self.python.clone());
                spec.contains(&full)
            }
            // An unparseable Requires-Python is ignored, as pip does.
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(filename: &str, project: &str) -> Vec<(String, String, String)> {
        parse_filename(filename, project).expect("parses").tags
    }

    #[test]
    fn filenames_parse() {
        let f = parse_filename(
            "zope.interface-6.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "zope-interface",
        )
        .expect("wheel");
        assert_eq!(f.version, "6.0");
        assert_eq!(f.tags.len(), 2);
        let s = parse_filename("my-pkg-name-1.2.3.tar.gz", "my-pkg-name").expect("sdist");
        assert_eq!(s.version, "1.2.3");
        assert!(!s.is_wheel());
        assert!(parse_filename("other-1.0-py3-none-any.whl", "mine").is_none());
        assert!(parse_filename("mine-1.0.exe", "mine").is_none());
    }

    #[test]
    fn wheels_match_targets() {
        let targets = targets(
            &["3.11".into(), "3.12".into()],
            &["manylinux_2_28_x86_64".into(), "any".into()],
        )
        .expect("targets");
        assert_eq!(targets.len(), 2);
        let t311 = &targets[0];
        assert!(t311.accepts_wheel(&tags("a-1-py3-none-any.whl", "a")));
        assert!(t311.accepts_wheel(&tags("a-1-py2.py3-none-any.whl", "a")));
        assert!(t311.accepts_wheel(&tags(
            "a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "a"
        )));
        assert!(t311.accepts_wheel(&tags("a-1-cp38-abi3-manylinux_2_28_x86_64.whl", "a")));
        assert!(!t311.accepts_wheel(&tags("a-1-cp312-cp312-manylinux_2_17_x86_64.whl", "a")));
        assert!(!t311.accepts_wheel(&tags("a-1-cp311-cp311-manylinux_2_34_x86_64.whl", "a")));
        assert!(!t311.accepts_wheel(&tags("a-1-cp311-cp311-manylinux_2_17_aarch64.whl", "a")));
        assert!(!t311.accepts_wheel(&tags("a-1-cp311-cp311-win_amd64.whl", "a")));
        assert!(!t311.accepts_wheel(&tags("a-1-pp310-pypy310_pp73-any.whl", "a")));
        assert!(t311.accepts_python(Some(">=3.8")));
        assert!(!t311.accepts_python(Some(">=3.12")));
        assert!(targets[1].accepts_python(Some(">=3.12")));
        assert!(t311.accepts_wheel(&tags("a-1-cp311-cp311-linux_x86_64.whl", "a")));
        assert!(!t311.accepts_wheel(&tags("a-1-cp311-cp311-linux_aarch64.whl", "a")));
        assert!(parse_filename("a-1.0.tar.bz2", "a").is_none());
        assert!(super::targets(&["3.11".into()], &["solaris".into()]).is_err());
        let mac = super::targets(&["3.12".into()], &["macosx_11_0_arm64".into()]).expect("mac");
        assert_eq!(mac[0].env.sys_platform, "darwin");
        assert!(mac[0].accepts_wheel(&tags("a-1-cp312-cp312-macosx_10_9_universal2.whl", "a")));
    }
}
