//! Turning errors into messages, hints and exit codes ([`Exit`]).
//! Errors are classified by their type, never by their text.

use std::process::ExitCode;

use airlift_bundle::BundleError;

/// The exit codes, one meaning each (documented in the CLI reference,
/// "Output, errors and exit codes"); 0 is success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// The operation failed (file system, database, a lock held, …).
    Failed = 1,
    /// Bad input: arguments, `airlift.toml`, a lockfile, a file given.
    Input = 2,
    /// A bundle was refused (verification, trust, rollback, removals), or
    /// the audit log is not intact.
    Refused = 3,
    /// An upstream or the network failed during collect; the index is
    /// unchanged.
    Upstream = 4,
    /// The store is damaged (`fsck`, or a blob that no longer matches).
    Damaged = 5,
    /// Waiting for signatures: approvals or role keys below a threshold.
    AwaitingSignatures = 6,
    /// `airlift scan --fail-on`: a finding at or above the given severity.
    Findings = 7,
}

/// A failure the CLI reports.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub hints: Vec<String>,
    pub code: Exit,
}

impl Failure {
    pub fn new(code: Exit, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hints: Vec::new(),
            code,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn input(message: impl Into<String>) -> Self {
        Self::new(Exit::Input, message)
    }

    #[allow(clippy::print_stderr)]
    pub fn report(self) -> ExitCode {
        eprintln!("error: {}", self.message);
        for hint in &self.hints {
            eprintln!("hint: {hint}");
        }
        ExitCode::from(self.code as u8)
    }
}

impl From<BundleError> for Failure {
    fn from(error: BundleError) -> Self {
        let message = error.to_string();
        match &error {
            BundleError::NoTrust { .. } => Failure::input(message)
                .hint("run `airlift init --trust root.json` with the root from the connected side (verify and plan also take --trust)"),
            BundleError::Rollback { .. } => Failure::new(Exit::Refused, message)
                .hint("a newer bundle was already imported; ask the connected side for a fresh pack"),
            BundleError::NothingToPack => Failure::input(message),
            BundleError::HostedConflict { .. } => Failure::new(Exit::Refused, message)
                .hint("`airlift plan BUNDLE --json` lists them under removals.hosted_conflicts; see [[hosted]] in docs/reference/access.md"),
            BundleError::Admission { .. } => Failure::new(Exit::Refused, message)
                .hint("`airlift plan BUNDLE` shows the findings; an exception in <home>/import-policy.toml ([[exception]] with advisory, justification, expires, approved_by) admits one after review"),
            BundleError::TooManyRemovals { .. } => Failure::new(Exit::Refused, message)
                .hint("run `airlift plan BUNDLE` to see what it removes; pass --allow-removals if that is intended"),
            BundleError::NeedsApproval { request, .. } => Failure::new(Exit::AwaitingSignatures, message).hint(format!(
                "each approver runs `airlift approve {} --key <their key>`; then pack again with --approved {}",
                request.display(),
                request.display()
            )),
            BundleError::MissingKeys(_) => Failure::new(Exit::AwaitingSignatures, message)
                .hint("run pack where the role's keys are, or rotate the root (`airlift keys rotate`)"),
            BundleError::Options(_) | BundleError::NotABundle { .. } => Failure::input(message),
            BundleError::Trust(airlift_trust::TrustError::Expired { .. }) => {
                Failure::new(Exit::Refused, message).hint("the bundle's validity window has passed; pack again with a fresh --valid-for")
            }
            BundleError::Trust(airlift_trust::TrustError::Verification { .. } | airlift_trust::TrustError::Older { .. }) => Failure::new(Exit::Refused, message)
                .hint("the bundle is not signed by the trusted keys, or it was altered"),
            BundleError::Trust(airlift_trust::TrustError::Build(_)) => Failure::input(message),
            BundleError::Trust(_) => Failure::new(Exit::Failed, message),
            BundleError::Busy { .. } => {
                Failure::new(Exit::Failed, message).hint("wait for it to finish, then try again")
            }
            BundleError::Store(_) => Failure::new(Exit::Failed, message),
            BundleError::StoreDamaged { .. } => Failure::new(Exit::Damaged, message)
                .hint("run `airlift fsck --repair` to remove damaged blobs, then collect again"),
            BundleError::Io { .. } => Failure::new(Exit::Failed, message),
            BundleError::ExpiredBeforeFloor { .. } => Failure::new(Exit::Refused, message)
                .hint("check the system clock; a bundle valid now must be packed again with a fresh --valid-for"),
            BundleError::MissingTarget { .. } => Failure::new(Exit::Refused, message)
                .hint("nothing was imported; the store is unchanged")
                .hint("a delta bundle leaves out blobs the destination should have: import the bundles before it first, or ask the connected side to pack with `--receipt` from `airlift receipt export` here (or `--full`)"),
            _ => Failure::new(Exit::Refused, message).hint("nothing was imported; the store is unchanged"),
        }
    }
}

impl From<airlift_store::StoreError> for Failure {
    fn from(error: airlift_store::StoreError) -> Self {
        Failure::new(Exit::Failed, error.to_string())
    }
}

impl From<airlift_trust::TrustError> for Failure {
    fn from(error: airlift_trust::TrustError) -> Self {
        let message = error.to_string();
        match error {
            airlift_trust::TrustError::KeysExist { .. } => {
                Failure::input(message).hint("keys are never overwritten")
            }
            airlift_trust::TrustError::NoKeys { .. } => {
                Failure::input(message).hint("run `airlift keys init` first")
            }
            airlift_trust::TrustError::BadRoot { .. } | airlift_trust::TrustError::Build(_) => {
                Failure::input(message)
            }
            _ => Failure::new(Exit::Failed, message),
        }
    }
}

impl From<airlift_config::ConfigError> for Failure {
    fn from(error: airlift_config::ConfigError) -> Self {
        Failure::input(error.to_string())
            .hint("`airlift template` prints an airlift.toml with every table, commented")
    }
}
