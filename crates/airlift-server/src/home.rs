//! `GET /`: a small page saying what this server carries, per ecosystem,
//! and the `airlift client-config` command that points each client at it.
//! Plain HTML with no script, style or outside reference (it is served in
//! the gap, under a policy that lets nothing load).

use airlift_store::Store;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One ecosystem's row: its name in the index, what to call it, where it
/// is served and its clients.
pub struct Row {
    name: &'static str,
    title: &'static str,
    path: &'static str,
    clients: Vec<&'static str>,
}

impl Row {
    /// The row of an ecosystem.
    pub fn of(ecosystem: &dyn airlift_ecosystem::Ecosystem) -> Self {
        Self {
            name: ecosystem.name(),
            title: ecosystem.title(),
            path: ecosystem.served_at(),
            clients: ecosystem.clients().iter().map(|c| c.name).collect(),
        }
    }
}

/// Renders the page from the serving generation's entry counts.
/// `mount` is the environment's path prefix (`/env/staging`), empty for
/// the default one.
pub async fn page(
    store: Store,
    ecosystems: std::sync::Arc<Vec<Row>>,
    mount: std::sync::Arc<str>,
) -> Response {
    let counts = tokio::task::spawn_blocking(move || {
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        if let Some(generation) = store.meta.current()? {
            for entry in store.meta.entries(generation.id, None)? {
                *counts.entry(entry.ecosystem).or_default() += 1;
            }
        }
        Ok::<_, airlift_store::StoreError>(counts)
    })
    .await;
    let counts = match counts {
        Ok(Ok(counts)) => counts,
        _ => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
        }
    };
    let mut rows = String::new();
    for Row {
        name,
        title,
        path,
        clients,
    } in ecosystems.iter()
    {
        let count = counts.get(*name).copied().unwrap_or(0);
        if path.is_empty() {
            // Carried, not served (the advisory database): `airlift scan`
            // and the metrics read it.
            rows.push_str(&format!(
                "<tr><td>{title}</td><td>not served</td><td>{count}</td><td>read by <code>airlift scan</code></td></tr>\n"
            ));
            continue;
        }
        let setup = match clients.first() {
            None if *name == "oci" => "docker pull / skopeo / crane against this host".to_owned(),
            None => format!("curl this host{path}&lt;path&gt;"),
            Some(tool) => format!("<code>airlift client-config {tool}</code>"),
        };
        rows.push_str(&format!(
            "<tr><td>{title}</td><td><a href=\"{mount}{path}\">{mount}{path}</a></td><td>{count}</td><td>{setup}</td></tr>\n"
        ));
    }
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>airlift</title></head><body>\n\
         <h1>airlift</h1>\n<p>What this server carries, from its current generation. \
         <a href=\"/ui/\">Open the web UI</a> to browse packages, imports and the audit log.</p>\n\
         <table>\n<tr><th>Ecosystem</th><th>Served at</th><th>Index entries</th><th>Set up a client</th></tr>\n\
         {rows}</table>\n<p><a href=\"/healthz\">/healthz</a> · <a href=\"/metrics\">/metrics</a></p>\n</body></html>\n"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}
