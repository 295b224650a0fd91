//! The platforms packages are collected for: npm's `os`, `cpu` and `libc` fields.

use super::*;

/// The platforms that will install, by npm's names; an empty list means
/// every value. A package whose `os`, `cpu` or `libc` field excludes every
/// target is left out: npm refuses to install it there (EBADPLATFORM).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Targets {
    /// Operating systems (`process.platform`).
    pub os: Vec<String>,
    /// CPUs (`process.arch`).
    pub cpu: Vec<String>,
    /// C libraries, on Linux.
    pub libc: Vec<String>,
}

/// npm's operating system names.
pub(super) const OS_NAMES: &[&str] = &[
    "aix", "android", "cygwin", "darwin", "freebsd", "linux", "netbsd", "openbsd", "sunos", "win32",
];
/// npm's CPU names.
pub(super) const CPU_NAMES: &[&str] = &[
    "arm", "arm64", "ia32", "loong64", "mips", "mipsel", "ppc", "ppc64", "riscv64", "s390",
    "s390x", "x64",
];
/// npm's C library names.
pub(super) const LIBC_NAMES: &[&str] = &["glibc", "musl"];

impl Targets {
    /// Whether every platform is carried.
    pub fn all(&self) -> bool {
        self.os.is_empty() && self.cpu.is_empty() && self.libc.is_empty()
    }

    /// `None` when `manifest` installs on some target; otherwise why not
    /// (`os ["win32"]`).
    pub fn excludes(&self, manifest: &Value) -> Option<String> {
        // One field as npm-install-checks reads it: a list (or a single
        // string) of names, `!name` excluding one.
        fn allows(field: Option<&Value>, value: &str) -> bool {
            let items: Vec<&str> = match field {
                Some(Value::String(one)) => vec![one.as_str()],
                Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
                _ => return true,
            };
            if items.iter().any(|i| i.strip_prefix('!') == Some(value)) {
                return false;
            }
            let positive: Vec<&&str> = items.iter().filter(|i| !i.starts_with('!')).collect();
            positive.is_empty() || positive.iter().any(|i| **i == value)
        }
        let check = |key: &str, targets: &[String]| {
            let field = manifest.get(key);
            if targets.is_empty() || targets.iter().any(|t| allows(field, t)) {
                None
            } else {
                Some(format!(
                    "{key} {}",
                    field.map(Value::to_string).unwrap_or_default()
                ))
            }
        };
        let linux = self.os.is_empty() || self.os.iter().any(|o| o == "linux");
        check("os", &self.os)
            .or_else(|| check("cpu", &self.cpu))
            .or_else(|| {
                if linux {
                    check("libc", &self.libc)
                } else {
                    None
                }
            })
    }
}
