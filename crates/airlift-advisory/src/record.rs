//! OSV records: the parsed shape ([`Record`] and its parts), [`parse`] with
//! its size bound, and the schema's evaluation of whether a version is
//! affected ([`Affected::affects`]). Matching records to packages is
//! `scan`'s job; this module knows one record at a time.
//!
//! What is kept is what matching, severity and reports need. `details`
//! (often kilobytes of prose per record), `references`, `credits`,
//! `related` and every unknown field are skipped while the JSON is read, so
//! they are never allocated.
//!
//! Bounds on hostile input: the size limit bounds every count (each entry
//! takes bytes), and `serde_json`'s recursion limit (128) bounds nesting in
//! the free-form `*_specific` objects.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, RecordName};
use crate::version::{SemverOrder, VersionOrder};

/// The largest record [`parse`] reads. The biggest records of the public
/// databases (kernel-sized `versions` lists) stay well under it.
pub const MAX_RECORD_BYTES: usize = 4 << 20;

/// One OSV record, without its `details`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub id: String,
    pub modified: String,
    pub published: Option<String>,
    pub withdrawn: Option<String>,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub severity: Vec<Score>,
    pub affected: Vec<Affected>,
    pub database_specific: Option<Value>,
}

/// One entry of a `severity` list: its `type` (`CVSS_V3`, `CVSS_V4`,
/// `CVSS_V2`, `Ubuntu`, ...) and `score` (a vector, or a word).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

/// One `affected` entry: a package and the versions of it the record covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Affected {
    pub package: Option<AffectedPackage>,
    pub ranges: Vec<Range>,
    pub versions: Vec<String>,
    pub severity: Vec<Score>,
    pub ecosystem_specific: Option<Value>,
    pub database_specific: Option<Value>,
}

/// The package of an `affected` entry, as the record names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedPackage {
    pub ecosystem: String,
    pub name: String,
    #[serde(default)]
    pub purl: Option<String>,
}

/// One `ranges` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Range {
    pub kind: RangeKind,
    pub events: Vec<Event>,
}

/// A range's `type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum RangeKind {
    /// Versions in the ecosystem's own order.
    Ecosystem,
    /// Semantic versions, in SemVer 2.0 precedence.
    Semver,
    /// Commit hashes, which need the repository's history: never evaluated here.
    Git,
    /// A type this crate does not know: never evaluated.
    Other(String),
}

/// One event of a range's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

impl Event {
    /// The version the event names.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(version)
            | Event::Fixed(version)
            | Event::LastAffected(version)
            | Event::Limit(version) => version,
        }
    }
}

/// Reads one OSV record (JSON). Refuses more than [`MAX_RECORD_BYTES`];
/// errors name the record's id when it could be read.
pub fn parse(bytes: &[u8]) -> Result<Record, Error> {
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(Error::TooLarge {
            record: RecordName(None),
            size: bytes.len(),
            limit: MAX_RECORD_BYTES,
        });
    }
    match serde_json::from_slice::<RawRecord>(bytes) {
        Ok(raw) => raw.into_record(),
        Err(source) => Err(Error::Json {
            record: RecordName(id_only(bytes)),
            source,
        }),
    }
}

/// The `id` of a record that failed to parse as a whole, when its JSON is
/// well formed enough to read that one field: so the error can name it.
fn id_only(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: String,
    }
    serde_json::from_slice::<IdOnly>(bytes)
        .ok()
        .map(|only| only.id)
}

// The raw shapes follow the JSON; unknown fields (and `details`) are skipped
// by serde without being stored.
#[derive(Deserialize)]
struct RawRecord {
    id: String,
    #[serde(default)]
    modified: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    aliases: Option<Vec<String>>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    severity: Option<Vec<Score>>,
    #[serde(default)]
    affected: Option<Vec<RawAffected>>,
    #[serde(default)]
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct RawAffected {
    #[serde(default)]
    package: Option<AffectedPackage>,
    #[serde(default)]
    ranges: Option<Vec<RawRange>>,
    #[serde(default)]
    versions: Option<Vec<String>>,
    #[serde(default)]
    severity: Option<Vec<Score>>,
    #[serde(default)]
    ecosystem_specific: Option<Value>,
    #[serde(default)]
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<RawEvent>,
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(default)]
    introduced: Option<String>,
    #[serde(default)]
    fixed: Option<String>,
    #[serde(default)]
    last_affected: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

impl RawRecord {
    fn into_record(self) -> Result<Record, Error> {
        let invalid = |id: &str, reason: String| Error::Invalid {
            record: RecordName(Some(id.to_owned())),
            reason,
        };
        if self.id.trim().is_empty() {
            return Err(Error::Invalid {
                record: RecordName(None),
                reason: "its id is empty".to_owned(),
            });
        }
        let id = self.id;
        let affected_raw = self.affected.unwrap_or_default();
        let mut affected = Vec::with_capacity(affected_raw.len());
        for (position, entry) in affected_raw.into_iter().enumerate() {
            let raw_ranges = entry.ranges.unwrap_or_default();
            let mut ranges = Vec::with_capacity(raw_ranges.len());
            for (range_position, raw_range) in raw_ranges.into_iter().enumerate() {
                let mut events = Vec::with_capacity(raw_range.events.len());
                for raw_event in raw_range.events {
                    let present = [
                        raw_event.introduced.map(Event::Introduced),
                        raw_event.fixed.map(Event::Fixed),
                        raw_event.last_affected.map(Event::LastAffected),
                        raw_event.limit.map(Event::Limit),
                    ];
                    let mut present = present.into_iter().flatten();
                    match (present.next(), present.next()) {
                        (Some(event), None) => events.push(event),
                        _ => {
                            return Err(invalid(
                                &id,
                                format!(
                                    "affected[{position}].ranges[{range_position}] has an event without \
                                     exactly one of introduced, fixed, last_affected, limit"
                                ),
                            ));
                        }
                    }
                }
                let kind = match raw_range.kind.as_str() {
                    "ECOSYSTEM" => RangeKind::Ecosystem,
                    "SEMVER" => RangeKind::Semver,
                    "GIT" => RangeKind::Git,
                    _ => RangeKind::Other(raw_range.kind),
                };
                ranges.push(Range { kind, events });
            }
            affected.push(Affected {
                package: entry.package,
                ranges,
                versions: entry.versions.unwrap_or_default(),
                severity: entry.severity.unwrap_or_default(),
                ecosystem_specific: entry.ecosystem_specific,
                database_specific: entry.database_specific,
            });
        }
        Ok(Record {
            id,
            modified: self.modified,
            published: self.published,
            withdrawn: self.withdrawn,
            aliases: self.aliases.unwrap_or_default(),
            summary: self.summary,
            severity: self.severity.unwrap_or_default(),
            affected,
            database_specific: self.database_specific,
        })
    }
}

impl Affected {
    /// OSV's evaluation (the schema's `IsVulnerable` for one entry): the
    /// version is affected when it is listed in `versions` (exact string
    /// match) or falls in one of the ranges. `ECOSYSTEM` ranges use `order`,
    /// `SEMVER` ranges [`SemverOrder`]; `GIT` and unknown range types are
    /// ignored. Within a range, events are taken in version order
    /// (`introduced: "0"` lowest): an `introduced` at or below the version
    /// opens, a `fixed` at or below it closes, a `last_affected` below it
    /// closes; the last of them to apply decides. A range with `limit`
    /// events only covers versions below at least one of them (a limit
    /// containing `*` is infinity), as the schema's `BeforeLimits` says.
    pub fn affects(&self, version: &str, order: &dyn VersionOrder) -> bool {
        if self.versions.iter().any(|listed| listed == version) {
            return true;
        }
        self.ranges.iter().any(|range| {
            let range_order: &dyn VersionOrder = match range.kind {
                RangeKind::Ecosystem => order,
                RangeKind::Semver => &SemverOrder,
                RangeKind::Git | RangeKind::Other(_) => return false,
            };
            range_includes(range, version, range_order)
        })
    }

    /// The versions the `fixed` events of this entry's `ECOSYSTEM` and
    /// `SEMVER` ranges name, in the order they appear, without repeats.
    /// (`GIT` fixes are commit hashes, not versions a package manager knows.)
    pub fn fixed_versions(&self) -> Vec<String> {
        let mut fixed: Vec<String> = Vec::new();
        for range in &self.ranges {
            if !matches!(range.kind, RangeKind::Ecosystem | RangeKind::Semver) {
                continue;
            }
            for event in &range.events {
                if let Event::Fixed(version) = event
                    && !fixed.iter().any(|known| known == version)
                {
                    fixed.push(version.clone());
                }
            }
        }
        fixed
    }
}

/// Whether `introduced` names the schema's "before every version".
fn is_zero_introduced(event: &Event) -> bool {
    matches!(event, Event::Introduced(version) if version == "0")
}

/// The order the schema sorts events in: by version, `introduced: "0"`
/// before everything.
fn compare_events(first: &Event, second: &Event, order: &dyn VersionOrder) -> Ordering {
    match (is_zero_introduced(first), is_zero_introduced(second)) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => order.compare(first.version(), second.version()),
    }
}

/// One range of the schema's `IncludedInRanges`. Instead of sorting the
/// events (an allocation per check), it finds the greatest applicable event
/// in (version, position) order, which is the last one the sorted walk would
/// apply: a stable sort puts equal versions in their original positions.
fn range_includes(range: &Range, version: &str, order: &dyn VersionOrder) -> bool {
    let mut has_limit = false;
    let mut before_a_limit = false;
    let mut decisive: Option<&Event> = None;
    for event in &range.events {
        let applies = match event {
            Event::Limit(limit) => {
                has_limit = true;
                if limit.contains('*') || order.compare(version, limit) == Ordering::Less {
                    before_a_limit = true;
                }
                continue;
            }
            Event::Introduced(introduced) => {
                introduced == "0" || order.compare(version, introduced) != Ordering::Less
            }
            Event::Fixed(fixed) => order.compare(version, fixed) != Ordering::Less,
            Event::LastAffected(last) => order.compare(version, last) == Ordering::Greater,
        };
        if applies
            && decisive
                .is_none_or(|current| compare_events(event, current, order) != Ordering::Less)
        {
            decisive = Some(event);
        }
    }
    if has_limit && !before_a_limit {
        return false;
    }
    matches!(decisive, Some(Event::Introduced(_)))
}
