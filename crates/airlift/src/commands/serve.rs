//! `airlift serve`.

use super::*;

#[allow(clippy::print_stderr)]
pub(crate) fn serve(context: &Context, args: ServeArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let uploads = context.layout.uploads_dir();
    let log = std::sync::Arc::new(context.audit_log(Some(store.meta.clone())));
    let ui = airlift_server::UiSite {
        log: Some(log.clone()),
        home: Some(context.layout.home().to_path_buf()),
    };
    let audit: airlift_ecosystem::AuditHook = std::sync::Arc::new(move |event, detail| {
        log.append(event, detail)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let policy = access_policy(context, &args)?;
    tracing::info!("access rules: {}", policy.source);
    let gate = airlift_access::Gate::new(store.meta.clone(), policy, "airlift")
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot load users and tokens: {e}")))?;
    let metrics = std::sync::Arc::new(site_metrics(context, &store));
    let runtime = runtime()?;
    let store_for_flush = store.clone();
    collect_garbage_while_serving(context, &runtime, &store, &metrics, &audit, &args)?;
    let consumption = std::sync::Arc::new(airlift_server::Consumption::new());
    flush_consumption_while_serving(&runtime, &store, &consumption);
    let services = airlift_server::Services {
        consumption: Some(consumption.clone()),
        metrics: Some(metrics),
        audit: Some(audit),
        upload_expiry: Some(args.upload_expiry),
        extensions: site_extensions(context, None, args.apt_valid_days)?,
        ecosystems: context.ecosystems.clone(),
        gate: Some(std::sync::Arc::new(gate)),
        ui,
        environment_hosts: args
            .env_hosts
            .iter()
            .map(|(name, host)| (host.clone(), name.clone()))
            .collect(),
    };
    let limits = airlift_server::Limits {
        header_timeout: args.header_timeout,
        idle_timeout: args.idle_timeout,
        body_timeout: args.body_timeout,
        max_connections: args.max_connections as usize,
    };
    let result = if args.tls {
        let config = airlift_tls::server_config(&context.layout.tls_dir()).map_err(|e| {
            Failure::input(e.to_string()).hint("run `airlift tls init --name <host>` first")
        })?;
        runtime.block_on(airlift_server::serve_tls(
            store,
            uploads,
            services,
            args.listen,
            limits,
            config,
            |address| announce(context, &format!("https://{address}")),
        ))
    } else {
        runtime.block_on(airlift_server::serve(
            store,
            uploads,
            services,
            args.listen,
            limits,
            |address| announce(context, &format!("http://{address}")),
        ))
    };
    // The counts since the last flush, so that a restart loses none.
    if let Err(e) = consumption.flush(&*store_for_flush.meta) {
        tracing::warn!("recording what was asked for at shutdown: {e}");
    }
    result.map_err(|e| Failure::new(Exit::Failed, e.to_string()))
}

/// Merges the server's counts of names asked for and fetched into the
/// index every [`airlift_server::consumption::FLUSH_EVERY`] (they are read
/// by `airlift receipt export`).
fn flush_consumption_while_serving(
    runtime: &tokio::runtime::Runtime,
    store: &airlift_store::Store,
    consumption: &std::sync::Arc<airlift_server::Consumption>,
) {
    let (store, consumption) = (store.clone(), consumption.clone());
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(airlift_server::consumption::FLUSH_EVERY).await;
            let (store, consumption) = (store.clone(), consumption.clone());
            match tokio::task::spawn_blocking(move || consumption.flush(&*store.meta)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("recording what was asked for: {e}"),
                Err(e) => tracing::warn!("recording what was asked for: {e}"),
            }
        }
    });
}

/// How often the server measures what a garbage collection would reclaim.
const RECLAIMABLE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Background work while serving: an hourly dry run for
/// `airlift_gc_reclaimable_bytes` (the first a minute after start), and,
/// with `--gc-every`, garbage collection on that schedule under the home's
/// writer lock (a round is skipped while an import, collect or gc holds it),
/// recorded in the audit log (`gc`, with `scheduled: true`) and in
/// `airlift_gc_reclaimed_bytes_total`.
fn collect_garbage_while_serving(
    context: &Context,
    runtime: &tokio::runtime::Runtime,
    store: &airlift_store::Store,
    metrics: &std::sync::Arc<airlift_server::Metrics>,
    audit: &airlift_ecosystem::AuditHook,
    args: &ServeArgs,
) -> Result<(), Failure> {
    use airlift_store::gc::{self, Retention};
    let retention = Retention {
        keep_generations: args.gc_keep as usize,
        grace: args.gc_grace,
    };
    {
        let (store, metrics, retention) = (store.clone(), metrics.clone(), retention.clone());
        runtime.spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            loop {
                let (store, retention) = (store.clone(), retention.clone());
                match tokio::task::spawn_blocking(move || gc::plan(&store, &retention)).await {
                    Ok(Ok(report)) => {
                        metrics.reclaimable(report.bytes_reclaimed + report.staged_bytes);
                    }
                    Ok(Err(e)) => tracing::warn!("measuring reclaimable space: {e}"),
                    Err(e) => tracing::warn!("measuring reclaimable space: {e}"),
                }
                tokio::time::sleep(RECLAIMABLE_EVERY).await;
            }
        });
    }
    let Some(every) = args.gc_every else {
        return Ok(());
    };
    let rules = match context.access_file() {
        file if file.exists() => context.access_rules(&file)?.retention().to_vec(),
        _ => Vec::new(),
    };
    let (store, metrics, audit) = (store.clone(), metrics.clone(), audit.clone());
    let layout = context.layout.clone();
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let (store, retention, layout) = (store.clone(), retention.clone(), layout.clone());
            let rules = rules.clone();
            let ran = tokio::task::spawn_blocking(move || {
                let _lock = home_lock(&layout, "the scheduled garbage collection")
                    .map_err(|f| f.message)?;
                let expired = apply_retention(&store, &rules, false).map_err(|f| f.message)?;
                gc::run(&store, &retention)
                    .map(|report| (expired, report))
                    .map_err(|e| e.to_string())
            })
            .await;
            match ran {
                Ok(Ok((expired, report))) => {
                    let bytes = report.bytes_reclaimed + report.staged_bytes;
                    metrics.collected(bytes, jiff::Timestamp::now().as_second());
                    metrics.reclaimable(0);
                    tracing::info!(
                        "scheduled gc removed {} blobs ({bytes} bytes) and {} generations",
                        report.blobs_removed,
                        report.generations_pruned
                    );
                    let detail = serde_json::json!({
                        "scheduled": true,
                        "retention": {
                            "tags": expired.tags,
                            "manifests": expired.manifests,
                            "blob_links": expired.blob_links,
                        },
                        "generations_kept": report.generations_kept,
                        "generations_pruned": report.generations_pruned,
                        "rows_pruned": report.rows_pruned,
                        "blobs_removed": report.blobs_removed,
                        "bytes_reclaimed": report.bytes_reclaimed,
                        "staged_removed": report.staged_removed,
                    });
                    let audit = audit.clone();
                    match tokio::task::spawn_blocking(move || audit("gc", detail)).await {
                        Ok(Ok(())) => {}
                        _ => tracing::error!(
                            "the scheduled gc ran but the audit log did not record it"
                        ),
                    }
                }
                Ok(Err(message)) => tracing::warn!("scheduled gc skipped: {message}"),
                Err(e) => tracing::warn!("scheduled gc failed: {e}"),
            }
        }
    });
    Ok(())
}

/// The access rules `serve` enforces: `--access`, else the home's
/// `access.toml`, else the defaults. Serving beyond loopback without rules
/// is refused unless `--anonymous-read` says that anyone who can reach the
/// server may read; this is checked before anything listens.
fn access_policy(context: &Context, args: &ServeArgs) -> Result<airlift_access::Policy, Failure> {
    let default_file = context.access_file();
    let file = match &args.access {
        Some(file) => Some(file.clone()),
        None => default_file.exists().then_some(default_file),
    };
    let mut policy = match file {
        Some(file) => context.access_rules(&file)?,
        None => {
            let loopback = args.listen.ip().is_loopback();
            if !loopback && !args.anonymous_read {
                return Err(Failure::input(format!(
                    "refusing to serve on {} without access rules: anyone who can reach it could read everything",
                    args.listen
                ))
                .hint(format!(
                    "write access rules to {} (or give --access FILE), or pass --anonymous-read to allow anonymous reads on purpose",
                    context.layout.home().join("access.toml").display()
                )));
            }
            airlift_access::Policy::default_rules(loopback)
        }
    };
    if args.anonymous_read {
        policy = policy.with_anonymous_read();
    }
    Ok(policy)
}

/// Says where the server listens, once it does: on stderr, or with
/// `--json` as one JSON line on stdout (`{"listening": URL}`) for scripts
/// and service managers to read.
#[allow(clippy::print_stderr)]
pub(crate) fn announce(context: &Context, url: &str) {
    if context.json {
        let _ = context.print_line(&serde_json::json!({ "listening": url }).to_string());
    } else {
        eprintln!("airlift serving on {url}");
    }
}

/// The site's services that ecosystems look up by type: today the apt
/// signer (the site's apt signing key, made on first use). `only` limits
/// them to what one ecosystem needs, so that configuring another client
/// never makes a key.
pub(crate) fn site_extensions(
    context: &Context,
    only: Option<&str>,
    apt_valid_days: u32,
) -> Result<axum::http::Extensions, Failure> {
    let mut extensions = axum::http::Extensions::new();
    if only.is_none_or(|name| name == airlift_apt::ECOSYSTEM) {
        extensions.insert(std::sync::Arc::new(airlift_apt::serve::Signer {
            key: apt_signing_key(context)?,
            valid_for: jiff::SignedDuration::from_hours(24 * i64::from(apt_valid_days)),
        }));
    }
    Ok(extensions)
}

/// The server's metrics of the home: with the full verification of its
/// audit log (against the index's record of its head) and the apt signing
/// key's expiry.
fn site_metrics(context: &Context, store: &airlift_store::Store) -> airlift_server::Metrics {
    let log = context.audit_log(Some(store.meta.clone()));
    let check: airlift_server::AuditCheck = std::sync::Arc::new(move || match log.verify(&[]) {
        // An append cut short leaves the signed history intact; the next
        // append repairs it.
        Ok(_) | Err(airlift_audit::AuditError::Interrupted { .. }) => Ok(()),
        Err(e) => Err(e.to_string()),
    });
    airlift_server::Metrics::for_home(context.layout.home())
        .with_audit_check(check)
        .with_apt_signing_key(
            context.layout.trust_dir().join(airlift_apt::key::FILE),
            |bytes| {
                airlift_apt::key::expires(std::path::Path::new(airlift_apt::key::FILE), bytes)
                    .ok()
                    .map(|expires| expires.unwrap_or(i64::MAX))
            },
        )
}
