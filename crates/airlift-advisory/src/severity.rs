//! How bad a finding is: the [`Level`] scale and [`severity`], which picks
//! the best evidence a record gives for one affected package. Scoring CVSS
//! vectors is `cvss`'s job; this module decides which evidence counts.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::cvss;
use crate::error::Error;
use crate::record::{Affected, Record, Score};

/// A severity level, ordered from `Unknown` (lowest) to `Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    #[default]
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    /// The lowercase name, as [`fmt::Display`] writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Unknown => "unknown",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = Error;

    /// Case-insensitive; GitHub's `MODERATE` is medium.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let word = text.trim();
        let level = [
            ("unknown", Level::Unknown),
            ("low", Level::Low),
            ("medium", Level::Medium),
            ("moderate", Level::Medium),
            ("high", Level::High),
            ("critical", Level::Critical),
        ]
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|(_, level)| level);
        level.ok_or_else(|| Error::UnknownLevel(text.chars().take(64).collect()))
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A severity with its evidence: the CVSS base score when one was computed,
/// and the CVSS vector it came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Severity {
    pub level: Level,
    pub score: Option<f64>,
    pub vector: Option<String>,
}

impl Severity {
    /// Orders by level, then by score (no score below any score): how the
    /// highest severity of merged records is chosen.
    pub fn compare(&self, other: &Severity) -> Ordering {
        self.level
            .cmp(&other.level)
            .then_with(|| match (self.score, other.score) {
                (Some(left), Some(right)) => left.total_cmp(&right),
                (Some(_), None) => Ordering::Greater,
                (None, Some(_)) => Ordering::Less,
                (None, None) => Ordering::Equal,
            })
    }
}

/// The severity of `record` for one of its affected entries. Evidence, in
/// order: the entry's own `severity` list if it has one, else the record's;
/// from that list the first valid CVSS v3.0/v3.1 vector, scored; else the
/// first valid CVSS v4.0 vector, scored; else an `Ubuntu` priority word.
/// Then the words: `severity` in the entry's `database_specific`, the
/// entry's `ecosystem_specific`, and the record's `database_specific`
/// (`"HIGH"`, `"MODERATE"`, `"low"`, ...). A malformed vector is no
/// evidence. With no evidence the level is unknown.
pub fn severity(record: &Record, affected: &Affected) -> Severity {
    let scores: &[Score] = if affected.severity.is_empty() {
        &record.severity
    } else {
        &affected.severity
    };
    for score in scores {
        if score.kind.eq_ignore_ascii_case("CVSS_V3")
            && let Ok(base) = cvss::v3_base_score(&score.score)
        {
            return Severity {
                level: cvss::level(base),
                score: Some(base),
                vector: Some(score.score.clone()),
            };
        }
    }
    for score in scores {
        if score.kind.eq_ignore_ascii_case("CVSS_V4")
            && let Ok(value) = cvss::v4_score(&score.score)
        {
            return Severity {
                level: cvss::level(value),
                score: Some(value),
                vector: Some(score.score.clone()),
            };
        }
    }
    if let Some(level) = scores
        .iter()
        .filter(|score| score.kind.eq_ignore_ascii_case("Ubuntu"))
        .find_map(|score| ubuntu_priority(&score.score))
    {
        return Severity {
            level,
            score: None,
            vector: None,
        };
    }
    let word_level = [
        affected.database_specific.as_ref(),
        affected.ecosystem_specific.as_ref(),
        record.database_specific.as_ref(),
    ]
    .into_iter()
    .flatten()
    .find_map(severity_word);
    Severity {
        level: word_level.unwrap_or_default(),
        score: None,
        vector: None,
    }
}

/// `{"severity": "HIGH"}` in a `*_specific` object. `Unknown` is no evidence.
fn severity_word(object: &Value) -> Option<Level> {
    let word = object.get("severity")?.as_str()?;
    word.parse::<Level>()
        .ok()
        .filter(|level| *level != Level::Unknown)
}

/// Ubuntu's priorities: `negligible` is low, the rest are level names.
fn ubuntu_priority(word: &str) -> Option<Level> {
    if word.eq_ignore_ascii_case("negligible") {
        return Some(Level::Low);
    }
    word.parse::<Level>()
        .ok()
        .filter(|level| *level != Level::Unknown)
}
