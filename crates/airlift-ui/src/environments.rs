//! The environments page (ADR 0027): each environment's generation and
//! history, a preview of each promotion, and the promote and rollback
//! forms.
//!
//! The forms are the one place the UI changes anything. Each is a `POST`
//! that the server's gate lets through only for a principal allowed
//! `admin` on the environment's name in the `ui` pseudo-ecosystem (see
//! [`crate::access`]); the handler then refuses a request that a browser
//! marks as coming from another site (`Sec-Fetch-Site`), or whose `Origin`
//! is not this server, so that another page cannot make a signed-in
//! browser move an environment. Every move is recorded in the audit log
//! (`env-promote`, `env-rollback`) with the caller. A promotion into an
//! environment that needs approvals is not offered: the page shows the
//! CLI command, since approvals are signatures made offline.

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use airlift_store::environment;

use crate::html::{self, escape};
use crate::views;

use environment::{DEFAULT, Environment, EnvironmentError};

async fn environments(state: &views::State) -> Result<Vec<Environment>, String> {
    let store = state.ui.store.clone();
    tokio::task::spawn_blocking(move || {
        environment::list(store.meta.as_ref()).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// The environments part of the overview.
pub async fn summary(state: &views::State) -> String {
    let mut out = String::from("<h2>Environments</h2>\n");
    match environments(state).await {
        Err(e) => {
            let _ = writeln!(out, "<p class=\"bad\">{}</p>", escape(&e));
        }
        Ok(list) if list.is_empty() => out.push_str(
            "<p>One environment, <code>default</code>, follows every import. \
             <a href=\"/ui/environments\">Environments</a> explains how to stage imports.</p>\n",
        ),
        Ok(list) => {
            let mut rows = String::new();
            for e in &list {
                let _ = writeln!(
                    rows,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&e.name),
                    e.generation,
                    html::time(e.moved_at),
                    escape(&e.moved_by)
                );
            }
            out.push_str(&html::table(
                "Generation per environment (<code>default</code> follows every import)",
                &["Environment", "Generation", "Moved", "By"],
                &rows,
            ));
        }
    }
    out
}

/// `GET /ui/environments`.
pub async fn page(State(state): State<views::State>) -> Response {
    let current = match state.current().await {
        Ok(current) => current,
        Err(e) => {
            return html::problem(StatusCode::INTERNAL_SERVER_ERROR, &e.0);
        }
    };
    let list = match environments(&state).await {
        Ok(list) => list,
        Err(e) => return html::problem(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let mut body = String::from(
        "<p>An environment is a name pinned to a generation. <code>default</code> follows every import; \
         a named one moves only when promoted or rolled back, and is served under <code>/env/NAME/</code>. \
         The CLI does the same: <code>airlift env</code>, <code>airlift promote</code>, <code>airlift rollback</code>.</p>\n",
    );
    let mut rows = String::new();
    let _ = writeln!(
        rows,
        "<tr><td><code>{DEFAULT}</code></td><td>{}</td><td class=\"muted\">follows every import</td><td></td><td></td><td></td></tr>",
        current
            .as_ref()
            .map(|g| g.id.to_string())
            .unwrap_or_else(|| "none".to_owned())
    );
    for e in &list {
        let history = if e.history.is_empty() {
            "<span class=\"muted\">none</span>".to_owned()
        } else {
            e.history
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let name = html::path(&e.name);
        let mut actions = String::new();
        // Promote from each other environment, through its preview.
        let sources = std::iter::once(DEFAULT)
            .chain(list.iter().map(|o| o.name.as_str()))
            .filter(|source| *source != e.name);
        if e.approvals > 0 {
            let _ = write!(
                actions,
                "Needs {} approvals, signed offline: <code>airlift promote --from SOURCE --to {} --request promotion.json</code>, \
                 then <code>airlift approve</code>, then <code>airlift promote --approved promotion.json</code>",
                e.approvals,
                escape(&e.name)
            );
        } else {
            let _ = write!(
                actions,
                "<form class=\"inline\" method=\"get\" action=\"/ui/environments/{name}/promote\">\
                 <label for=\"from-{name}\">Promote from</label> <select id=\"from-{name}\" name=\"from\">"
            );
            for source in sources {
                let _ = write!(
                    actions,
                    "<option value=\"{s}\">{s}</option>",
                    s = escape(source)
                );
            }
            actions.push_str("</select> <button type=\"submit\">Preview</button></form>");
        }
        if !e.history.is_empty() {
            let _ = write!(
                actions,
                "<form class=\"inline\" method=\"post\" action=\"/ui/environments/{name}/rollback\">\
                 <label for=\"to-{name}\">Roll back to</label> <select id=\"to-{name}\" name=\"to\">"
            );
            for g in &e.history {
                let _ = write!(actions, "<option value=\"{g}\">generation {g}</option>");
            }
            actions.push_str("</select> <button type=\"submit\">Roll back</button></form>");
        }
        let _ = writeln!(
            rows,
            "<tr><td><code>{}</code></td><td>{}</td><td>{history}</td><td>{}</td><td>{}</td><td>{actions}</td></tr>",
            escape(&e.name),
            e.generation,
            html::time(e.moved_at),
            escape(&e.moved_by),
        );
    }
    body.push_str(&html::table(
        "Environments",
        &[
            "Environment",
            "Generation",
            "Earlier generations",
            "Moved",
            "By",
            "Move",
        ],
        &rows,
    ));
    if list.is_empty() {
        body.push_str("<p>No named environment yet: <code>airlift env create staging</code> pins one to the current generation.</p>\n");
    }
    html::page(StatusCode::OK, "Environments", "/ui/environments", &body)
}

/// The form of a promotion.
#[derive(Debug, Deserialize)]
pub struct PromoteForm {
    from: Option<String>,
}

/// The form of a rollback.
#[derive(Debug, Deserialize)]
pub struct RollbackForm {
    to: Option<String>,
}

/// `GET /ui/environments/{name}/promote?from=SOURCE`: what the promotion
/// changes, and the button that makes it.
pub async fn preview(
    State(state): State<views::State>,
    Path(name): Path<String>,
    Query(form): Query<PromoteForm>,
) -> Response {
    let from = form.from.unwrap_or_else(|| DEFAULT.to_owned());
    let store = state.ui.store.clone();
    let (source, target) = (from.clone(), name.clone());
    let found = tokio::task::spawn_blocking(move || {
        let meta = store.meta.as_ref();
        let target = environment::list(meta)?
            .into_iter()
            .find(|e| e.name == target)
            .ok_or(EnvironmentError::Unknown(target))?;
        Ok::<_, EnvironmentError>((environment::generation_of(meta, &source)?, target))
    })
    .await;
    let (generation, target) = match found {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return refused(&e),
        Err(e) => return html::problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let title = format!("Promote {from} to {name}");
    let mut body = format!(
        "<p><code>{}</code> serves generation {}; <code>{}</code> serves generation {generation}.</p>\n",
        escape(&name),
        target.generation,
        escape(&from)
    );
    match state.between(Some(target.generation), generation).await {
        Some(c) => {
            let _ = writeln!(
                body,
                "<p>Promoting changes {} entries: {} added, {} changed, {} removed.</p>",
                c.added + c.changed + c.removed,
                c.added,
                c.changed,
                c.removed
            );
        }
        None => body.push_str("<p class=\"muted\">The change is not known: one of the generations is no longer kept.</p>\n"),
    }
    if target.approvals > 0 {
        let _ = writeln!(
            body,
            "<p>Promotions into <code>{n}</code> need {} approvals, which are signed offline: \
             <code>airlift promote --from {f} --to {n} --request promotion.json</code>, then \
             <code>airlift approve</code>, then <code>airlift promote --approved promotion.json</code>.</p>",
            target.approvals,
            n = escape(&name),
            f = escape(&from)
        );
    } else {
        let _ = writeln!(
            body,
            "<form method=\"post\" action=\"/ui/environments/{}/promote\">\
             <input type=\"hidden\" name=\"from\" value=\"{}\">\
             <button type=\"submit\">Promote {} to {}</button></form>",
            html::path(&name),
            escape(&from),
            escape(&from),
            escape(&name)
        );
    }
    html::page(StatusCode::OK, &title, "/ui/environments", &body)
}

/// Refuses a form that a browser did not send from this server's own
/// pages: `Sec-Fetch-Site` must be `same-origin` when the browser sends
/// it, else `Origin` must be this server.
fn cross_site(headers: &HeaderMap, scheme: Option<airlift_http::Scheme>) -> Option<String> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return (site.as_bytes() != b"same-origin").then(|| {
            format!(
                "refused: the form was sent from another site (Sec-Fetch-Site: {})",
                String::from_utf8_lossy(site.as_bytes())
            )
        });
    }
    let base = airlift_http::base_url(scheme, headers);
    match (headers.get(header::ORIGIN), base) {
        (Some(origin), Some(base)) if origin.as_bytes() == base.as_bytes() => None,
        (Some(origin), _) => Some(format!(
            "refused: the form was sent from {}, not this server",
            String::from_utf8_lossy(origin.as_bytes())
        )),
        (None, _) => {
            Some("refused: the request has no Origin; use the CLI to script moves".to_owned())
        }
    }
}

/// Who may move: the principal the gate authenticated.
fn principal(caller: &Option<Extension<airlift_ecosystem::Caller>>) -> Option<String> {
    caller.as_ref().and_then(|c| c.0.principal.clone())
}

fn refused(error: &EnvironmentError) -> Response {
    let status = match error {
        EnvironmentError::Unknown(_) => StatusCode::NOT_FOUND,
        EnvironmentError::InvalidName(_) => StatusCode::BAD_REQUEST,
        EnvironmentError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::CONFLICT,
    };
    html::problem(status, &error.to_string())
}

/// What a move needs before it runs: a same-site form and a principal.
fn admitted(
    headers: &HeaderMap,
    scheme: Option<Extension<airlift_http::Scheme>>,
    caller: &Option<Extension<airlift_ecosystem::Caller>>,
) -> Result<String, Box<Response>> {
    if let Some(refusal) = cross_site(headers, scheme.map(|s| s.0)) {
        return Err(Box::new(html::problem(StatusCode::FORBIDDEN, &refusal)));
    }
    principal(caller).ok_or_else(|| {
        Box::new(html::problem(
            StatusCode::FORBIDDEN,
            "Moving an environment needs a signed-in user allowed to (admin on it in `ui`).",
        ))
    })
}

/// Records a move in the audit log.
async fn record(
    state: &views::State,
    event: &'static str,
    detail: serde_json::Value,
) -> Result<(), String> {
    let Some(hook) = state.ui.audit.clone() else {
        return Ok(());
    };
    tokio::task::spawn_blocking(move || hook(event, detail))
        .await
        .map_err(|e| e.to_string())?
}

/// `POST /ui/environments/{name}/promote` (form: `from`).
pub async fn promote(
    State(state): State<views::State>,
    Path(name): Path<String>,
    headers: HeaderMap,
    scheme: Option<Extension<airlift_http::Scheme>>,
    caller: Option<Extension<airlift_ecosystem::Caller>>,
    Form(form): Form<PromoteForm>,
) -> Response {
    let by = match admitted(&headers, scheme, &caller) {
        Ok(by) => by,
        Err(refusal) => return *refusal,
    };
    let from = form.from.unwrap_or_else(|| DEFAULT.to_owned());
    let store = state.ui.store.clone();
    let (source, target, who) = (from.clone(), name.clone(), by.clone());
    let now = jiff::Timestamp::now().as_second();
    let moved = tokio::task::spawn_blocking(move || {
        environment::promote(store.meta.as_ref(), &source, &target, &who, now)
    })
    .await;
    let moved = match moved {
        Ok(Ok(moved)) => moved,
        Ok(Err(e)) => return refused(&e),
        Err(e) => return html::problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let changes = state.between(Some(moved.from), moved.to).await;
    let detail = serde_json::json!({
        "environment": moved.environment,
        "from_environment": from,
        "from": moved.from,
        "to": moved.to,
        "by": by,
        "via": "ui",
        "caller": caller.map(|c| c.0.audit()),
        "added": changes.map(|c| c.added),
        "changed": changes.map(|c| c.changed),
        "removed": changes.map(|c| c.removed),
    });
    if let Err(e) = record(&state, "env-promote", detail).await {
        tracing::warn!("the audit log did not record a promotion of {name}: {e}");
    }
    Redirect::to("/ui/environments").into_response()
}

/// `POST /ui/environments/{name}/rollback` (form: `to`, a generation of its
/// history; the one before when absent).
pub async fn rollback(
    State(state): State<views::State>,
    Path(name): Path<String>,
    headers: HeaderMap,
    scheme: Option<Extension<airlift_http::Scheme>>,
    caller: Option<Extension<airlift_ecosystem::Caller>>,
    Form(form): Form<RollbackForm>,
) -> Response {
    let by = match admitted(&headers, scheme, &caller) {
        Ok(by) => by,
        Err(refusal) => return *refusal,
    };
    let to = match form.to.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(to) => Some(to),
            Err(_) => {
                return html::problem(
                    StatusCode::BAD_REQUEST,
                    &format!("{text:?} is not a generation number"),
                );
            }
        },
    };
    let store = state.ui.store.clone();
    let (target, who) = (name.clone(), by.clone());
    let now = jiff::Timestamp::now().as_second();
    let moved = tokio::task::spawn_blocking(move || {
        environment::rollback(store.meta.as_ref(), &target, to, &who, now)
    })
    .await;
    let moved = match moved {
        Ok(Ok(moved)) => moved,
        Ok(Err(e)) => return refused(&e),
        Err(e) => return html::problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let detail = serde_json::json!({
        "environment": moved.environment,
        "from": moved.from,
        "to": moved.to,
        "by": by,
        "via": "ui",
        "caller": caller.map(|c| c.0.audit()),
    });
    if let Err(e) = record(&state, "env-rollback", detail).await {
        tracing::warn!("the audit log did not record a rollback of {name}: {e}");
    }
    Redirect::to("/ui/environments").into_response()
}
