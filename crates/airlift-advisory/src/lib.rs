//! Security advisories, carried and matched offline.
//!
//! Two halves. The matcher: reading OSV records ([`parse`], bounded by
//! [`MAX_RECORD_BYTES`], without the prose `details`), the schema's
//! evaluation of affected versions ([`Affected::affects`]) with a caller's
//! [`VersionOrder`] (plus [`SemverOrder`] and [`GoOrder`], which OSV defines
//! itself, and [`MavenOrder`] and [`ApkOrder`] for ecosystems no adapter
//! serves yet), severities from CVSS v3.x and v4.0 vectors and database
//! ratings ([`severity`], [`cvss`]), matching a set of packages against a
//! stream of records with aliases merged into one finding ([`Scanner`]),
//! and SARIF output ([`sarif()`]). The carrier: the `advisories` ecosystem
//! ([`ecosystem`]) whose `[advisories]` table ([`spec`]) collects OSV
//! export archives and directories into the store, one blob per record
//! (`collect`), and [`Carried`], the database a generation carries, read
//! back for a scan (`database`).
//!
//! Boundary: the matcher reads bytes it is given and returns values, and
//! knows no ecosystem's version order beyond SemVer and Go's; the ecosystem
//! contract supplies PEP 440, dpkg and the others through [`VersionOrder`].
//! The carrier fetches through `airlift-fetch` and stores through
//! `airlift-store` like any other ecosystem; it serves nothing.
//!
//! Modules: `record` the record shape, parsing and range evaluation;
//! `version` the order contract and the SemVer and Go orders; `maven`
//! Maven 3's `ComparableVersion`; `apk` apk-tools' version order; `cvss` CVSS
//! scores; `severity` levels and the choice of evidence; `scan` matching
//! and alias merging; `sarif` the SARIF log; `error` the matcher's errors;
//! `spec`, `collect`, `ecosystem` and `database` the carrier.

mod apk;
mod collect;
pub mod cvss;
mod database;
pub mod ecosystem;
mod error;
mod maven;
mod record;
mod sarif;
mod scan;
mod severity;
pub mod spec;
mod version;

pub use apk::ApkOrder;
pub use collect::{CollectError, DATABASE_KEY, ECOSYSTEM, Gathered, record_key};
pub use database::{Carried, DatabaseError, parse_record, read_record};
pub use error::{Error, RecordName};
pub use maven::MavenOrder;
pub use record::{
    Affected, AffectedPackage, Event, MAX_RECORD_BYTES, Range, RangeKind, Record, Score, parse,
};
pub use sarif::sarif;
pub use scan::{Finding, Scanner, Subject};
pub use severity::{Level, Severity, severity};
pub use version::{GoOrder, SemverOrder, VersionOrder};
