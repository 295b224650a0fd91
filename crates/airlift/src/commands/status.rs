//! `airlift status`.

use super::*;

/// Entries and bytes of one ecosystem.
#[derive(Default, Serialize)]
pub(crate) struct EcosystemStatus {
    entries: u64,
    bytes: u64,
}

/// What `airlift status` reports.
#[derive(Serialize)]
pub(crate) struct Status {
    home: PathBuf,
    site: Option<String>,
    generation: Option<airlift_store::Generation>,
    ecosystems: std::collections::BTreeMap<String, EcosystemStatus>,
    last_import: Option<serde_json::Value>,
    trusted_root: Option<serde_json::Value>,
    last_bundle_expires: Option<String>,
    disk: Option<serde_json::Value>,
    /// Named environments: name and the generation each serves.
    environments: std::collections::BTreeMap<String, u64>,
}

pub(crate) fn status(context: &Context) -> Result<(), Failure> {
    let store = context.store()?;
    let generation = store.meta.current()?;
    let mut ecosystems = std::collections::BTreeMap::<String, EcosystemStatus>::new();
    if let Some(current) = &generation {
        for entry in store.meta.entries(current.id, None)? {
            let counted = ecosystems.entry(entry.ecosystem).or_default();
            counted.entries += 1;
            counted.bytes += entry.size;
        }
    }
    let state = |key: &str| store.meta.state(key);
    let last_import = match state(airlift_store::state_keys::LAST_BUNDLE_ID)? {
        Some(bundle) => Some(serde_json::json!({
            "bundle": bundle,
            "version": state(airlift_store::state_keys::LAST_BUNDLE_VERSION)?
                .and_then(|v| v.parse::<u64>().ok()),
            "at": state(airlift_store::state_keys::LAST_IMPORT_AT)?
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(|s| jiff::Timestamp::from_second(s).ok())
                .map(|t| t.to_string()),
            "sequence": state(airlift_store::state_keys::LAST_SEQUENCE)?
                .and_then(|v| v.parse::<u64>().ok()),
        })),
        None => None,
    };
    let read_json = |path: &Path| -> Option<serde_json::Value> {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
    };
    // The newest root the TUF client holds, else the one `init` trusted.
    let root = read_json(&context.layout.tuf_state_dir().join("root.json"))
        .or_else(|| read_json(&context.layout.trusted_root()));
    let trusted_root = root.map(|r| {
        serde_json::json!({
            "version": r["signed"]["version"],
            "expires": r["signed"]["expires"],
        })
    });
    let last_bundle_expires = read_json(&context.layout.tuf_state_dir().join("timestamp.json"))
        .and_then(|t| t["signed"]["expires"].as_str().map(str::to_owned));
    let site = context.layout.site_id().ok().flatten();
    let disk = rustix::fs::statvfs(context.layout.home()).ok().map(|v| {
        serde_json::json!({
            "free_bytes": v.f_bavail.saturating_mul(v.f_frsize),
            "total_bytes": v.f_blocks.saturating_mul(v.f_frsize),
        })
    });
    let environments = airlift_store::environment::list(store.meta.as_ref())
        .map_err(|e| Failure::new(Exit::Failed, e.to_string()))?
        .into_iter()
        .map(|e| (e.name, e.generation))
        .collect();
    let report = Status {
        home: context.layout.home().to_path_buf(),
        site,
        generation,
        ecosystems,
        last_import,
        trusted_root,
        last_bundle_expires,
        disk,
        environments,
    };
    context.emit(&report, || {
        let mut lines = vec![format!("home: {}", report.home.display())];
        if let Some(site) = &report.site {
            lines.push(format!("site: {site}"));
        }
        match &report.generation {
            None => lines.push("generation: none yet (collect or import a bundle first)".into()),
            Some(g) => {
                lines.push(format!(
                    "generation {} ({}), {} entries",
                    g.id, g.source, g.entries
                ));
                // In the order of the registry, named by their titles; an
                // ecosystem this build does not know (a newer site's) last.
                let mut listed: Vec<(&str, String)> = context
                    .ecosystems
                    .iter()
                    .filter(|e| report.ecosystems.contains_key(e.name()))
                    .map(|e| (e.name(), format!("{} ({})", e.name(), e.title())))
                    .collect();
                for name in report.ecosystems.keys() {
                    if !listed.iter().any(|(n, _)| n == name) {
                        listed.push((name, name.clone()));
                    }
                }
                for (name, label) in listed {
                    let counted = &report.ecosystems[name];
                    lines.push(format!(
                        "  {label}: {} entries, {} bytes",
                        counted.entries, counted.bytes
                    ));
                }
            }
        }
        if !report.environments.is_empty() {
            lines.push(format!(
                "environments: {}",
                report
                    .environments
                    .iter()
                    .map(|(name, generation)| format!("{name} at generation {generation}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(last) = &report.last_import {
            lines.push(format!(
                "last import: bundle {} version {} at {}{}",
                last["bundle"].as_str().unwrap_or("?"),
                last["version"],
                last["at"].as_str().unwrap_or("?"),
                last["sequence"]
                    .as_u64()
                    .map(|s| format!(" (sequence {s})"))
                    .unwrap_or_default()
            ));
        }
        if let Some(root) = &report.trusted_root {
            lines.push(format!(
                "trusted root: version {}, expires {}",
                root["version"],
                root["expires"].as_str().unwrap_or("?")
            ));
        }
        if let Some(expires) = &report.last_bundle_expires {
            lines.push(format!("last bundle expires: {expires}"));
        }
        if let Some(disk) = &report.disk {
            lines.push(format!(
                "disk: {} bytes free of {}",
                disk["free_bytes"], disk["total_bytes"]
            ));
        }
        lines.join("\n")
    })
}
