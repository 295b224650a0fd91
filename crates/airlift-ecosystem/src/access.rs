//! Access control as the contract sees it.
//!
//! Every ecosystem says what a request of its own protocol asks to do
//! ([`Ecosystem::access`](crate::Ecosystem::access)): an [`Action`] on a
//! [`Scope`] (a package, image repository, archive or file path, or the
//! whole ecosystem). The server authenticates the caller once, asks its
//! [`Gatekeeper`] whether that caller may, and either passes the request on
//! with the [`Caller`] attached or lets the ecosystem answer the refusal in
//! its clients' own words ([`Ecosystem::refuse`](crate::Ecosystem::refuse)).
//! Ecosystems never see credentials.

use std::sync::Arc;

use axum::http::StatusCode;

/// What a request does.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Download, list, resolve.
    Read,
    /// Push, publish, upload.
    Write,
    /// Delete, unpublish.
    Delete,
    /// Everything the others allow, and administration.
    Admin,
}

impl Action {
    /// Its name in access rules, token scopes and audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Delete => "delete",
            Self::Admin => "admin",
        }
    }

    /// Parses a name of [`Action::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            "delete" => Some(Self::Delete),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Whether holding `self` allows `wanted`: an action allows itself, and
    /// admin allows every action.
    pub fn allows(self, wanted: Action) -> bool {
        self == wanted || self == Self::Admin
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an action is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One named thing: an image repository, a project, a crate, an npm
    /// package (with its scope), an apt archive, a file path.
    Name(String),
    /// Everything in the ecosystem at once (a catalog of every repository):
    /// allowed only by a rule that covers every name.
    All,
    /// Something in the ecosystem (its entry page): allowed to whoever may
    /// do the action on any name in it.
    Any,
    /// Only proving who the caller is (a token endpoint): wrong credentials
    /// are refused, no credentials are an anonymous caller, nothing is
    /// authorized here.
    Login,
    /// An API's base endpoint that clients probe to learn where to log in
    /// (the OCI `/v2/`): a caller without credentials is challenged, any
    /// credentials that verify pass (even a token issued to an anonymous
    /// caller).
    Base,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::All => f.write_str("every name"),
            Self::Any => f.write_str("the ecosystem"),
            Self::Login => f.write_str("login"),
            Self::Base => f.write_str("the API base"),
        }
    }
}

/// What one request asks to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// The action.
    pub action: Action,
    /// What it is on.
    pub scope: Scope,
}

impl Access {
    /// `action` on one name.
    pub fn name(action: Action, name: impl Into<String>) -> Self {
        Self {
            action,
            scope: Scope::Name(name.into()),
        }
    }

    /// `action` on something in the ecosystem.
    pub fn any(action: Action) -> Self {
        Self {
            action,
            scope: Scope::Any,
        }
    }

    /// Reading a name (for GET and HEAD) or writing it (anything else).
    pub fn by_method(method: &axum::http::Method, name: impl Into<String>) -> Self {
        let action = if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
            Action::Read
        } else {
            Action::Write
        };
        Self::name(action, name)
    }
}

/// Who made a request, as the server established it.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// The principal's name; `None` for an anonymous caller.
    pub principal: Option<String>,
    /// The token it used, by name, if any.
    pub token: Option<String>,
    /// The client's address.
    pub address: Option<std::net::SocketAddr>,
    /// Its `User-Agent`.
    pub user_agent: Option<String>,
    /// The server's own record of the identity, for its [`Gatekeeper`].
    pub identity: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl Caller {
    /// The facts audit events record: principal (or `anonymous`), token,
    /// address and user agent.
    pub fn audit(&self) -> serde_json::Value {
        serde_json::json!({
            "principal": self.principal.as_deref().unwrap_or("anonymous"),
            "token": self.token,
            "address": self.address.map(|a| a.ip().to_string()),
            "user_agent": self.user_agent,
        })
    }
}

tokio::task_local! {
    static CALLER: Caller;
}

impl Caller {
    /// Runs `future` with `self` as the caller that [`Caller::current`]
    /// returns inside it (the server does this for every request).
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CALLER.scope(self, future).await
    }

    /// The caller of the request being handled, when the server
    /// established one (not in a blocking task: read it before).
    pub fn current() -> Option<Caller> {
        CALLER.try_with(Caller::clone).ok()
    }
}

/// Why a request is refused, for the ecosystem to answer in its
/// protocol's words.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// 401 (who are you?), 403 (not allowed) or 429 (too many failures).
    pub status: StatusCode,
    /// What happened, for people.
    pub message: String,
    /// What was asked, when known.
    pub access: Option<Access>,
    /// The URL of the server as the client reached it (`http://host:port`),
    /// for challenges that name an endpoint.
    pub base: String,
    /// The server's name in challenges (`service=`, `realm=`).
    pub service: String,
    /// Seconds before a rate-limited caller may try again.
    pub retry_after: Option<u64>,
}

/// The server's access decisions, offered to ecosystems that issue tokens
/// or describe their access in their own metadata.
pub trait Gatekeeper: Send + Sync {
    /// Whether anonymous callers may read every name of `ecosystem` (a
    /// cargo registry says `auth-required` otherwise).
    fn anonymous_reads_all(&self, ecosystem: &str) -> bool;

    /// Of `wanted` on `scope`, the actions `caller` may do.
    fn grant(
        &self,
        caller: &Caller,
        ecosystem: &str,
        scope: &Scope,
        wanted: &[Action],
    ) -> Vec<Action>;

    /// Whether the caller's user (within its API token's scopes, if any)
    /// may do `action` on `scope`, whatever a registry token it presented
    /// was granted: when it may, a request its registry token does not
    /// cover is answered with a challenge for a wider token, not refused.
    fn principal_may(
        &self,
        caller: &Caller,
        ecosystem: &str,
        scope: &Scope,
        action: Action,
    ) -> bool;

    /// The server's name in challenges (`service=`).
    fn service(&self) -> &str;

    /// Decides `action` on `scope` for `caller` exactly as the server's
    /// guard does (rules, token scopes, registry grants, hosted names), for
    /// a handler that learns the name only from the request body (a
    /// `twine upload`, a `cargo publish`): `Err` is the refusal's status
    /// (401 or 403) and message.
    fn authorize(
        &self,
        caller: &Caller,
        ecosystem: &str,
        scope: &Scope,
        action: Action,
    ) -> Result<(), (StatusCode, String)>;

    /// A short-lived signed token for `caller` that allows `grants` (name
    /// and actions) in `ecosystem`, and how many seconds it lives.
    fn issue(
        &self,
        caller: &Caller,
        ecosystem: &str,
        grants: &[(Scope, Vec<Action>)],
    ) -> Result<(String, u64), String>;
}
