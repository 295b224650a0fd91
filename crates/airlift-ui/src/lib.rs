//! The web UI of `airlift serve`: pages at `/ui/`, rendered on the server.
//!
//! Every page is plain HTML with one stylesheet compiled into the binary
//! (served at `/ui/static/`), nothing loaded from elsewhere and no script:
//! it runs in the gap and reads without JavaScript. Every answer sets its own
//! `Content-Security-Policy` ([`html::POLICY`]), which the server keeps.
//!
//! - `overview`: the current generation, environments, the last import
//!   (bundle, signers, custody), expiry dates, disk, health.
//! - `browse`: every ecosystem's packages, versions, files, images and tags,
//!   searchable, each with its digest and the command that installs or
//!   pulls it.
//! - `imports`: the imports the audit log records, each with its custody
//!   chain and the entries its generation added, changed and removed.
//! - `audit`: the audit log, filterable by event, with its verification.
//! - `documents`: the site's documents (SBOMs) and the last drift check.
//! - `environments`: each environment's generation and history, with
//!   promote and rollback forms.
//!
//! What pages derive from entries is computed once per generation
//! ([`catalog`]); what they derive from the audit log, once per log head.
//! Access: the server's gate decides every `/ui/` request with
//! [`access`] (reading is `read` on the pseudo-ecosystem [`ACCESS_NAME`];
//! moving an environment is `admin` on its name); the forms that change
//! state also refuse cross-site requests. See ADR 0028.

pub mod catalog;
mod environments;
pub mod html;
mod pages;
mod views;

use std::path::PathBuf;
use std::sync::Arc;

use airlift_ecosystem::{Access, Action, AuditHook, Registry, Scope};
use airlift_store::Store;
use axum::Router;
use axum::http::Method;
use axum::routing::{get, post};

/// The name access rules and token scopes use for the UI (`ecosystems =
/// ["ui"]`, `ui:*:read`).
pub const ACCESS_NAME: &str = "ui";

/// The stylesheet's file name under `/ui/static/`; it changes with the
/// content, so the file is cached for good.
pub const STYLE_NAME: &str = "style-1.css";

/// The stylesheet.
const STYLE: &str = include_str!("../static/style.css");

/// What the UI reads.
#[derive(Clone)]
pub struct Ui {
    /// The store (index and state).
    pub store: Store,
    /// The ecosystems, in the server's order.
    pub ecosystems: Arc<Registry>,
    /// The site's audit log, with the index as its witness; `None` shows
    /// no events.
    pub log: Option<Arc<airlift_audit::Log>>,
    /// The home, for trust metadata expiry and disk space; `None` leaves
    /// them out.
    pub home: Option<PathBuf>,
    /// Records environment moves made through the UI.
    pub audit: Option<AuditHook>,
    /// The access record (kind, name) where `airlift drift` keeps its
    /// last counts.
    pub drift_record: (&'static str, &'static str),
}

/// What the UI reads besides what the server already has: the audit log
/// and the home. The default shows no events, no expiry and no disk.
#[derive(Clone, Default)]
pub struct Site {
    /// The site's audit log, with the index as its witness.
    pub log: Option<Arc<airlift_audit::Log>>,
    /// The home.
    pub home: Option<PathBuf>,
}

/// What a request to the UI asks, for the server's gate: `read` on every
/// name of [`ACCESS_NAME`] for a page, `admin` on an environment's name
/// to move it; `None` for paths outside `/ui`.
pub fn access(method: &Method, path: &str) -> Option<Access> {
    if path != "/ui" && !path.starts_with("/ui/") {
        return None;
    }
    if *method == Method::GET || *method == Method::HEAD {
        return Some(Access {
            action: Action::Read,
            scope: Scope::All,
        });
    }
    if let Some(rest) = path.strip_prefix("/ui/environments/")
        && let Some((name, _move)) = rest.rsplit_once('/')
        && !name.is_empty()
        && !name.contains('/')
    {
        return Some(Access::name(Action::Admin, name));
    }
    Some(Access {
        action: Action::Admin,
        scope: Scope::All,
    })
}

/// The UI's routes, with their full paths (`/ui/…`).
pub fn routes(ui: Ui) -> Router {
    let state = views::State::new(ui);
    Router::new()
        .route("/ui", get(pages::to_overview))
        .route("/ui/", get(pages::overview))
        .route("/ui/static/{file}", get(pages::style))
        .route("/ui/browse", get(pages::browse))
        .route("/ui/browse/{ecosystem}", get(pages::shelf))
        .route("/ui/browse/{ecosystem}/{*name}", get(pages::package))
        .route("/ui/imports", get(pages::imports))
        .route("/ui/imports/{index}", get(pages::import))
        .route("/ui/audit", get(pages::audit))
        .route("/ui/documents", get(pages::documents))
        .route("/ui/environments", get(environments::page))
        .route(
            "/ui/environments/{name}/promote",
            get(environments::preview).post(environments::promote),
        )
        .route(
            "/ui/environments/{name}/rollback",
            post(environments::rollback),
        )
        .route("/ui/{*rest}", get(pages::not_found))
        .with_state(state)
}

#[cfg(test)]
mod tests;
