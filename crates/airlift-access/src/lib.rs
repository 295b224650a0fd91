//! Who may do what on the airlift server.
//!
//! - [`directory`]: the site's principals (users, with argon2id password
//!   hashes, and their groups) and API tokens (stored only as SHA-256
//!   hashes, with scopes, an expiry and a revocation time), kept as access
//!   records in the site's index, outside every generation, so that no
//!   import changes them.
//! - [`policy`]: the access rules (`access.toml`), and token scopes.
//! - [`gate`]: the server's side: it reads credentials in the forms the
//!   clients send them (HTTP Basic with a password or a token, `Bearer`,
//!   cargo's bare token), checks them against the directory (reloaded when
//!   it changes), slows down guessing, decides each request, and issues the
//!   short-lived signed tokens of the OCI token flow.
//!
//! Decisions are recorded in `docs/decisions/0024-access-control.md`.

pub mod directory;
pub mod gate;
pub mod policy;

pub use directory::{ClientCert, Directory, Token, User};
pub use gate::{Credentials, Decision, Failure, Gate, Identity, PeerCertificate};
pub use policy::{Pattern, Policy, PolicyError, Retention, Subject, TokenScope, Who};

/// Whether `name` may name a user or a group: 1 to 64 of ASCII letters,
/// digits, `.`, `_` and `-`, starting with a letter or digit.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Failures of the directory.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The index failed.
    #[error(transparent)]
    Store(#[from] airlift_store::StoreError),
    /// No such user.
    #[error("no user named {0:?}")]
    UnknownUser(String),
    /// No such token.
    #[error("no token named {0:?}")]
    UnknownToken(String),
    /// No client certificate with that fingerprint.
    #[error("no client certificate with fingerprint {0}")]
    UnknownCertificate(String),
    /// A name that cannot be used.
    #[error(
        "{0:?} is not a valid name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    )]
    InvalidName(String),
    /// A password that is too weak to store.
    #[error("the password is too short: at least {0} characters")]
    ShortPassword(usize),
    /// A stored record that does not decode.
    #[error("access record {kind} {name:?} is damaged: {message}")]
    Damaged {
        /// Its kind.
        kind: &'static str,
        /// Its name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// Hashing or randomness failed.
    #[error("{0}")]
    Crypto(String),
}
