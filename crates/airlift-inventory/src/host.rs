//! Host inventories: a file a host produced, its format told from its content — a dpkg status
//! file, an apk database, `pip inspect` JSON, `pip freeze` output (or a `requirements.txt`
//! pinned with `==`), `npm ls --json --all`, a `package-lock.json`, a `Cargo.lock`, a `go.mod`,
//! or a CycloneDX JSON SBOM.
//!
//! Boundary: reads the bytes given, bounded by [`Limits`] (size, nesting, package count); the
//! distribution of a dpkg status file is unknown here, so its packages get a `debian` purl
//! namespace and no OSV ecosystem.

use std::collections::BTreeSet;

use crate::{Error, Installed, Inventory, Kind, Limits, control, npm, purl, python};

/// Host inventories: a file a host produced. Detects the format from content: dpkg status file,
/// `pip inspect` JSON, `pip freeze` output, `npm ls --json --all`, Cargo.lock, a CycloneDX JSON SBOM.
pub fn read_inventory(bytes: &[u8], path_for_errors: &str) -> Result<Inventory, Error> {
    read_inventory_with(bytes, path_for_errors, &Limits::default())
}

/// [`read_inventory`] with explicit bounds: `max_status_bytes` for the file, `max_depth` for
/// nested JSON, `max_packages` for what it lists.
pub fn read_inventory_with(
    bytes: &[u8],
    path_for_errors: &str,
    limits: &Limits,
) -> Result<Inventory, Error> {
    let path = path_for_errors.to_string();
    if bytes.len() as u64 > limits.max_status_bytes {
        return Err(Error::TooLarge {
            path,
            size: bytes.len() as u64,
            limit: limits.max_status_bytes,
        });
    }
    let malformed = |reason: String| Error::Malformed {
        path: path_for_errors.to_string(),
        reason,
    };
    let text =
        std::str::from_utf8(bytes).map_err(|error| malformed(format!("not UTF-8: {error}")))?;
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let inventory = if trimmed.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(trimmed)
            .map_err(|error| malformed(format!("not JSON: {error}")))?;
        if value.get("bomFormat").and_then(|format| format.as_str()) == Some("CycloneDX") {
            cyclonedx(&value, path_for_errors, limits)
        } else if value
            .get("packages")
            .is_some_and(|packages| packages.is_object())
            && value.get("lockfileVersion").is_some()
        {
            package_lock(&value, path_for_errors, limits).map_err(malformed)?
        } else if value
            .get("installed")
            .is_some_and(|installed| installed.is_array())
        {
            pip_inspect(&value, path_for_errors).map_err(malformed)?
        } else if value
            .get("dependencies")
            .is_some_and(|dependencies| dependencies.is_object())
            || value.get("name").is_some()
        {
            npm_ls(&value, path_for_errors, limits).map_err(malformed)?
        } else {
            return Err(Error::UnknownFormat { path });
        }
    } else if text.lines().any(|line| line.trim() == "[[package]]") {
        cargo_lock(text, path_for_errors).map_err(malformed)?
    } else if trimmed.starts_with("Package:") {
        dpkg_status(bytes, path_for_errors).map_err(malformed)?
    } else if trimmed.starts_with('<') && text.contains("<project") {
        pom(text, path_for_errors, limits)
    } else if trimmed.starts_with("C:") || trimmed.starts_with("P:") {
        apk_installed(bytes, path_for_errors).map_err(malformed)?
    } else if text
        .lines()
        .any(|line| line.trim_start().starts_with("module "))
        && text
            .lines()
            .any(|line| line.trim_start().starts_with("require"))
    {
        go_mod(text, path_for_errors)
    } else if looks_like_freeze(text) {
        pip_freeze(text, path_for_errors)
    } else {
        return Err(Error::UnknownFormat { path });
    };
    if inventory.packages.len() > limits.max_packages {
        return Err(Error::TooManyPackages {
            path,
            limit: limits.max_packages,
        });
    }
    Ok(inventory)
}

fn installed(
    kind: Kind,
    name: &str,
    version: &str,
    purl: String,
    osv: Option<&str>,
    licenses: Vec<String>,
    location: &str,
) -> Installed {
    Installed {
        kind,
        name: name.to_string(),
        version: version.to_string(),
        purl,
        osv_ecosystem: osv.map(str::to_string),
        licenses,
        location: location.to_string(),
        main: false,
    }
}

fn dpkg_status(bytes: &[u8], path: &str) -> Result<Inventory, String> {
    let (entries, problems) = control::parse_dpkg(bytes)?;
    let skipped = problems
        .iter()
        .map(|problem| format!("{path}: {problem}"))
        .collect();
    let packages = entries
        .into_iter()
        .filter(|entry| entry.installed())
        .map(|entry| {
            let purl = purl::deb(
                &entry.package,
                &entry.version,
                &entry.architecture,
                &entry.upstream(),
                None,
            );
            installed(
                Kind::Deb,
                &entry.package,
                &entry.version,
                purl,
                None,
                Vec::new(),
                path,
            )
        })
        .collect();
    Ok(Inventory {
        packages,
        distro: None,
        skipped,
    })
}

fn pip_inspect(value: &serde_json::Value, path: &str) -> Result<Inventory, String> {
    let mut inventory = Inventory::default();
    let list = value
        .get("installed")
        .and_then(|installed| installed.as_array())
        .ok_or("no installed list")?;
    for (index, item) in list.iter().enumerate() {
        let metadata = item.get("metadata").unwrap_or(&serde_json::Value::Null);
        let text = |key: &str| {
            metadata
                .get(key)
                .and_then(|value| value.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let (name, version) = (text("name"), text("version"));
        if name.is_empty() || version.is_empty() {
            inventory
                .skipped
                .push(format!("{path}: installed[{index}] has no name or version"));
            continue;
        }
        // Reuse the METADATA reader's license rules by handing it the same headers.
        let mut headers = format!("Name: {name}\nVersion: {version}\n");
        for (key, header) in [
            ("license_expression", "License-Expression"),
            ("license", "License"),
        ] {
            let value = text(key);
            if !value.is_empty() {
                headers.push_str(&format!(
                    "{header}: {}\n",
                    value.lines().next().unwrap_or_default()
                ));
            }
        }
        if let Some(classifiers) = metadata.get("classifier").and_then(|list| list.as_array()) {
            for classifier in classifiers
                .iter()
                .filter_map(|classifier| classifier.as_str())
            {
                headers.push_str(&format!("Classifier: {classifier}\n"));
            }
        }
        let licenses = python::parse(headers.as_bytes())
            .map(|metadata| metadata.licenses)
            .unwrap_or_default();
        let location = item
            .get("metadata_location")
            .and_then(|location| location.as_str())
            .unwrap_or(path);
        inventory.packages.push(installed(
            Kind::Python,
            &python::normalize(&name),
            &version,
            purl::pypi(&name, &version),
            Some("PyPI"),
            licenses,
            location,
        ));
    }
    Ok(inventory)
}

/// Every non-blank, non-comment line is a `pip freeze` line, and at least one pins `name==version`.
fn looks_like_freeze(text: &str) -> bool {
    let mut pinned = false;
    for line in text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        if line.starts_with('-') || line.contains(" @ ") {
            continue;
        }
        match line.split_once("==") {
            Some((name, version))
                if is_distribution_name(name.trim())
                    && !version.trim().is_empty()
                    && !version.contains(char::is_whitespace) =>
            {
                pinned = true
            }
            _ => return false,
        }
    }
    pinned
}

fn is_distribution_name(name: &str) -> bool {
    let base = name.split('[').next().unwrap_or(name);
    !base.is_empty()
        && base.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '-' | '_' | '.')
        })
}

/// An apk database (`lib/apk/db/installed`) copied from a host: its
/// distribution is unknown here, as a dpkg status file's (see
/// [`Inventory::assume_distro`]).
fn apk_installed(bytes: &[u8], path: &str) -> Result<Inventory, String> {
    let (entries, problems) = control::parse_apk(bytes)?;
    let mut inventory = Inventory {
        skipped: problems
            .iter()
            .map(|problem| format!("{path}: {problem}"))
            .collect(),
        ..Inventory::default()
    };
    for entry in entries {
        let upstream = if entry.origin == entry.name {
            ""
        } else {
            entry.origin.as_str()
        };
        let licenses = if entry.license.is_empty() {
            Vec::new()
        } else {
            vec![entry.license.clone()]
        };
        inventory.packages.push(installed(
            Kind::Apk,
            &entry.name,
            &entry.version,
            purl::apk(
                &entry.name,
                &entry.version,
                &entry.architecture,
                upstream,
                None,
            ),
            None,
            licenses,
            path,
        ));
    }
    Ok(inventory)
}

/// `package-lock.json` (or `npm-shrinkwrap.json`), `lockfileVersion` 2 or 3:
/// every `node_modules/…` entry of `packages` with a version; links and the
/// project itself are not installed packages.
fn package_lock(
    value: &serde_json::Value,
    path: &str,
    limits: &Limits,
) -> Result<Inventory, String> {
    let mut inventory = Inventory::default();
    let packages = value
        .get("packages")
        .and_then(|packages| packages.as_object())
        .ok_or("no `packages` object (lockfileVersion 1 is not read)")?;
    let mut seen = BTreeSet::new();
    for (location, package) in packages {
        let Some(at) = location.rfind("node_modules/") else {
            continue;
        };
        let name = package
            .get("name")
            .and_then(|name| name.as_str())
            .unwrap_or(&location[at + "node_modules/".len()..]);
        if package.get("link").and_then(|link| link.as_bool()) == Some(true) {
            continue;
        }
        let Some(version) = package.get("version").and_then(|version| version.as_str()) else {
            inventory
                .skipped
                .push(format!("{path}: {location} has no version"));
            continue;
        };
        if !npm::valid_name(name) {
            inventory.skipped.push(format!(
                "{path}: {location}: {name:?} is not a package name"
            ));
            continue;
        }
        if seen.insert((name.to_owned(), version.to_owned())) {
            inventory.packages.push(installed(
                Kind::Npm,
                name,
                version,
                purl::npm(name, version),
                Some("npm"),
                Vec::new(),
                path,
            ));
        }
        if inventory.packages.len() > limits.max_packages {
            break;
        }
    }
    Ok(inventory)
}

/// A Maven `pom.xml`: its direct dependencies whose version is written
/// out (a `${property}`, a parent's or a BOM's version would need the
/// network to resolve, and is skipped with a note). Read as text, not as
/// XML: comments are dropped, then each `<dependency>` element's first
/// `groupId`, `artifactId` and `version`; those of `<dependencyManagement>`
/// and of plugins are not dependencies and are left out.
fn pom(text: &str, path: &str, limits: &Limits) -> Inventory {
    let mut inventory = Inventory::default();
    let mut clean = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        clean.push_str(&rest[..start]);
        rest = match rest[start..].find("-->") {
            Some(end) => &rest[start + end + 3..],
            None => "",
        };
    }
    clean.push_str(rest);
    let cut = |text: &str, open: &str, close: &str| -> String {
        let mut kept = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(open) {
            kept.push_str(&rest[..start]);
            rest = match rest[start..].find(close) {
                Some(end) => &rest[start + end + close.len()..],
                None => "",
            };
        }
        kept.push_str(rest);
        kept
    };
    let clean = cut(&clean, "<dependencyManagement>", "</dependencyManagement>");
    let clean = cut(&clean, "<plugins>", "</plugins>");
    let field = |block: &str, name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let start = block.find(&open)? + open.len();
        let end = block[start..].find(&format!("</{name}>"))?;
        Some(block[start..start + end].trim().to_owned())
    };
    let mut rest = clean.as_str();
    while let Some(start) = rest.find("<dependency>") {
        let after = &rest[start + "<dependency>".len()..];
        let Some(end) = after.find("</dependency>") else {
            break;
        };
        let block = &after[..end];
        rest = &after[end..];
        let (Some(group), Some(artifact)) = (field(block, "groupId"), field(block, "artifactId"))
        else {
            continue;
        };
        match field(block, "version") {
            Some(version) if !version.is_empty() && !version.contains("${") => {
                inventory.packages.push(installed(
                    Kind::Maven,
                    &format!("{group}:{artifact}"),
                    &version,
                    purl::maven(&group, &artifact, &version),
                    Some("Maven"),
                    Vec::new(),
                    path,
                ));
            }
            _ => inventory.skipped.push(format!(
                "{path}: {group}:{artifact} has no literal version (resolving it needs the network)"
            )),
        }
        if inventory.packages.len() > limits.max_packages {
            break;
        }
    }
    inventory
}

/// `go.mod`: the modules its `require` lines and blocks name (with
/// `replace` lines that give a module another version honoured); the main
/// module is the project, not a dependency.
fn go_mod(text: &str, path: &str) -> Inventory {
    let mut inventory = Inventory::default();
    let mut required: Vec<(String, String)> = Vec::new();
    let mut replaced: Vec<(String, String, String)> = Vec::new();
    let mut block: Option<&str> = None;
    for raw in text.lines() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line == ")" {
            block = None;
            continue;
        }
        let (directive, rest) = match block {
            Some(directive) => (directive, line),
            None => match line.split_once(char::is_whitespace) {
                Some((directive, rest)) => (directive, rest.trim()),
                None => continue,
            },
        };
        if rest == "(" {
            block = Some(match directive {
                "require" => "require",
                "replace" => "replace",
                _ => "other",
            });
            continue;
        }
        match directive {
            "require" => {
                let mut words = rest.split_whitespace();
                if let (Some(module), Some(version)) = (words.next(), words.next()) {
                    required.push((module.to_owned(), version.to_owned()));
                }
            }
            "replace" => {
                if let Some((from, to)) = rest.split_once("=>") {
                    let from = from.split_whitespace().next().unwrap_or("");
                    let mut to = to.split_whitespace();
                    if let (Some(module), Some(version)) = (to.next(), to.next()) {
                        replaced.push((from.to_owned(), module.to_owned(), version.to_owned()));
                    }
                }
            }
            _ => {}
        }
    }
    for (module, version) in required {
        let (module, version) = match replaced.iter().find(|(from, _, _)| *from == module) {
            Some((_, to, version)) => (to.clone(), version.clone()),
            None => (module, version),
        };
        inventory.packages.push(installed(
            Kind::Go,
            &module,
            &version,
            purl::golang(&module, &version),
            Some("Go"),
            Vec::new(),
            path,
        ));
    }
    inventory
}

fn pip_freeze(text: &str, path: &str) -> Inventory {
    let mut inventory = Inventory::default();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        if let Some((name, version)) = line.split_once("==") {
            let name = name.split('[').next().unwrap_or(name).trim();
            let version = version.trim();
            inventory.packages.push(installed(
                Kind::Python,
                &python::normalize(name),
                version,
                purl::pypi(name, version),
                Some("PyPI"),
                Vec::new(),
                path,
            ));
        } else {
            // Editable installs and direct URLs name no version to match advisories against.
            inventory
                .skipped
                .push(format!("{path}: no pinned version in `{line}`"));
        }
    }
    inventory
}

fn npm_ls(value: &serde_json::Value, path: &str, limits: &Limits) -> Result<Inventory, String> {
    let mut inventory = Inventory::default();
    let mut seen = BTreeSet::new();
    // (name, node, depth); the root is the project itself, not an installed package.
    let mut stack: Vec<(String, &serde_json::Value, usize)> = Vec::new();
    if let Some(dependencies) = value
        .get("dependencies")
        .and_then(|dependencies| dependencies.as_object())
    {
        stack.extend(
            dependencies
                .iter()
                .map(|(name, node)| (name.clone(), node, 1)),
        );
    }
    while let Some((name, node, depth)) = stack.pop() {
        if depth > limits.max_depth {
            return Err(format!(
                "dependencies nested deeper than {}",
                limits.max_depth
            ));
        }
        let version = node
            .get("version")
            .and_then(|version| version.as_str())
            .unwrap_or_default();
        if version.is_empty() {
            inventory
                .skipped
                .push(format!("{path}: {name} is not installed (no version)"));
        } else if seen.insert((name.clone(), version.to_string())) {
            let mut licenses = Vec::new();
            npm::licenses_from(node.get("license"), &mut licenses);
            inventory.packages.push(installed(
                Kind::Npm,
                &name,
                version,
                purl::npm(&name, version),
                Some("npm"),
                licenses,
                path,
            ));
            if inventory.packages.len() > limits.max_packages {
                return Err(format!("more than {} packages", limits.max_packages));
            }
        }
        if let Some(children) = node
            .get("dependencies")
            .and_then(|dependencies| dependencies.as_object())
        {
            stack.extend(
                children
                    .iter()
                    .map(|(child, node)| (child.clone(), node, depth + 1)),
            );
        }
    }
    Ok(inventory)
}

#[derive(serde::Deserialize)]
struct CargoLock {
    #[serde(default)]
    package: Vec<CargoPackage>,
}

#[derive(serde::Deserialize)]
struct CargoPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
}

fn cargo_lock(text: &str, path: &str) -> Result<Inventory, String> {
    let lock: CargoLock =
        toml::from_str(text).map_err(|error| format!("not a Cargo.lock: {error}"))?;
    let packages = lock
        .package
        .into_iter()
        .map(|package| {
            // Registry packages are matched against the public registry's advisories: a lockfile
            // records that registry's source even where a mirror replaced it. Git and path packages
            // have none.
            let registry = package.source.as_deref().is_some_and(|source| {
                source.starts_with("registry+") || source.starts_with("sparse+")
            });
            let osv = registry.then_some(crate::OSV_RUST);
            installed(
                Kind::Rust,
                &package.name,
                &package.version,
                purl::cargo(&package.name, &package.version),
                osv,
                Vec::new(),
                path,
            )
        })
        .collect();
    Ok(Inventory {
        packages,
        distro: None,
        skipped: Vec::new(),
    })
}

fn cyclonedx(value: &serde_json::Value, path: &str, limits: &Limits) -> Inventory {
    let mut inventory = Inventory::default();
    let mut stack: Vec<(&serde_json::Value, usize)> = value
        .get("components")
        .and_then(|list| list.as_array())
        .map(|list| list.iter().map(|component| (component, 1)).collect())
        .unwrap_or_default();
    while let Some((component, depth)) = stack.pop() {
        if depth > limits.max_depth {
            inventory.skipped.push(format!(
                "{path}: components nested deeper than {}",
                limits.max_depth
            ));
            continue;
        }
        if let Some(children) = component.get("components").and_then(|list| list.as_array()) {
            stack.extend(children.iter().map(|child| (child, depth + 1)));
        }
        let Some(purl_text) = component.get("purl").and_then(|purl| purl.as_str()) else {
            continue;
        };
        let Some(parsed) = purl::parse(purl_text) else {
            inventory
                .skipped
                .push(format!("{path}: unsupported purl {purl_text}"));
            continue;
        };
        // The component's own version first (the Go standard library is `go1.22.1` there and
        // `1.22.1` in its purl), else the purl's. syft writes "UNKNOWN" where it has none.
        let stated = component
            .get("version")
            .and_then(|version| version.as_str())
            .unwrap_or_default();
        let stated = if stated == "UNKNOWN" { "" } else { stated };
        let version = if stated.is_empty() {
            parsed.version.clone()
        } else {
            stated.to_string()
        };
        if version.is_empty() {
            inventory
                .skipped
                .push(format!("{path}: {purl_text} has no version"));
            continue;
        }
        let osv = match parsed.kind {
            Kind::Deb | Kind::Apk => parsed.distro.as_ref().and_then(purl::distro_ecosystem),
            Kind::Python => Some("PyPI".to_string()),
            Kind::Npm => Some("npm".to_string()),
            Kind::Go => Some("Go".to_string()),
            Kind::Rust => Some(crate::OSV_RUST.to_string()),
            Kind::Maven => Some("Maven".to_string()),
        };
        let mut licenses = Vec::new();
        if let Some(list) = component.get("licenses").and_then(|list| list.as_array()) {
            for choice in list.iter().take(64) {
                let license = choice.get("license");
                let text = choice
                    .get("expression")
                    .or_else(|| license.and_then(|license| license.get("id")))
                    .or_else(|| license.and_then(|license| license.get("name")))
                    .and_then(|text| text.as_str());
                if let Some(text) = text {
                    licenses.push(text.to_string());
                }
            }
        }
        inventory.packages.push(Installed {
            kind: parsed.kind,
            name: parsed.name,
            version,
            purl: purl_text.to_string(),
            osv_ecosystem: osv,
            licenses,
            location: path.to_string(),
            main: false,
        });
        if inventory.packages.len() > limits.max_packages {
            break;
        }
    }
    inventory
}
