//! `airlift collect`: every registered ecosystem plans from its table of
//! `airlift.toml`, then collects into the store; one new generation holds
//! what they all brought.

use super::*;

/// An ecosystem failure as the CLI reports it: bad input (2), a store
/// failure (1), or an upstream failure (4) that left the index unchanged.
pub(crate) fn ecosystem_failure(error: airlift_ecosystem::Error) -> Failure {
    let mut failure = match error.kind {
        airlift_ecosystem::ErrorKind::Input => Failure::input(error.message),
        airlift_ecosystem::ErrorKind::Store => Failure::new(Exit::Failed, error.message),
        airlift_ecosystem::ErrorKind::Upstream => Failure::new(
            Exit::Upstream,
            format!("{}; the index is unchanged", error.message),
        ),
    };
    for hint in error.hints {
        failure = failure.hint(hint);
    }
    failure
}

pub(crate) fn collect(context: &Context, args: CollectArgs) -> Result<(), Failure> {
    super::import_::timed(context, "collect", || collect_run(context, args))
}

fn collect_run(context: &Context, args: CollectArgs) -> Result<(), Failure> {
    // Blobs stored now are committed only when collect ends: no gc may
    // sweep them meanwhile, however long the downloads take.
    let _lock = home_lock(&context.layout, "collect")?;
    let tables: Vec<&'static str> = context
        .ecosystems
        .iter()
        .map(|e| e.table().key)
        .filter(|key| !key.is_empty())
        .collect();
    let text = airlift_config::read(&args.config)?;
    let config = Config::parse(&args.config, &text, &tables)?;
    let base = args
        .config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let declared = airlift_ecosystem::Declared {
        path: &args.config,
        text: &text,
        base: &base,
    };
    let mut plans = Vec::new();
    for ecosystem in context.ecosystems.iter() {
        if let Some(plan) = ecosystem.plan(&declared).map_err(ecosystem_failure)? {
            plans.push((ecosystem.clone(), plan));
        }
    }
    let store = context.store()?;
    let concurrency = args
        .concurrency
        .map_or(config.collect.concurrency, usize::from);
    let fetcher = Fetcher::new(FetchOptions {
        concurrency,
        attempts: config.collect.attempts,
        ..FetchOptions::default()
    })
    .map_err(|e| Failure::new(Exit::Failed, format!("cannot start the HTTP client: {e}")))?;
    let bar = Arc::new(context.bar());
    let runtime = runtime()?;
    let collect_context = airlift_ecosystem::CollectContext {
        store: &store,
        fetcher: &fetcher,
        concurrency,
        progress: bar.clone(),
    };
    let mut results = Vec::new();
    // The ecosystems declared now, whose staleness parts are replaced.
    let mut upstream: Vec<(&'static str, Vec<airlift_ecosystem::UpstreamVersions>)> = Vec::new();
    for (ecosystem, plan) in &plans {
        if !plan.is_empty() {
            bar.phase(&format!("collect {}", ecosystem.name()), None);
        }
        let collected = runtime
            .block_on(plan.collect(&collect_context))
            .map_err(ecosystem_failure)?;
        if !plan.is_empty() {
            upstream.push((ecosystem.name(), collected.upstream.clone()));
        }
        results.push((ecosystem.name(), collected));
    }
    drop(collect_context);
    drop(bar);
    // The new generation: what every planned ecosystem brought, every other
    // ecosystem as it was.
    let collected_names: std::collections::BTreeSet<&str> =
        plans.iter().map(|(e, _)| e.name()).collect();
    let mut entries: Vec<airlift_store::Entry> = results
        .iter()
        .flat_map(|(_, c)| c.entries.iter().cloned())
        .collect();
    let previous = match store.meta.current()? {
        Some(current) => store.meta.entries(current.id, None)?,
        None => Vec::new(),
    };
    let previous_entries = previous.len() as u64;
    // The generation's SBOMs are written anew below.
    let is_sbom = |e: &airlift_store::Entry| {
        e.ecosystem == airlift_sbom::ecosystem::ECOSYSTEM
            && [
                airlift_sbom::ecosystem::CYCLONEDX,
                airlift_sbom::ecosystem::SPDX,
            ]
            .contains(&e.key.as_str())
    };
    // So is its staleness record.
    let is_staleness = |e: &airlift_store::Entry| e.ecosystem == SITE && e.key == STALENESS;
    entries.extend(
        previous
            .iter()
            .filter(|e| {
                !collected_names.contains(e.ecosystem.as_str()) && !is_sbom(e) && !is_staleness(e)
            })
            .cloned(),
    );
    // Every container image carries the SBOM of its layers as a referrer,
    // and the generation its own SBOMs (served at /sbom/).
    let image_sboms = image_sbom_referrers(&store, &entries, &previous)?;
    entries.extend(image_sboms.entries);
    let sboms = carried_sboms(&context.ecosystems, &store, &entries, &previous)?;
    entries.extend(sboms);
    // What the upstreams offered of what is carried, for the isolated
    // side to tell what is out of date.
    if let Some(entry) =
        staleness_entry(&context.ecosystems, &store, &entries, &previous, &upstream)?
    {
        entries.push(entry);
    }
    let kept: std::collections::BTreeSet<(&str, &str)> = entries
        .iter()
        .map(|e| (e.ecosystem.as_str(), e.key.as_str()))
        .collect();
    let dropped = previous
        .iter()
        .filter(|e| !kept.contains(&(e.ecosystem.as_str(), e.key.as_str())))
        .count() as u64;
    let generation = store.meta.commit(NewGeneration {
        source: "collect".into(),
        created_at: jiff::Timestamp::now().as_second(),
        entries,
        state: Vec::new(),
    })?;
    // The summary: every ecosystem's fields, then the generation's.
    let mut summary = serde_json::Map::new();
    for (_, collected) in &results {
        for (key, value) in &collected.summary {
            summary.insert((*key).to_owned(), value.clone());
        }
    }
    if image_sboms.images > 0 || !image_sboms.notes.is_empty() {
        summary.insert("image_sboms".into(), image_sboms.images.into());
    }
    summary.insert("generation".into(), generation.id.into());
    summary.insert("dropped".into(), dropped.into());
    summary.insert("previous_entries".into(), previous_entries.into());
    let summary = serde_json::Value::Object(summary);
    context.audit("collect", &summary)?;
    context.emit(&summary, || {
        let mut parts: Vec<&str> = results
            .iter()
            .filter_map(|(_, c)| c.line.as_deref())
            .collect();
        if parts.is_empty() {
            parts.push("nothing");
        }
        let mut text = format!(
            "collected {} into generation {}",
            parts.join(" and "),
            generation.id
        );
        for (_, collected) in &results {
            for note in &collected.notes {
                text.push_str(&format!("\n  {note}"));
            }
        }
        for note in &image_sboms.notes {
            text.push_str(&format!("\n  note: {note}"));
        }
        if dropped > 0 {
            text.push_str(&format!(
                "\nwarning: generation {} drops {dropped} of the {previous_entries} entries of the one before; a bundle packed from it removes them on import (an import refuses to remove more than {}% unless given --allow-removals)",
                generation.id,
                airlift_bundle::DEFAULT_MAX_REMOVAL_PERCENT
            ));
        }
        text
    })
}
