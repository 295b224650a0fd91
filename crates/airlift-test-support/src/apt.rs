//! A fake Debian archive: a signed `InRelease`, a `Packages` index and the
//! `.deb` files it lists, as routes for the scripted upstream.

use std::collections::HashMap;

use crate::upstream::Behaviour;
use crate::{noise, sha256_hex};

/// A fake archive, ready for [`Upstream::start`](crate::upstream::Upstream::start).
pub struct Archive {
    /// Its routes for [`Upstream`](crate::upstream::Upstream), under `deb/`.
    pub routes: HashMap<String, Behaviour>,
    /// The `.deb` files by their path in the archive (`pool/…`).
    pub debs: HashMap<String, Vec<u8>>,
}

/// A signed upstream archive: a `Release` for `dists/test` (codename
/// `test`, suite `stable`) with one `Packages` for `main` and `amd64`, signed
/// with `key` after `tamper` edits the `Release` text. Its packages: `app`
/// (pre-depends on `base`, depends on `lib (>= 2) | other-lib` and the
/// virtual `mail-transport-agent`), `lib` 1.0 and 2.0, `base` with an epoch
/// and a tilde, `postfix-mock` (provides the virtual package) and
/// `unrelated`.
pub fn archive(key: &airlift_pgp::SigningKey, tamper: impl Fn(&mut String)) -> Archive {
    let specs = [
        (
            "app",
            "1.0",
            "amd64",
            "Pre-Depends: base\nDepends: lib (>= 2) | other-lib, mail-transport-agent",
        ),
        ("lib", "1.0", "amd64", ""),
        ("lib", "2.0", "amd64", ""),
        ("base", "1:0.9~rc1", "all", ""),
        (
            "postfix-mock",
            "3.0",
            "amd64",
            "Provides: mail-transport-agent",
        ),
        ("unrelated", "1.0", "amd64", ""),
    ];
    let mut packages = String::new();
    let mut routes = HashMap::new();
    let mut debs = HashMap::new();
    for (i, (name, version, arch, extra)) in specs.iter().enumerate() {
        let data = noise(i as u64 + 40, 2_000 + i * 100);
        let file = format!(
            "pool/main/{}/{name}/{name}_{}_{arch}.deb",
            &name[..1],
            version.split_once(':').map_or(*version, |(_, v)| v)
        );
        packages.push_str(&format!(
            "Package: {name}\nVersion: {version}\nArchitecture: {arch}\n{extra}{}Filename: {file}\nSize: {}\nMD5sum: 00\nSHA256: {}\nDescription: mock {name}\n with a second line\n .\n\tand a tab\n\n",
            if extra.is_empty() { "" } else { "\n" },
            data.len(),
            sha256_hex(&data)
        ));
        routes.insert(format!("deb/{file}"), Behaviour::Serve(data.clone()));
        debs.insert(file, data);
    }
    let mut release = format!(
        "Origin: Mock\nLabel: Mock\nSuite: stable\nCodename: test\nDate: Sat, 01 Jan 2026 00:00:00 UTC\nArchitectures: amd64\nComponents: main\nSHA256:\n {} {} main/binary-amd64/Packages\n",
        sha256_hex(packages.as_bytes()),
        packages.len()
    );
    tamper(&mut release);
    let signed = key.sign_cleartext(&release, 1_767_225_600);
    routes.insert(
        "deb/dists/test/InRelease".into(),
        Behaviour::Serve(signed.into_bytes()),
    );
    routes.insert(
        "deb/dists/test/main/binary-amd64/Packages".into(),
        Behaviour::Serve(packages.into_bytes()),
    );
    Archive { routes, debs }
}
