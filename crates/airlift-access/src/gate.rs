//! The server's access gate: credentials in, a decision out.
//!
//! Credentials arrive in the forms clients send them:
//! - HTTP Basic `user:password` (pip, uv, apt, curl, the OCI token
//!   endpoint), or `user:token` and `__token__:token` (the PyPI
//!   convention) with an API token as the password;
//! - `Bearer <token>` (npm's `_authToken`, curl), where the token is an
//!   API token or a registry token this server issued;
//! - a bare `<token>` (cargo, RFC 3139).
//!
//! The directory is kept in memory and reloaded when its version changes,
//! checked at most once per [`RELOAD_EVERY`]: a revoked token stops working
//! within that time on every server that shares the index. A password
//! check costs an argon2id hash (tens of milliseconds, on purpose); a
//! successful one is remembered by the SHA-256 of the user and password
//! until the directory changes, so a client that sends its password with
//! every request pays once. Failures are counted per client address and
//! per user name; after [`MAX_FAILURES`] in [`FAILURE_WINDOW`] further
//! attempts are refused without being checked until the window passes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use airlift_ecosystem::{Action, Caller, Gatekeeper, Scope};
use airlift_store::MetaStore;
use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};

use crate::AccessError;
use crate::directory::{Directory, TOKEN_PREFIX, Token, User, token_hash, verify_password};
use crate::policy::{Policy, Subject, TokenScope};

/// How often the gate looks for changed users and tokens.
pub const RELOAD_EVERY: Duration = Duration::from_secs(1);
/// Failed attempts allowed per address or user name in a window.
pub const MAX_FAILURES: u32 = 10;
/// The window failed attempts are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// How long a registry token lives.
pub const REGISTRY_TOKEN_LIFETIME: u64 = 300;
/// What registry tokens start with.
const REGISTRY_PREFIX: &str = "alr.";
/// The longest credential read (a registry token with many scopes fits).
const MAX_CREDENTIAL: usize = 16 << 10;
/// Entries kept in the failure and password caches before old ones go.
const CACHE_LIMIT: usize = 100_000;

/// Credentials as a request carried them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// None.
    None,
    /// HTTP Basic.
    Basic {
        /// The user name.
        user: String,
        /// The password or token.
        secret: String,
    },
    /// `Bearer` or a bare token.
    Token(String),
    /// A client certificate the TLS handshake verified against the site
    /// CA, by its SHA-256 fingerprint (used when no header is sent).
    Certificate(String),
}

impl Credentials {
    /// Reads an `Authorization` header.
    pub fn parse(header: Option<&[u8]>) -> Result<Self, Failure> {
        let Some(header) = header else {
            return Ok(Self::None);
        };
        if header.len() > MAX_CREDENTIAL {
            return Err(Failure::Malformed);
        }
        let text = std::str::from_utf8(header)
            .map_err(|_| Failure::Malformed)?
            .trim();
        let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = data_encoding::BASE64
                .decode(rest.as_bytes())
                .map_err(|_| Failure::Malformed)?;
            let decoded = String::from_utf8(decoded).map_err(|_| Failure::Malformed)?;
            let (user, secret) = decoded.split_once(':').ok_or(Failure::Malformed)?;
            return Ok(Self::Basic {
                user: user.to_owned(),
                secret: secret.to_owned(),
            });
        }
        if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
            return Ok(Self::Token(rest.to_owned()));
        }
        // cargo sends the token itself, without a scheme.
        if rest.is_empty() && (text.starts_with(TOKEN_PREFIX) || text.starts_with(REGISTRY_PREFIX))
        {
            return Ok(Self::Token(text.to_owned()));
        }
        Err(Failure::Malformed)
    }
}

/// Why credentials were refused; [`Failure::reason`] labels the metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The header does not read.
    Malformed,
    /// No such user.
    UnknownUser,
    /// The password is wrong, or the user has none.
    WrongPassword,
    /// No such token.
    UnknownToken,
    /// The token expired.
    Expired,
    /// The token was revoked (or its user removed).
    Revoked,
    /// A registry token that this server did not sign.
    BadSignature,
    /// A client certificate the site CA signed but that no user has (any
    /// more): revoked, or issued by another home with the same CA.
    UnknownCertificate,
    /// Too many failures: try again after this many seconds.
    Limited(u64),
}

impl Failure {
    /// A short label: `malformed`, `unknown_user`, `wrong_password`,
    /// `unknown_token`, `expired`, `revoked`, `bad_signature`,
    /// `rate_limited`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownUser => "unknown_user",
            Self::WrongPassword => "wrong_password",
            Self::UnknownToken => "unknown_token",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::BadSignature => "bad_signature",
            Self::UnknownCertificate => "unknown_certificate",
            Self::Limited(_) => "rate_limited",
        }
    }

    /// What the client is told. It never says whether a user exists.
    pub fn message(self) -> String {
        match self {
            Self::Malformed => {
                "the Authorization header does not read as Basic, Bearer or a token".to_owned()
            }
            Self::UnknownUser | Self::WrongPassword => "wrong user name or password".to_owned(),
            Self::UnknownToken => "unknown token".to_owned(),
            Self::Expired => {
                "the token has expired; make a new one with `airlift token create`".to_owned()
            }
            Self::Revoked => "the token was revoked".to_owned(),
            Self::BadSignature => "the registry token is not valid here; log in again".to_owned(),
            Self::UnknownCertificate => {
                "the client certificate is not accepted (revoked, or not issued for a user here)"
                    .to_owned()
            }
            Self::Limited(seconds) => format!("too many failed attempts; try again in {seconds} s"),
        }
    }
}

/// Who a caller is, once its credentials checked out.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    /// The user; `None` for an anonymous caller.
    pub user: Option<String>,
    /// Its groups.
    pub groups: Vec<String>,
    /// The API token used, by name.
    pub token: Option<String>,
    /// That token's scopes; `None` when it has none (or no token was used).
    pub scopes: Option<Vec<TokenScope>>,
    /// A registry token's grants: (ecosystem, scope, actions).
    pub grants: Option<Vec<(String, Scope, Vec<Action>)>>,
    /// Whether credentials were presented and verified.
    pub presented: bool,
}

/// What the gate decided about one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go on.
    Allow,
    /// 401: the caller should log in (or log in with a token for this scope).
    Challenge(String),
    /// 403: the caller may not.
    Deny(String),
}

#[derive(Default)]
struct Snapshot {
    version: u64,
    users: HashMap<String, User>,
    tokens_by_hash: HashMap<String, Token>,
    tokens_by_name: HashMap<String, Token>,
    certs: HashMap<String, crate::directory::ClientCert>,
}

struct Loaded {
    checked: Instant,
    snapshot: Arc<Snapshot>,
}

/// The claims of a registry token.
#[derive(Serialize, Deserialize)]
struct Claims {
    sub: Option<String>,
    tok: Option<String>,
    exp: u64,
    acc: Vec<(String, String, Vec<Action>)>,
}

/// Authenticates callers and decides requests; see the module docs.
pub struct Gate {
    directory: Directory,
    policy: Policy,
    service: String,
    key: hmac::Key,
    loaded: Mutex<Loaded>,
    verified: Mutex<HashMap<[u8; 32], u64>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn scope_text(scope: &Scope) -> Option<String> {
    match scope {
        Scope::Name(name) => Some(format!("n:{name}")),
        Scope::All => Some("*".to_owned()),
        Scope::Any => Some("?".to_owned()),
        _ => None,
    }
}

fn scope_of(text: &str) -> Option<Scope> {
    match text {
        "*" => Some(Scope::All),
        "?" => Some(Scope::Any),
        _ => text.strip_prefix("n:").map(|n| Scope::Name(n.to_owned())),
    }
}

impl Gate {
    /// A gate over the directory in `meta`, enforcing `policy`, naming
    /// itself `service` in challenges.
    pub fn new(
        meta: Arc<dyn MetaStore>,
        policy: Policy,
        service: &str,
    ) -> Result<Self, AccessError> {
        let directory = Directory::new(meta);
        let key = hmac::Key::new(hmac::HMAC_SHA256, &directory.registry_key()?);
        let gate = Self {
            directory,
            policy,
            service: service.to_owned(),
            key,
            loaded: Mutex::new(Loaded {
                checked: Instant::now(),
                snapshot: Arc::new(Snapshot::default()),
            }),
            verified: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        };
        let snapshot = gate.load()?;
        if let Ok(mut loaded) = gate.loaded.lock() {
            loaded.snapshot = Arc::new(snapshot);
        }
        Ok(gate)
    }

    /// The policy it enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The name in its challenges.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn load(&self) -> Result<Snapshot, AccessError> {
        let version = self.directory.version()?;
        let users = self
            .directory
            .users()?
            .into_iter()
            .map(|u| (u.name.clone(), u))
            .collect();
        let tokens = self.directory.tokens()?;
        Ok(Snapshot {
            version,
            users,
            tokens_by_hash: tokens.iter().map(|t| (t.hash.clone(), t.clone())).collect(),
            tokens_by_name: tokens.into_iter().map(|t| (t.name.clone(), t)).collect(),
            certs: self
                .directory
                .client_certs()?
                .into_iter()
                .map(|c| (c.fingerprint.clone(), c))
                .collect(),
        })
    }

    /// The directory as of at most [`RELOAD_EVERY`] ago.
    fn snapshot(&self) -> Arc<Snapshot> {
        let Ok(mut loaded) = self.loaded.lock() else {
            return Arc::new(Snapshot::default());
        };
        if loaded.checked.elapsed() >= RELOAD_EVERY {
            loaded.checked = Instant::now();
            match self.directory.version() {
                Ok(version) if version != loaded.snapshot.version => match self.load() {
                    Ok(snapshot) => loaded.snapshot = Arc::new(snapshot),
                    Err(e) => tracing::warn!("reloading users and tokens: {e}"),
                },
                Ok(_) => {}
                Err(e) => tracing::warn!("checking users and tokens: {e}"),
            }
        }
        loaded.snapshot.clone()
    }

    /// Whether checking these credentials hashes a password (slow: call it
    /// off the async workers).
    pub fn is_slow(&self, credentials: &Credentials) -> bool {
        match credentials {
            Credentials::Basic { user, secret } if !secret.starts_with(TOKEN_PREFIX) => {
                let version = self.snapshot().version;
                let key = password_key(user, secret);
                self.verified
                    .lock()
                    .map_or(true, |cache| cache.get(&key) != Some(&version))
            }
            _ => false,
        }
    }

    fn limited(&self, keys: &[String]) -> Option<u64> {
        let failures = self.failures.lock().ok()?;
        keys.iter()
            .filter_map(|key| failures.get(key))
            .filter(|(count, since)| *count >= MAX_FAILURES && since.elapsed() < FAILURE_WINDOW)
            .map(|(_, since)| {
                FAILURE_WINDOW
                    .saturating_sub(since.elapsed())
                    .as_secs()
                    .max(1)
            })
            .max()
    }

    fn fail(&self, keys: &[String], failure: Failure) -> Failure {
        if let Ok(mut failures) = self.failures.lock() {
            if failures.len() >= CACHE_LIMIT {
                failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
            }
            if failures.len() < CACHE_LIMIT {
                for key in keys {
                    let entry = failures.entry(key.clone()).or_insert((0, Instant::now()));
                    if entry.1.elapsed() >= FAILURE_WINDOW {
                        *entry = (0, Instant::now());
                    }
                    entry.0 += 1;
                }
            }
        }
        failure
    }

    /// Checks credentials from `address`.
    pub fn authenticate(
        &self,
        credentials: &Credentials,
        address: Option<IpAddr>,
    ) -> Result<Identity, Failure> {
        let mut keys: Vec<String> = address.map(|a| format!("a:{a}")).into_iter().collect();
        if let Credentials::Basic { user, .. } = credentials {
            keys.push(format!("u:{user}"));
        }
        if !matches!(credentials, Credentials::None)
            && let Some(seconds) = self.limited(&keys)
        {
            return Err(Failure::Limited(seconds));
        }
        let snapshot = self.snapshot();
        let result = match credentials {
            Credentials::None => return Ok(Identity::default()),
            Credentials::Basic { user, secret } if secret.starts_with(TOKEN_PREFIX) => {
                self.api_token(&snapshot, secret).and_then(|identity| {
                    let owner = identity.user.as_deref().unwrap_or_default();
                    if user == owner || user == "__token__" {
                        Ok(identity)
                    } else {
                        Err(Failure::UnknownToken)
                    }
                })
            }
            Credentials::Basic { user, secret } => self.password(&snapshot, user, secret),
            Credentials::Token(token) if token.starts_with(REGISTRY_PREFIX) => {
                self.registry_token(&snapshot, token)
            }
            Credentials::Token(token) => self.api_token(&snapshot, token),
            Credentials::Certificate(fingerprint) => match snapshot.certs.get(fingerprint) {
                None => Err(Failure::UnknownCertificate),
                Some(cert) if cert.expires_at <= now() as i64 => Err(Failure::Expired),
                Some(cert) => snapshot
                    .users
                    .get(&cert.user)
                    .map(Self::user_identity)
                    .ok_or(Failure::Revoked),
            },
        };
        result.map_err(|failure| self.fail(&keys, failure))
    }

    fn user_identity(user: &User) -> Identity {
        Identity {
            user: Some(user.name.clone()),
            groups: user.groups.clone(),
            presented: true,
            ..Identity::default()
        }
    }

    fn password(&self, snapshot: &Snapshot, user: &str, secret: &str) -> Result<Identity, Failure> {
        let found = snapshot.users.get(user).ok_or(Failure::UnknownUser)?;
        let stored = found.password.as_deref().ok_or(Failure::WrongPassword)?;
        let key = password_key(user, secret);
        let cached = self
            .verified
            .lock()
            .is_ok_and(|cache| cache.get(&key) == Some(&snapshot.version));
        if !cached {
            if !verify_password(stored, secret) {
                return Err(Failure::WrongPassword);
            }
            if let Ok(mut cache) = self.verified.lock() {
                if cache.len() >= CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(key, snapshot.version);
            }
        }
        Ok(Self::user_identity(found))
    }

    fn api_token(&self, snapshot: &Snapshot, secret: &str) -> Result<Identity, Failure> {
        let token = snapshot
            .tokens_by_hash
            .get(&token_hash(secret))
            .ok_or(Failure::UnknownToken)?;
        Self::token_identity(snapshot, token)
    }

    fn token_identity(snapshot: &Snapshot, token: &Token) -> Result<Identity, Failure> {
        match token.state(now() as i64) {
            "revoked" => return Err(Failure::Revoked),
            "expired" => return Err(Failure::Expired),
            _ => {}
        }
        let user = snapshot.users.get(&token.user).ok_or(Failure::Revoked)?;
        let scopes = token.parsed_scopes();
        Ok(Identity {
            token: Some(token.name.clone()),
            scopes: (!token.scopes.is_empty()).then_some(scopes),
            ..Self::user_identity(user)
        })
    }

    fn registry_token(&self, snapshot: &Snapshot, token: &str) -> Result<Identity, Failure> {
        let body = token
            .strip_prefix(REGISTRY_PREFIX)
            .ok_or(Failure::BadSignature)?;
        let (claims, signature) = body.rsplit_once('.').ok_or(Failure::BadSignature)?;
        let signature = data_encoding::BASE64URL_NOPAD
            .decode(signature.as_bytes())
            .map_err(|_| Failure::BadSignature)?;
        hmac::verify(
            &self.key,
            &token.as_bytes()[..REGISTRY_PREFIX.len() + claims.len()],
            &signature,
        )
        .map_err(|_| Failure::BadSignature)?;
        let claims = data_encoding::BASE64URL_NOPAD
            .decode(claims.as_bytes())
            .map_err(|_| Failure::BadSignature)?;
        let claims: Claims = serde_json::from_slice(&claims).map_err(|_| Failure::BadSignature)?;
        if claims.exp <= now() {
            return Err(Failure::Expired);
        }
        let mut identity = match (&claims.sub, &claims.tok) {
            (_, Some(name)) => {
                let token = snapshot.tokens_by_name.get(name).ok_or(Failure::Revoked)?;
                Self::token_identity(snapshot, token)?
            }
            (Some(user), None) => {
                Self::user_identity(snapshot.users.get(user).ok_or(Failure::Revoked)?)
            }
            (None, None) => Identity {
                presented: true,
                ..Identity::default()
            },
        };
        identity.grants = Some(
            claims
                .acc
                .into_iter()
                .filter_map(|(ecosystem, scope, actions)| {
                    Some((ecosystem, scope_of(&scope)?, actions))
                })
                .collect(),
        );
        Ok(identity)
    }

    /// Whether the identity's user (or anonymity) and token scopes allow
    /// `action` on `scope`, leaving registry-token grants aside.
    fn permits(&self, identity: &Identity, ecosystem: &str, scope: &Scope, action: Action) -> bool {
        let subject = Subject {
            user: identity.user.as_deref(),
            groups: &identity.groups,
        };
        self.policy.allows(&subject, ecosystem, scope, action)
            && identity
                .scopes
                .as_ref()
                .is_none_or(|scopes| scopes.iter().any(|s| s.allows(ecosystem, scope, action)))
    }

    /// Decides a request: `action` on `scope` in `ecosystem` by `identity`.
    pub fn decide(
        &self,
        identity: &Identity,
        ecosystem: &str,
        scope: &Scope,
        action: Action,
    ) -> Decision {
        let who = match (&identity.user, &identity.token) {
            (Some(user), Some(token)) => format!("user {user:?} (token {token:?})"),
            (Some(user), None) => format!("user {user:?}"),
            (None, _) => "an anonymous caller".to_owned(),
        };
        match scope {
            Scope::Login => return Decision::Allow,
            Scope::Base => {
                return if identity.presented {
                    Decision::Allow
                } else {
                    Decision::Challenge("authentication required".to_owned())
                };
            }
            _ => {}
        }
        if !self.permits(identity, ecosystem, scope, action) {
            let message = format!("{who} may not {action} {scope} in {ecosystem}");
            return if identity.user.is_none() {
                Decision::Challenge(format!("authentication required: {message}"))
            } else {
                Decision::Deny(message)
            };
        }
        if let Scope::Name(name) = scope
            && action != Action::Read
            && self.policy.has_hosted()
            && !self.policy.is_hosted(ecosystem, name)
        {
            return Decision::Deny(format!(
                "{name} in {ecosystem} is imported content, which only bundles change; this site publishes under {}",
                match self.policy.hosted_names(ecosystem).join(", ") {
                    names if names.is_empty() => "no names of this ecosystem".to_owned(),
                    names => names,
                }
            ));
        }
        if let Some(grants) = &identity.grants {
            let granted = grants.iter().any(|(e, s, actions)| {
                e == ecosystem
                    && (s == scope || matches!(scope, Scope::Any))
                    && actions.iter().any(|a| a.allows(action))
            });
            if !granted {
                return Decision::Challenge(format!(
                    "the registry token does not cover {action} on {scope}; ask for a token with that scope"
                ));
            }
        }
        Decision::Allow
    }

    /// The grants of `wanted` on `scope` for `identity`.
    pub fn grant_for(
        &self,
        identity: &Identity,
        ecosystem: &str,
        scope: &Scope,
        wanted: &[Action],
    ) -> Vec<Action> {
        wanted
            .iter()
            .copied()
            .filter(|&action| self.permits(identity, ecosystem, scope, action))
            .collect()
    }

    /// Issues a registry token for `identity` with `grants`.
    pub fn issue_for(
        &self,
        identity: &Identity,
        ecosystem: &str,
        grants: &[(Scope, Vec<Action>)],
    ) -> (String, u64) {
        let claims = Claims {
            sub: identity.user.clone(),
            tok: identity.token.clone(),
            exp: now() + REGISTRY_TOKEN_LIFETIME,
            acc: grants
                .iter()
                .filter_map(|(scope, actions)| {
                    Some((ecosystem.to_owned(), scope_text(scope)?, actions.clone()))
                })
                .collect(),
        };
        let json = serde_json::to_vec(&claims).unwrap_or_default();
        let unsigned = format!(
            "{REGISTRY_PREFIX}{}",
            data_encoding::BASE64URL_NOPAD.encode(&json)
        );
        let tag = hmac::sign(&self.key, unsigned.as_bytes());
        let token = format!(
            "{unsigned}.{}",
            data_encoding::BASE64URL_NOPAD.encode(tag.as_ref())
        );
        (token, REGISTRY_TOKEN_LIFETIME)
    }
}

fn password_key(user: &str, secret: &str) -> [u8; 32] {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    context.update(user.as_bytes());
    context.update(&[0]);
    context.update(secret.as_bytes());
    let digest = context.finish();
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

/// The fingerprint of the client certificate a TLS connection presented
/// (and the handshake verified against the site CA), which the listener
/// puts in every request of that connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCertificate(pub String);

impl PeerCertificate {
    /// The SHA-256 of a certificate's DER, lowercase hex, as `airlift tls
    /// client-cert` records it.
    pub fn of(der: &[u8]) -> Self {
        Self(hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            der,
        )))
    }
}

/// The identity a caller carries (anonymous when the server recorded none).
pub fn identity_of(caller: &Caller) -> Identity {
    caller
        .identity
        .as_ref()
        .and_then(|any| any.downcast_ref::<Identity>())
        .cloned()
        .unwrap_or_default()
}

impl Gatekeeper for Gate {
    fn anonymous_reads_all(&self, ecosystem: &str) -> bool {
        self.policy.anonymous_reads_all(ecosystem)
    }

    fn grant(
        &self,
        caller: &Caller,
        ecosystem: &str,
        scope: &Scope,
        wanted: &[Action],
    ) -> Vec<Action> {
        let identity = identity_of(caller);
        let mut granted = self.grant_for(&identity, ecosystem, scope, wanted);
        // A registry token presented to another check of this request
        // only counts as far as it reaches.
        if let Some(grants) = &identity.grants {
            granted.retain(|action| {
                grants.iter().any(|(e, s, actions)| {
                    e == ecosystem && s == scope && actions.iter().any(|a| a.allows(*action))
                })
            });
        }
        granted
    }

    fn principal_may(
        &self,
        caller: &Caller,
        ecosystem: &str,
        scope: &Scope,
        action: Action,
    ) -> bool {
        self.permits(&identity_of(caller), ecosystem, scope, action)
    }

    fn service(&self) -> &str {
        &self.service
    }

    fn authorize(
        &self,
        caller: &Caller,
        ecosystem: &str,
        scope: &Scope,
        action: Action,
    ) -> Result<(), (axum::http::StatusCode, String)> {
        match self.decide(&identity_of(caller), ecosystem, scope, action) {
            Decision::Allow => Ok(()),
            Decision::Challenge(message) => Err((axum::http::StatusCode::UNAUTHORIZED, message)),
            Decision::Deny(message) => Err((axum::http::StatusCode::FORBIDDEN, message)),
        }
    }

    fn issue(
        &self,
        caller: &Caller,
        ecosystem: &str,
        grants: &[(Scope, Vec<Action>)],
    ) -> Result<(String, u64), String> {
        Ok(self.issue_for(&identity_of(caller), ecosystem, grants))
    }
}

#[cfg(test)]
mod tests;
