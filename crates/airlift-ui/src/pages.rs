//! The reading pages: overview, browse and search, packages, imports, the
//! audit log, documents; the stylesheet; and the UI's 404.

use std::fmt::Write as _;

use airlift_store::state_keys;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::catalog::{self, Catalog, Kind};
use crate::html::{self, escape};
use crate::views::{self, Unavailable, Verification};

/// Packages listed per page of a search or an ecosystem.
pub const GROUPS_PER_PAGE: usize = 50;
/// Versions, files or tags per page of a package.
pub const ITEMS_PER_PAGE: usize = 100;
/// Events per page of the audit log and of the imports.
pub const EVENTS_PER_PAGE: usize = 100;

/// The query of listings; every field is optional and read leniently.
#[derive(Debug, Default, Deserialize)]
pub struct Listing {
    q: Option<String>,
    ecosystem: Option<String>,
    page: Option<String>,
    event: Option<String>,
}

impl Listing {
    fn page(&self) -> usize {
        self.page
            .as_deref()
            .and_then(|p| p.parse::<usize>().ok())
            .filter(|&p| p >= 1)
            .unwrap_or(1)
    }
}

fn unavailable(error: Unavailable) -> Response {
    tracing::warn!("ui: {}", error.0);
    html::problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("The page could not be read: {}", error.0),
    )
}

fn no_generation() -> String {
    "<p>This site has no generation yet: nothing was collected, imported or pushed.</p>\n"
        .to_owned()
}

/// The base URL clients reach this server with (for commands).
fn base(headers: &HeaderMap, scheme: Option<Extension<airlift_http::Scheme>>) -> String {
    airlift_http::base_url(scheme.map(|s| s.0), headers).unwrap_or_else(|| "http://HOST".to_owned())
}

pub async fn to_overview() -> Redirect {
    Redirect::permanent("/ui/")
}

pub async fn not_found() -> Response {
    html::problem(StatusCode::NOT_FOUND, "There is no such page.")
}

/// `GET /ui/static/{file}`: the stylesheet, cached for good (its name
/// changes with its content).
pub async fn style(Path(file): Path<String>) -> Response {
    if file != crate::STYLE_NAME {
        return html::problem(StatusCode::NOT_FOUND, "There is no such file.");
    }
    let mut response = crate::STYLE.into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    html::set_headers(&mut response, "text/css; charset=utf-8");
    response
}

/// `GET /ui/`: the overview.
pub async fn overview(State(state): State<views::State>) -> Response {
    let catalog = match state.catalog().await {
        Ok(catalog) => catalog,
        Err(e) => return unavailable(e),
    };
    let audit = match state.audit().await {
        Ok(audit) => audit,
        Err(e) => return unavailable(e),
    };
    let ui = state.ui.clone();
    let facts = tokio::task::spawn_blocking(move || site_facts(&ui))
        .await
        .unwrap_or_default();
    let mut body = String::new();
    // Health first: what someone opens the page to check.
    body.push_str("<h2>Health</h2>\n<dl class=\"facts\">");
    let _ = write!(
        body,
        "<dt>Index</dt><dd><span class=\"ok\">answers</span></dd><dt>Audit log</dt><dd>{}</dd>",
        verification_line(&audit.verified)
    );
    if let Some((free, total)) = facts.disk {
        let share = if total > 0 {
            free as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        let class = if share < 10.0 { "bad" } else { "ok" };
        let _ = write!(
            body,
            "<dt>Disk under the home</dt><dd><span class=\"{class}\">{} free</span> of {} ({share:.0} %), {} used</dd>",
            html::bytes(free),
            html::bytes(total),
            html::bytes(total.saturating_sub(free)),
        );
    }
    body.push_str("</dl>\n");

    body.push_str("<h2>Generation</h2>\n");
    match &catalog {
        None => body.push_str(&no_generation()),
        Some(catalog) => {
            let g = &catalog.generation;
            let _ = writeln!(
                body,
                "<dl class=\"facts\"><dt>Current generation</dt><dd>{}</dd><dt>Made</dt><dd>{}</dd>\
                 <dt>By</dt><dd><code>{}</code></dd><dt>Entries</dt><dd>{}</dd></dl>",
                g.id,
                html::time(g.created_at),
                escape(&g.source),
                g.entries
            );
            let mut rows = String::new();
            for shelf in &catalog.shelves {
                let served = if shelf.served_at.is_empty() {
                    "not served".to_owned()
                } else {
                    format!("<code>{}</code>", escape(shelf.served_at))
                };
                let browse = if shelf.documents.is_empty() && !shelf.groups.is_empty() {
                    format!(
                        "<a href=\"/ui/browse/{}\">{} package{}</a>",
                        html::path(shelf.name),
                        shelf.groups.len(),
                        if shelf.groups.len() == 1 { "" } else { "s" }
                    )
                } else if !shelf.documents.is_empty() {
                    format!(
                        "<a href=\"/ui/documents\">{} documents</a>",
                        shelf.documents.len()
                    )
                } else {
                    "—".to_owned()
                };
                let _ = writeln!(
                    rows,
                    "<tr><td>{}</td><td>{served}</td><td>{}</td><td>{browse}</td></tr>",
                    escape(shelf.title),
                    shelf.entries
                );
            }
            body.push_str(&html::table(
                "What the current generation carries, per ecosystem",
                &["Ecosystem", "Served at", "Index entries", "Browse"],
                &rows,
            ));
        }
    }
    body.push_str(&crate::environments::summary(&state).await);

    body.push_str("<h2>Last import</h2>\n");
    match &facts.last_bundle {
        None => body.push_str("<p>No bundle was imported into this site.</p>\n"),
        Some(bundle) => {
            let signers = state.signers(bundle).await;
            let _ = write!(
                body,
                "<dl class=\"facts\"><dt>Bundle</dt><dd class=\"digest\">{}</dd><dt>Version</dt><dd>{}</dd><dt>Imported</dt><dd>{}</dd><dt>Signed by</dt><dd>{}</dd>",
                escape(bundle),
                escape(facts.last_version.as_deref().unwrap_or("?")),
                escape(facts.last_import_at.as_deref().unwrap_or("?")),
                signers_html(&signers, "not known (no persisted targets metadata)")
            );
            let event = audit.events.iter().rev().find(|e| {
                e.event == "import" && e.detail["outcome"]["bundle_id"].as_str() == Some(bundle)
            });
            match event {
                Some(event) => {
                    let handoffs = event.detail["outcome"]["handoffs"]
                        .as_array()
                        .map_or(0, Vec::len);
                    let _ = write!(
                        body,
                        "<dt>Custody</dt><dd><a href=\"/ui/imports/{}\">{handoffs} hand-off{} recorded</a></dd>",
                        event.index,
                        if handoffs == 1 { "" } else { "s" }
                    );
                }
                None => body.push_str(
                    "<dt>Custody</dt><dd class=\"muted\">the audit log has no event for this import</dd>",
                ),
            }
            body.push_str("</dl>\n");
        }
    }

    body.push_str("<h2>Expiry</h2>\n");
    if facts.expiry.is_empty() {
        body.push_str("<p class=\"muted\">No trusted metadata or certificate to expire.</p>\n");
    } else {
        let now = jiff::Timestamp::now();
        let mut rows = String::new();
        for (what, expires) in &facts.expiry {
            let days = expires
                .parse::<jiff::Timestamp>()
                .ok()
                .map(|t| (t.as_second() - now.as_second()) / 86_400);
            let left = match days {
                Some(d) if d < 0 => "<span class=\"bad\">expired</span>".to_owned(),
                Some(d) if d < 14 => format!("<span class=\"warn\">{d} days</span>"),
                Some(d) => format!("{d} days"),
                None => "?".to_owned(),
            };
            let _ = writeln!(
                rows,
                "<tr><td>{}</td><td>{}</td><td>{left}</td></tr>",
                escape(what),
                escape(expires)
            );
        }
        body.push_str(&html::table(
            "Trusted metadata and certificates",
            &["What", "Expires", "Left"],
            &rows,
        ));
    }
    html::page(StatusCode::OK, "Overview", "/ui/", &body)
}

/// What the overview reads from the state and the home.
#[derive(Default)]
struct SiteFacts {
    last_bundle: Option<String>,
    last_version: Option<String>,
    last_import_at: Option<String>,
    expiry: Vec<(String, String)>,
    disk: Option<(u64, u64)>,
}

fn site_facts(ui: &crate::Ui) -> SiteFacts {
    let state = |key: &str| ui.store.meta.state(key).ok().flatten();
    let mut facts = SiteFacts {
        last_bundle: state(state_keys::LAST_BUNDLE_ID),
        last_version: state(state_keys::LAST_BUNDLE_VERSION),
        last_import_at: state(state_keys::LAST_IMPORT_AT)
            .and_then(|s| s.parse::<i64>().ok())
            .map(html::time),
        ..SiteFacts::default()
    };
    if let Some(home) = &ui.home {
        let layout = airlift_store::layout::Layout::new(home);
        // The small roles only: the targets metadata of a large bundle is
        // megabytes.
        let expires = |path: std::path::PathBuf| -> Option<String> {
            let bytes = std::fs::read(path).ok()?;
            let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
            value["signed"]["expires"].as_str().map(str::to_owned)
        };
        if let Some(root) = expires(layout.tuf_state_dir().join("root.json"))
            .or_else(|| expires(layout.trusted_root()))
        {
            facts.expiry.push(("Trusted root".to_owned(), root));
        }
        if let Some(timestamp) = expires(layout.tuf_state_dir().join("timestamp.json")) {
            facts
                .expiry
                .push(("Last bundle (timestamp)".to_owned(), timestamp));
        }
        for (file, what) in [
            ("server.crt", "TLS server certificate"),
            ("ca.crt", "TLS site CA"),
        ] {
            if let Some(unix) = std::fs::read(layout.tls_dir().join(file))
                .ok()
                .and_then(|pem| airlift_tls::not_after(&pem))
            {
                facts.expiry.push((what.to_owned(), html::time(unix)));
            }
        }
        facts.disk = disk(home);
    }
    facts
}

#[cfg(unix)]
fn disk(home: &std::path::Path) -> Option<(u64, u64)> {
    let v = rustix::fs::statvfs(home).ok()?;
    Some((
        v.f_bavail.saturating_mul(v.f_frsize),
        v.f_blocks.saturating_mul(v.f_frsize),
    ))
}

#[cfg(not(unix))]
fn disk(_home: &std::path::Path) -> Option<(u64, u64)> {
    None
}

fn verification_line(verified: &Verification) -> String {
    match verified {
        Verification::Absent => "<span class=\"muted\">no events yet</span>".to_owned(),
        Verification::Intact(v) => format!(
            "<span class=\"ok\">verified</span>: {} entries{}",
            v.entries,
            match v.recorded_entries {
                Some(n) => format!(", the index records {n}"),
                None => String::new(),
            }
        ),
        Verification::Interrupted(m) => format!(
            "<span class=\"warn\">interrupted append</span>: {}",
            escape(m)
        ),
        Verification::Failed(m) => {
            format!("<span class=\"bad\">does not verify</span>: {}", escape(m))
        }
    }
}

/// `GET /ui/browse?q=&ecosystem=&page=`: every ecosystem, or the packages
/// whose name contains `q`.
pub async fn browse(State(state): State<views::State>, Query(listing): Query<Listing>) -> Response {
    let catalog = match state.catalog().await {
        Ok(Some(catalog)) => catalog,
        Ok(None) => return html::page(StatusCode::OK, "Browse", "/ui/browse", &no_generation()),
        Err(e) => return unavailable(e),
    };
    let q = listing.q.as_deref().unwrap_or("").trim().to_owned();
    let only = listing.ecosystem.as_deref().filter(|e| !e.is_empty());
    if q.is_empty() && only.is_none() {
        let mut rows = String::new();
        for shelf in catalog.shelves.iter().filter(|s| !s.groups.is_empty()) {
            let _ = writeln!(
                rows,
                "<tr><td><a href=\"/ui/browse/{}\">{}</a></td><td>{}</td><td>{}</td></tr>",
                html::path(shelf.name),
                escape(shelf.title),
                shelf.groups.len(),
                shelf.entries
            );
        }
        let body = format!(
            "<p>Generation {}. Search by name with the box above, or open an ecosystem.</p>\n{}",
            catalog.generation.id,
            html::table(
                "Ecosystems",
                &["Ecosystem", "Packages", "Index entries"],
                &rows
            )
        );
        return html::page(StatusCode::OK, "Browse", "/ui/browse", &body);
    }
    let needle = q.to_lowercase();
    let page = listing.page();
    let (rows, total) = matching(&catalog, only, &needle, page);
    let title = if q.is_empty() {
        "Browse".to_owned()
    } else {
        format!("Search: {q}")
    };
    let mut body = format!(
        "<form method=\"get\" action=\"/ui/browse\"><label for=\"search-q\">Name contains</label> \
         <input id=\"search-q\" name=\"q\" type=\"search\" value=\"{}\"> \
         <label for=\"search-e\">in</label> <select id=\"search-e\" name=\"ecosystem\"><option value=\"\">every ecosystem</option>",
        escape(&q)
    );
    for shelf in catalog.shelves.iter().filter(|s| !s.groups.is_empty()) {
        let selected = if only == Some(shelf.name) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{}\"{selected}>{}</option>",
            escape(shelf.name),
            escape(shelf.title)
        );
    }
    let _ = writeln!(
        body,
        "</select> <button type=\"submit\">Search</button></form>\n<p>{total} package{} found.</p>",
        if total == 1 { "" } else { "s" }
    );
    body.push_str(&html::table(
        "Packages",
        &["Ecosystem", "Name", "Versions, files or tags", "Newest"],
        &rows,
    ));
    let q_part = html::query(&q);
    let e_part = html::query(only.unwrap_or(""));
    body.push_str(&html::pager(total, GROUPS_PER_PAGE, page, |p| {
        format!("/ui/browse?q={q_part}&ecosystem={e_part}&page={p}")
    }));
    html::page(StatusCode::OK, &title, "/ui/browse", &body)
}

/// The rows of page `page` of the packages whose lowercase name contains
/// `needle`, and how many there are.
fn matching(catalog: &Catalog, only: Option<&str>, needle: &str, page: usize) -> (String, usize) {
    let skip = (page - 1) * GROUPS_PER_PAGE;
    let mut total = 0;
    let mut rows = String::new();
    for shelf in &catalog.shelves {
        if only.is_some_and(|o| o != shelf.name) {
            continue;
        }
        for group in &shelf.groups {
            if !needle.is_empty() && !group.lower.contains(needle) {
                continue;
            }
            if total >= skip && total < skip + GROUPS_PER_PAGE {
                rows.push_str(&group_row(shelf.name, group));
            }
            total += 1;
        }
    }
    (rows, total)
}

fn group_row(ecosystem: &str, group: &catalog::Group) -> String {
    let newest = group
        .items
        .iter()
        .find(|i| i.kind == Kind::Package)
        .or(group.items.first())
        .map(|i| i.version.as_str())
        .unwrap_or("");
    format!(
        "<tr><td>{}</td><td><a href=\"/ui/browse/{}/{}\">{}</a></td><td>{}</td><td><code>{}</code></td></tr>\n",
        escape(ecosystem),
        html::path(ecosystem),
        html::path(&group.name),
        escape(&group.name),
        group.items.len(),
        escape(newest)
    )
}

/// `GET /ui/browse/{ecosystem}`: an ecosystem's packages, paged.
pub async fn shelf(
    State(state): State<views::State>,
    Path(ecosystem): Path<String>,
    Query(listing): Query<Listing>,
) -> Response {
    let catalog = match state.catalog().await {
        Ok(Some(catalog)) => catalog,
        Ok(None) => return html::page(StatusCode::OK, "Browse", "/ui/browse", &no_generation()),
        Err(e) => return unavailable(e),
    };
    let Some(shelf) = catalog.shelf(&ecosystem) else {
        return html::problem(
            StatusCode::NOT_FOUND,
            &format!("This server has no ecosystem named {ecosystem:?}."),
        );
    };
    let page = listing.page();
    let (rows, total) = matching(&catalog, Some(shelf.name), "", page);
    let mut body = format!(
        "<p>{} packages in generation {}{}.</p>\n",
        total,
        catalog.generation.id,
        if shelf.served_at.is_empty() {
            String::new()
        } else {
            format!(", served at <code>{}</code>", escape(shelf.served_at))
        }
    );
    body.push_str(&html::table(
        "Packages",
        &["Ecosystem", "Name", "Versions, files or tags", "Newest"],
        &rows,
    ));
    let e_part = html::path(shelf.name);
    body.push_str(&html::pager(total, GROUPS_PER_PAGE, page, |p| {
        format!("/ui/browse/{e_part}?page={p}")
    }));
    html::page(StatusCode::OK, shelf.title, "/ui/browse", &body)
}

/// `GET /ui/browse/{ecosystem}/{name}`: one package's versions, files or
/// tags, each with its digest and the command that installs or pulls it.
pub async fn package(
    State(state): State<views::State>,
    Path((ecosystem, name)): Path<(String, String)>,
    Query(listing): Query<Listing>,
    headers: HeaderMap,
    scheme: Option<Extension<airlift_http::Scheme>>,
) -> Response {
    let catalog = match state.catalog().await {
        Ok(Some(catalog)) => catalog,
        Ok(None) => {
            return html::page(
                StatusCode::NOT_FOUND,
                "Browse",
                "/ui/browse",
                &no_generation(),
            );
        }
        Err(e) => return unavailable(e),
    };
    let Some(shelf) = catalog.shelf(&ecosystem) else {
        return html::problem(
            StatusCode::NOT_FOUND,
            &format!("This server has no ecosystem named {ecosystem:?}."),
        );
    };
    let Ok(position) = shelf
        .groups
        .binary_search_by(|g| g.name.as_str().cmp(name.as_str()))
    else {
        return html::problem(
            StatusCode::NOT_FOUND,
            &format!(
                "Generation {} carries no {name:?} in {}.",
                catalog.generation.id, shelf.title
            ),
        );
    };
    let group = &shelf.groups[position];
    let base = base(&headers, scheme);
    let page = listing.page();
    let mut rows = String::new();
    for item in group
        .items
        .iter()
        .skip((page - 1) * ITEMS_PER_PAGE)
        .take(ITEMS_PER_PAGE)
    {
        let what = match item.kind {
            Kind::Tag => "tag",
            Kind::Package if shelf.name == "oci" => "manifest",
            Kind::Package => "",
        };
        let file = item
            .key
            .rsplit('/')
            .next()
            .filter(|f| *f != item.version && *f != group.name)
            .unwrap_or("");
        let command = catalog::command(shelf.name, shelf.served_at, &base, &group.name, item)
            .map(|c| format!("<code>{}</code>", escape(&c)))
            .unwrap_or_default();
        let _ = writeln!(
            rows,
            "<tr><td>{}{}</td><td><code>{}</code></td><td class=\"digest\">{}</td><td>{}</td><td>{command}</td></tr>",
            if what.is_empty() {
                String::new()
            } else {
                format!("<span class=\"muted\">{what}</span> ")
            },
            escape(&item.version),
            escape(file),
            escape(&item.digest),
            html::bytes(item.size),
        );
    }
    let mut body = format!(
        "<p>{} in generation {}: {} {}. \
         Point the client at this server first: <code>airlift client-config</code> prints its settings.</p>\n",
        escape(shelf.title),
        catalog.generation.id,
        group.items.len(),
        if group.items.len() == 1 {
            "version, file or tag"
        } else {
            "versions, files or tags"
        },
    );
    body.push_str(&html::table(
        &format!("Versions of {}", escape(&group.name)),
        &[
            "Version or tag",
            "File",
            "Digest",
            "Size",
            "Install or pull",
        ],
        &rows,
    ));
    let link = format!(
        "/ui/browse/{}/{}",
        html::path(shelf.name),
        html::path(&group.name)
    );
    body.push_str(&html::pager(group.items.len(), ITEMS_PER_PAGE, page, |p| {
        format!("{link}?page={p}")
    }));
    html::page(StatusCode::OK, &group.name, "/ui/browse", &body)
}

/// `GET /ui/imports`: the imports (and refused imports) the audit log
/// records, newest first.
pub async fn imports(
    State(state): State<views::State>,
    Query(listing): Query<Listing>,
) -> Response {
    let audit = match state.audit().await {
        Ok(audit) => audit,
        Err(e) => return unavailable(e),
    };
    let page = listing.page();
    let all: Vec<&airlift_audit::Event> = audit
        .events
        .iter()
        .rev()
        .filter(|e| e.event == "import" || e.event == "import-rejected")
        .collect();
    let mut rows = String::new();
    for event in all
        .iter()
        .skip((page - 1) * EVENTS_PER_PAGE)
        .take(EVENTS_PER_PAGE)
    {
        let outcome = &event.detail["outcome"];
        let status = if event.event == "import-rejected" {
            "<span class=\"bad\">refused</span>".to_owned()
        } else {
            escape(outcome["status"].as_str().unwrap_or("?"))
        };
        let _ = writeln!(
            rows,
            "<tr><td><a href=\"/ui/imports/{index}\">#{index}</a></td><td>{}</td><td>{status}</td><td class=\"digest\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&event.time),
            escape(&short(outcome["bundle_id"].as_str().unwrap_or(""))),
            outcome["version"]
                .as_u64()
                .map(|v| v.to_string())
                .unwrap_or_default(),
            outcome["generation"]["id"]
                .as_u64()
                .map(|v| v.to_string())
                .unwrap_or_default(),
            outcome["handoffs"].as_array().map_or(0, Vec::len),
            index = event.index,
        );
    }
    let mut body = format!("<p>{} imports recorded in the audit log.</p>\n", all.len());
    body.push_str(&html::table(
        "Imports, newest first",
        &[
            "Event",
            "Time",
            "Outcome",
            "Bundle",
            "Version",
            "Generation",
            "Hand-offs",
        ],
        &rows,
    ));
    body.push_str(&html::pager(all.len(), EVENTS_PER_PAGE, page, |p| {
        format!("/ui/imports?page={p}")
    }));
    html::page(StatusCode::OK, "Imports", "/ui/imports", &body)
}

fn short(digest: &str) -> String {
    digest.chars().take(7 + 16).collect()
}

/// `GET /ui/imports/{index}`: one import: bundle, signers, custody chain,
/// admission, and what its generation changed.
pub async fn import(State(state): State<views::State>, Path(index): Path<String>) -> Response {
    let audit = match state.audit().await {
        Ok(audit) => audit,
        Err(e) => return unavailable(e),
    };
    let event = index
        .parse::<usize>()
        .ok()
        .and_then(|i| audit.events.get(i))
        .filter(|e| e.event == "import" || e.event == "import-rejected");
    let Some(event) = event else {
        return html::problem(
            StatusCode::NOT_FOUND,
            &format!("The audit log has no import event #{index}."),
        );
    };
    let detail = &event.detail;
    let outcome = &detail["outcome"];
    let mut body = String::new();
    let _ = write!(
        body,
        "<dl class=\"facts\"><dt>Audit event</dt><dd>#{} at {}</dd><dt>Bundle file</dt><dd><code>{}</code></dd>",
        event.index,
        escape(&event.time),
        escape(detail["bundle"].as_str().unwrap_or("?"))
    );
    if event.event == "import-rejected" {
        let _ = writeln!(
            body,
            "<dt>Outcome</dt><dd class=\"bad\">refused: {}</dd></dl>",
            escape(detail["error"].as_str().unwrap_or("?"))
        );
        return html::page(StatusCode::OK, "Refused import", "/ui/imports", &body);
    }
    let bundle = outcome["bundle_id"].as_str().unwrap_or("");
    let _ = write!(
        body,
        "<dt>Outcome</dt><dd>{}</dd><dt>Bundle id</dt><dd class=\"digest\">{}</dd><dt>Version</dt><dd>{}</dd>",
        escape(outcome["status"].as_str().unwrap_or("?")),
        escape(bundle),
        outcome["version"].as_u64().unwrap_or(0)
    );
    let generation = outcome["generation"]["id"].as_u64();
    if let Some(id) = generation {
        let _ = write!(
            body,
            "<dt>Generation</dt><dd>{id} ({} entries)</dd><dt>New blobs</dt><dd>{} ({})</dd>",
            outcome["generation"]["entries"].as_u64().unwrap_or(0),
            outcome["blobs_added"].as_u64().unwrap_or(0),
            html::bytes(outcome["bytes_added"].as_u64().unwrap_or(0)),
        );
        let changes = match state.changes(id).await {
            Some(c) => format!(
                "{} added, {} changed, {} removed",
                c.added, c.changed, c.removed
            ),
            None => {
                "<span class=\"muted\">not known: the generation before it is no longer kept</span>"
                    .to_owned()
            }
        };
        let _ = write!(body, "<dt>Entries</dt><dd>{changes}</dd>");
    }
    // Signers are known for the last import only: its targets metadata is
    // the one kept.
    let last = state
        .ui
        .store
        .meta
        .state(state_keys::LAST_BUNDLE_ID)
        .ok()
        .flatten();
    if last.as_deref() == Some(bundle) && !bundle.is_empty() {
        let signers = state.signers(bundle).await;
        let _ = write!(
            body,
            "<dt>Signed by</dt><dd>{}</dd>",
            signers_html(&signers, "not known")
        );
    }
    body.push_str("</dl>\n<h2>Chain of custody</h2>\n");
    let handoffs = outcome["handoffs"].as_array().cloned().unwrap_or_default();
    if handoffs.is_empty() {
        body.push_str("<p>The bundle came with no hand-offs.</p>\n");
    } else {
        let verified = outcome["handoffs_verified"].as_bool().unwrap_or(false);
        let _ = writeln!(
            body,
            "<p>{}</p>",
            if verified {
                "<span class=\"ok\">Every signer was checked against the site's custody policy.</span>"
            } else {
                "<span class=\"warn\">The chain was checked, but not who signed it: this site has no custody policy.</span>"
            }
        );
        let mut rows = String::new();
        for (n, h) in handoffs.iter().enumerate() {
            let _ = writeln!(
                rows,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                n + 1,
                escape(h["from"].as_str().unwrap_or("")),
                escape(h["to"].as_str().unwrap_or("")),
                escape(h["time"].as_str().unwrap_or("")),
                escape(h["note"].as_str().unwrap_or("")),
            );
        }
        body.push_str(&html::table(
            "Hand-offs, in order",
            &["#", "From (signer)", "To", "Time", "Note"],
            &rows,
        ));
    }
    if let Some(admission) = outcome.get("admission") {
        let _ = write!(
            body,
            "<h2>Admission</h2>\n<pre>{}</pre>\n",
            escape(&serde_json::to_string_pretty(admission).unwrap_or_default())
        );
    }
    html::page(
        StatusCode::OK,
        &format!("Import #{}", event.index),
        "/ui/imports",
        &body,
    )
}

/// `GET /ui/audit?event=&page=`: the audit log, newest first, filterable
/// by event kind, with its verification.
pub async fn audit(State(state): State<views::State>, Query(listing): Query<Listing>) -> Response {
    let audit = match state.audit().await {
        Ok(audit) => audit,
        Err(e) => return unavailable(e),
    };
    let only = listing.event.as_deref().filter(|e| !e.is_empty());
    let page = listing.page();
    let mut body = format!(
        "<p>Verification (as <code>airlift audit verify</code>, against the head the index records): {}</p>\n",
        verification_line(&audit.verified)
    );
    body.push_str("<ul class=\"filters\" aria-label=\"Filter by event\">");
    let _ = write!(
        body,
        "<li><a href=\"/ui/audit\"{}>every event ({})</a></li>",
        if only.is_none() {
            " aria-current=\"page\""
        } else {
            ""
        },
        audit.events.len()
    );
    for (kind, count) in &audit.kinds {
        let _ = write!(
            body,
            "<li><a href=\"/ui/audit?event={}\"{}>{} ({count})</a></li>",
            html::query(kind),
            if only == Some(kind.as_str()) {
                " aria-current=\"page\""
            } else {
                ""
            },
            escape(kind)
        );
    }
    body.push_str("</ul>\n");
    let matching: Vec<&airlift_audit::Event> = audit
        .events
        .iter()
        .rev()
        .filter(|e| only.is_none_or(|o| e.event == o))
        .collect();
    let mut rows = String::new();
    for event in matching
        .iter()
        .skip((page - 1) * EVENTS_PER_PAGE)
        .take(EVENTS_PER_PAGE)
    {
        let who = event.detail["caller"]["principal"]
            .as_str()
            .or(event.detail["by"].as_str())
            .or(event.detail["operator"].as_str())
            .or(event.detail["user"].as_str())
            .unwrap_or("");
        let mut summary = serde_json::to_string(&event.detail).unwrap_or_default();
        if summary.len() > 300 {
            let cut = (0..=300)
                .rev()
                .find(|&i| summary.is_char_boundary(i))
                .unwrap_or(0);
            summary.truncate(cut);
            summary.push('…');
        }
        let link = if event.event == "import" || event.event == "import-rejected" {
            format!("<a href=\"/ui/imports/{i}\">#{i}</a>", i = event.index)
        } else {
            format!("#{}", event.index)
        };
        let _ = writeln!(
            rows,
            "<tr><td>{link}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(&event.time),
            escape(&event.event),
            escape(who),
            escape(&summary)
        );
    }
    body.push_str(&html::table(
        &format!(
            "{} event{}, newest first",
            matching.len(),
            if matching.len() == 1 { "" } else { "s" }
        ),
        &["#", "Time", "Event", "Who", "Detail"],
        &rows,
    ));
    let e_part = html::query(only.unwrap_or(""));
    body.push_str(&html::pager(matching.len(), EVENTS_PER_PAGE, page, |p| {
        format!("/ui/audit?event={e_part}&page={p}")
    }));
    html::page(StatusCode::OK, "Audit log", "/ui/audit", &body)
}

/// `GET /ui/documents`: the site's documents (SBOMs, staleness) carried in
/// the current generation, and the last drift check.
pub async fn documents(State(state): State<views::State>) -> Response {
    let catalog = match state.catalog().await {
        Ok(catalog) => catalog,
        Err(e) => return unavailable(e),
    };
    let mut body = String::from("<h2>Documents</h2>\n");
    let documents: Vec<(&catalog::Shelf, &catalog::Item)> = catalog
        .iter()
        .flat_map(|c| c.shelves.iter())
        .flat_map(|s| s.documents.iter().map(move |d| (s, d)))
        .collect();
    if documents.is_empty() {
        body.push_str("<p>The current generation carries no site documents: <code>airlift collect</code> writes the SBOMs of every generation it makes, so this one was made before they were carried, or by pushes only.</p>\n");
    } else {
        let mut rows = String::new();
        for (shelf, item) in documents {
            let href = format!("{}{}", shelf.served_at, html::path(&item.key));
            let _ = writeln!(
                rows,
                "<tr><td><a href=\"{}\">{}</a></td><td class=\"digest\">{}</td><td>{}</td></tr>",
                escape(&href),
                escape(&item.key),
                escape(&item.digest),
                html::bytes(item.size)
            );
        }
        body.push_str(&html::table(
            "Site documents in the current generation",
            &["Document", "Digest", "Size"],
            &rows,
        ));
    }
    body.push_str("<h2>Drift</h2>\n");
    let ui = state.ui.clone();
    let record = tokio::task::spawn_blocking(move || {
        ui.store
            .meta
            .records(ui.drift_record.0)
            .ok()?
            .into_iter()
            .find(|(name, _)| name == ui.drift_record.1)
            .and_then(|(_, value)| serde_json::from_str::<serde_json::Value>(&value).ok())
    })
    .await
    .ok()
    .flatten();
    match record.as_ref().and_then(|r| r.as_object()) {
        None => body.push_str("<p>No drift check was recorded: <code>airlift drift</code> compares what runs with what was carried.</p>\n"),
        Some(fields) => {
            let mut rows = String::new();
            for (field, value) in fields.iter().filter(|(f, _)| !f.starts_with("finding")) {
                let shown = match (field.as_str(), value.as_i64()) {
                    ("checked_at", Some(t)) if t > 0 => html::time(t),
                    _ => match value {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                };
                let _ = writeln!(
                    rows,
                    "<tr><td>{}</td><td>{}</td></tr>",
                    escape(field),
                    escape(&shown)
                );
            }
            body.push_str(&html::table(
                "The last drift check, as <code>airlift drift</code> recorded it",
                &["Count", "Value"],
                &rows,
            ));
        }
    }
    body.push_str("<h2>Findings</h2>\n");
    let fields = record.as_ref().and_then(|r| r.as_object());
    match fields.filter(|f| f.get("finding_check").and_then(serde_json::Value::as_u64) == Some(1)) {
        Some(fields) => {
            let mut rows = String::new();
            for severity in ["critical", "high", "medium", "low", "unknown"] {
                let count = fields
                    .get(&format!("findings_{severity}"))
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                let _ = writeln!(rows, "<tr><td>{severity}</td><td>{count}</td></tr>");
            }
            body.push_str(&html::table(
                "Advisory findings on the packages the last drift check read, by severity",
                &["Severity", "Findings"],
                &rows,
            ));
        }
        None => body.push_str("<p>No findings were counted: the last <code>airlift drift</code> read a generation without an advisory database, or none ran.</p>\n"),
    }
    body.push_str("<p>Each finding, with the versions that fix it: <code>airlift scan</code> (offline, against the carried advisory database), <code>airlift drift</code> (whether a fix is upstream) and <code>airlift report</code>.</p>\n");
    html::page(StatusCode::OK, "SBOMs and drift", "/ui/documents", &body)
}

/// The signers of a bundle, one a line, or `unknown` (muted) when none
/// are known.
fn signers_html<S: AsRef<str>>(signers: &[S], unknown: &str) -> String {
    if signers.is_empty() {
        return format!("<span class=\"muted\">{}</span>", escape(unknown));
    }
    signers
        .iter()
        .map(|s| escape(s.as_ref()))
        .collect::<Vec<_>>()
        .join("<br>")
}
