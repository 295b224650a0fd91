use std::path::PathBuf;

/// Errors about keys and signed metadata. Each names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A key file is not a usable Ed25519 key.
    #[error("key {path} is not a valid Ed25519 PKCS#8 key")]
    BadKey {
        /// The key file.
        path: PathBuf,
    },
    /// Keys already exist and would be overwritten.
    #[error("keys already exist in {path}")]
    KeysExist {
        /// The key directory.
        path: PathBuf,
    },
    /// No keys were found.
    #[error("no signing keys in {path}")]
    NoKeys {
        /// The key directory.
        path: PathBuf,
    },
    /// Metadata could not be built or serialized.
    #[error("cannot build metadata: {0}")]
    Build(String),
    /// Metadata failed TUF verification.
    #[error("TUF verification of {path} failed: {message}")]
    Verification {
        /// The metadata directory.
        path: PathBuf,
        /// What tough reported, with its causes.
        message: String,
    },
    /// Metadata verified, but one of its roles has expired.
    #[error("TUF verification of {path} failed: {message}")]
    Expired {
        /// The metadata directory.
        path: PathBuf,
        /// What tough reported, naming the role.
        message: String,
    },
    /// A role's metadata is older than the one the client already trusts
    /// (a rollback).
    #[error("TUF verification of {path} failed: {message}")]
    Older {
        /// The metadata directory.
        path: PathBuf,
        /// What tough reported, naming the role and both versions.
        message: String,
    },
    /// A PKCS#11 token or key cannot be used.
    #[error("PKCS#11 key {uri}: {message}")]
    Hsm {
        /// The key's URI, without its PIN.
        uri: String,
        /// What went wrong.
        message: String,
    },
    /// A trusted root file is not a TUF root.
    #[error("{path} is not a TUF root: {message}")]
    BadRoot {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

impl TrustError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
