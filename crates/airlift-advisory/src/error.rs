//! The crate's one error type. Every variant names what it is about: the
//! record id when it is known, the CVSS vector, or the severity word.

use std::fmt;

/// A record id that may not be known yet (a blob too large to read, or JSON
/// that failed before its `id` could be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordName(pub Option<String>);

impl fmt::Display for RecordName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(id) => write!(formatter, "OSV record {id}"),
            None => formatter.write_str("OSV record (id unknown)"),
        }
    }
}

/// Errors of parsing records, CVSS vectors and severity words.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record is larger than [`crate::MAX_RECORD_BYTES`]; it is refused
    /// before it is parsed.
    #[error("{record} is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        record: RecordName,
        size: usize,
        limit: usize,
    },
    /// The bytes are not JSON of the OSV shape.
    #[error("{record} is not valid OSV JSON: {source}")]
    Json {
        record: RecordName,
        #[source]
        source: serde_json::Error,
    },
    /// The JSON has the OSV shape but breaks one of the schema's rules.
    #[error("{record} is invalid: {reason}")]
    Invalid { record: RecordName, reason: String },
    /// A CVSS vector that is malformed or of an unsupported version.
    #[error("CVSS vector {vector:?} is invalid: {reason}")]
    Cvss { vector: String, reason: String },
    /// A severity word that is none of the known levels.
    #[error(
        "unknown severity level {0:?} (expected unknown, low, medium or moderate, high, critical)"
    )]
    UnknownLevel(String),
}
