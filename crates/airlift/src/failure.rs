//! Turning errors into messages, hints and exit codes.
//!
//! Exit codes: 1 operation failed, 2 bad input (arguments or configuration),
//! 3 bundle refused (verification, trust, rollback), 4 upstream or network
//! failure during collect, 5 the store is damaged, 6 waiting for signatures
//! (approvals below a threshold, a role key not at hand, a pending root).

use std::process::ExitCode;

use airlift_bundle::BundleError;

/// A failure the CLI reports.
pub struct Failure {
    pub message: String,
    pub hints: Vec<String>,
    pub code: u8,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
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
        Self::new(2, message)
    }

    #[allow(clippy::print_stderr)]
    pub fn report(self) -> ExitCode {
        eprintln!("error: {}", self.message);
        for hint in &self.hints {
            eprintln!("hint: {hint}");
        }
        ExitCode::from(self.code)
    }
}

impl From<BundleError> for Failure {
    fn from(error: BundleError) -> Self {
        let message = error.to_string();
        match &error {
            BundleError::NoTrust { .. } => Failure::input(message)
                .hint("run `airlift init --trust root.json` with the root from the connected side (verify and plan also take --trust)"),
            BundleError::Rollback { .. } => Failure::new(3, message)
                .hint("a newer bundle was already imported; ask the connected side for a fresh pack"),
            BundleError::NothingToPack => Failure::input(message),
            BundleError::TooManyRemovals { .. } => Failure::new(3, message)
                .hint("run `airlift plan BUNDLE` to see what it removes; pass --allow-removals if that is intended"),
            BundleError::NeedsApproval { request, .. } => Failure::new(6, message).hint(format!(
                "each approver runs `airlift approve {} --key <their key>`; then pack again with --approved {}",
                request.display(),
                request.display()
            )),
            BundleError::MissingKeys(_) => Failure::new(6, message)
                .hint("run pack where the role's keys are, or rotate the root (`airlift keys rotate`)"),
            BundleError::Options(_) | BundleError::NotABundle { .. } => Failure::input(message),
            BundleError::Trust(airlift_trust::TrustError::Verification { message: detail, .. })
                if detail.to_lowercase().contains("expired") =>
            {
                Failure::new(3, message).hint("the bundle's validity window has passed; pack again with a fresh --valid-for")
            }
            BundleError::Trust(airlift_trust::TrustError::Verification { .. }) => Failure::new(3, message)
                .hint("the bundle is not signed by the trusted keys, or it was altered"),
            BundleError::Trust(airlift_trust::TrustError::Build(_)) => Failure::input(message),
            BundleError::Trust(_) => Failure::new(1, message),
            BundleError::Busy { .. } => {
                Failure::new(1, message).hint("wait for it to finish, then try again")
            }
            BundleError::Store(_) => Failure::new(1, message),
            BundleError::TargetMismatch { name, .. } if name.contains("in the local store") => {
                Failure::new(5, message)
                    .hint("run `airlift fsck --repair` to remove damaged blobs, then collect again")
            }
            BundleError::Io { .. } => Failure::new(1, message),
            BundleError::ExpiredBeforeFloor { .. } => Failure::new(3, message)
                .hint("check the system clock; a bundle valid now must be packed again with a fresh --valid-for"),
            BundleError::MissingTarget { .. } => Failure::new(3, message)
                .hint("nothing was imported; the store is unchanged")
                .hint("a delta bundle leaves out blobs the destination should have: import the bundles before it first, or ask the connected side to pack with `--receipt` from `airlift receipt export` here (or `--full`)"),
            _ => Failure::new(3, message).hint("nothing was imported; the store is unchanged"),
        }
    }
}

impl From<airlift_store::StoreError> for Failure {
    fn from(error: airlift_store::StoreError) -> Self {
        Failure::new(1, error.to_string())
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
            _ => Failure::new(1, message),
        }
    }
}

impl From<airlift_config::ConfigError> for Failure {
    fn from(error: airlift_config::ConfigError) -> Self {
        Failure::input(error.to_string())
            .hint("`airlift template` prints an airlift.toml with every table, commented")
    }
}
