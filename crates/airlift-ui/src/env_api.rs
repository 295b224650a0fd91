//! TODO(environments): a stand-in with the shape of
//! `airlift_store::environment` (ADR 0027), which is being built on main.
//! Once it lands, this file goes and `environments.rs` uses
//! `airlift_store::environment` instead; until then no environment exists
//! and every move is refused.

use airlift_store::MetaStore;

/// The name of the environment that follows every import.
pub const DEFAULT: &str = "default";

/// One named environment.
#[derive(Clone, Debug)]
pub struct Environment {
    pub name: String,
    pub generation: u64,
    pub history: Vec<u64>,
    pub moved_at: i64,
    pub moved_by: String,
    pub approvals: u32,
}

/// A move of an environment.
#[derive(Clone, Debug)]
pub struct Moved {
    pub environment: String,
    pub from: u64,
    pub to: u64,
}

/// Why an environment could not be read or moved.
#[derive(Debug)]
#[allow(dead_code)] // The stand-in never refuses in every way the real one does.
pub enum EnvironmentError {
    Unknown(String),
    NeedsApprovals { name: String, approvals: u32 },
    NoHistory(String),
    NotRetained(u64),
    InvalidName(String),
    Store(String),
}

impl std::fmt::Display for EnvironmentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown(name) => write!(f, "there is no environment {name:?}"),
            Self::NeedsApprovals { name, approvals } => {
                write!(f, "promoting into {name:?} needs {approvals} approvals")
            }
            Self::NoHistory(name) => write!(f, "environment {name:?} has no earlier generation"),
            Self::NotRetained(g) => write!(f, "generation {g} is not retained"),
            Self::InvalidName(name) => write!(f, "{name:?} is not an environment name"),
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

pub fn list(_meta: &dyn MetaStore) -> Result<Vec<Environment>, EnvironmentError> {
    Ok(Vec::new())
}

pub fn generation_of(meta: &dyn MetaStore, name: &str) -> Result<u64, EnvironmentError> {
    if name == DEFAULT {
        return meta
            .current()
            .map_err(|e| EnvironmentError::Store(e.to_string()))?
            .map(|g| g.id)
            .ok_or_else(|| EnvironmentError::Unknown(name.to_owned()));
    }
    Err(EnvironmentError::Unknown(name.to_owned()))
}

pub fn promote(
    _meta: &dyn MetaStore,
    _from: &str,
    to: &str,
    _by: &str,
    _now: i64,
) -> Result<Moved, EnvironmentError> {
    Err(EnvironmentError::Unknown(to.to_owned()))
}

pub fn rollback(
    _meta: &dyn MetaStore,
    name: &str,
    _to: Option<u64>,
    _by: &str,
    _now: i64,
) -> Result<Moved, EnvironmentError> {
    Err(EnvironmentError::Unknown(name.to_owned()))
}
