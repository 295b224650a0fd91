//! Matching records to packages: [`Scanner`] holds the caller's packages
//! ([`Subject`]s) indexed by ecosystem and name, takes records one at a time
//! (so a database of any size streams through it), and at the end merges the
//! records that describe the same vulnerability of the same package into one
//! [`Finding`]. Reading records is `record`'s job, rating them `severity`'s.
//!
//! Cost: [`Scanner::add`] does two hash lookups per affected entry and
//! evaluates ranges only for the subjects of that package, so a scan is
//! linear in the database's affected entries plus the matches.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::record::Record;
use crate::severity::{Severity, severity};
use crate::version::VersionOrder;

/// A package to check: its OSV ecosystem (`PyPI`, `npm`, `Go`,
/// `Maven`, `Debian:12`, `Alpine:v3.20`, ...), name and version, and the
/// caller's own opaque reference (a path, an image, an index entry).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Subject {
    pub ecosystem: String,
    pub name: String,
    pub version: String,
    pub reference: String,
}

/// One vulnerability of one subject: the records that describe it, merged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub subject: Subject,
    /// The primary id: the lexicographically smallest id among the merged
    /// records (not among their aliases, which may name records the scan
    /// never saw), so the choice does not depend on the order records
    /// arrive in.
    pub id: String,
    /// The ids of the merged records, sorted.
    pub records: Vec<String>,
    /// Every id and alias of the merged records, sorted, without repeats.
    pub aliases: Vec<String>,
    /// The primary record's summary, else the first one the other merged
    /// records (in id order) have.
    pub summary: Option<String>,
    /// The highest severity of the merged records for this package.
    pub severity: Severity,
    /// The versions that fix it: the union of the merged records' fixed
    /// versions above the subject's version (a fix on an older branch does
    /// not fix this one), sorted with the ecosystem's order.
    pub fixed: Vec<String>,
}

/// What one record says about one subject.
struct Hit {
    /// Which call of `add` produced it, so several affected entries of one
    /// record for the same package merge into one hit.
    addition: u64,
    record: String,
    aliases: Vec<String>,
    summary: Option<String>,
    severity: Severity,
    fixed: Vec<String>,
}

/// Matches OSV records against a set of subjects. See the module docs.
pub struct Scanner {
    subjects: Vec<Subject>,
    /// The version order of each subject, by position.
    orders: Vec<Arc<dyn VersionOrder>>,
    /// Base ecosystem → name key → subject positions.
    index: HashMap<String, HashMap<String, Vec<usize>>>,
    unmatched: BTreeSet<String>,
    hits: Vec<Vec<Hit>>,
    additions: u64,
}

/// The ecosystem without its `:release` suffix (`Debian:12` → `Debian`,
/// `Ubuntu:22.04:LTS` → `Ubuntu`).
fn base_ecosystem(ecosystem: &str) -> &str {
    ecosystem
        .split_once(':')
        .map_or(ecosystem, |(base, _)| base)
}

/// Whether a record's ecosystem covers a subject's: equal, or the record's
/// has no release and the subject's is a release of it.
fn ecosystem_covers(record: &str, subject: &str) -> bool {
    record == subject || (!record.contains(':') && base_ecosystem(subject) == record)
}

/// The key a name is indexed by: PEP 503's normalized name for PyPI
/// (lowercase, runs of `-`, `_`, `.` as one `-`), the name itself elsewhere.
fn name_key<'name>(base: &str, name: &'name str) -> Cow<'name, str> {
    if base != "PyPI" {
        return Cow::Borrowed(name);
    }
    let already_normal = !name
        .bytes()
        .any(|byte| byte.is_ascii_uppercase() || byte == b'_' || byte == b'.')
        && !name.contains("--");
    if already_normal {
        return Cow::Borrowed(name);
    }
    let mut normal = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for character in name.chars() {
        if matches!(character, '-' | '_' | '.') {
            if !in_separator_run {
                normal.push('-');
            }
            in_separator_run = true;
        } else {
            normal.push(character.to_ascii_lowercase());
            in_separator_run = false;
        }
    }
    Cow::Owned(normal)
}

impl Scanner {
    /// Indexes the subjects. `order` gives the version order of an OSV
    /// ecosystem name without its `:release` suffix (`Debian`, `PyPI`, `Go`);
    /// subjects of an ecosystem without one are never matched and are
    /// reported by [`Scanner::unmatched_ecosystems`].
    pub fn new(
        subjects: Vec<Subject>,
        order: impl Fn(&str) -> Option<Arc<dyn VersionOrder>>,
    ) -> Self {
        let mut known: HashMap<String, Option<Arc<dyn VersionOrder>>> = HashMap::new();
        let mut kept = Vec::with_capacity(subjects.len());
        let mut orders = Vec::with_capacity(subjects.len());
        let mut index: HashMap<String, HashMap<String, Vec<usize>>> = HashMap::new();
        let mut unmatched = BTreeSet::new();
        for subject in subjects {
            let base = base_ecosystem(&subject.ecosystem);
            let found = known
                .entry(base.to_owned())
                .or_insert_with(|| order(base))
                .clone();
            let Some(found) = found else {
                unmatched.insert(base.to_owned());
                continue;
            };
            let position = kept.len();
            index
                .entry(base.to_owned())
                .or_default()
                .entry(name_key(base, &subject.name).into_owned())
                .or_default()
                .push(position);
            kept.push(subject);
            orders.push(found);
        }
        let hits = kept.iter().map(|_| Vec::new()).collect();
        Scanner {
            subjects: kept,
            orders,
            index,
            unmatched,
            hits,
            additions: 0,
        }
    }

    /// The positions of the subjects a record's package names.
    fn candidates(&self, ecosystem: &str, name: &str) -> &[usize] {
        let base = base_ecosystem(ecosystem);
        self.index
            .get(base)
            .and_then(|names| names.get(name_key(base, name).as_ref()))
            .map_or(&[], Vec::as_slice)
    }

    /// Whether any subject is of this package: a cheap filter before a
    /// record's blob is read and parsed (export archives name each record's
    /// packages in its path or in an index).
    pub fn wants(&self, ecosystem: &str, name: &str) -> bool {
        self.candidates(ecosystem, name)
            .iter()
            .any(|&position| ecosystem_covers(ecosystem, &self.subjects[position].ecosystem))
    }

    /// Matches one record against the subjects. Withdrawn records are
    /// ignored. Adding the same record twice has no further effect.
    pub fn add(&mut self, record: &Record) {
        if record.withdrawn.is_some() {
            return;
        }
        self.additions += 1;
        let addition = self.additions;
        for affected in &record.affected {
            let Some(package) = &affected.package else {
                continue;
            };
            let base = base_ecosystem(&package.ecosystem);
            let Some(positions) = self
                .index
                .get(base)
                .and_then(|names| names.get(name_key(base, &package.name).as_ref()))
            else {
                continue;
            };
            // Severity and fixes are the entry's, whichever subject matched:
            // computed once, for the first match.
            let mut evidence: Option<(Severity, Vec<String>)> = None;
            for &position in positions {
                let subject = &self.subjects[position];
                if !ecosystem_covers(&package.ecosystem, &subject.ecosystem) {
                    continue;
                }
                let order = self.orders[position].as_ref();
                if !affected.affects(&subject.version, order) {
                    continue;
                }
                let (found, fixed) = evidence
                    .get_or_insert_with(|| (severity(record, affected), affected.fixed_versions()))
                    .clone();
                let hits = &mut self.hits[position];
                match hits.last_mut() {
                    Some(hit) if hit.addition == addition => {
                        if found.compare(&hit.severity) == Ordering::Greater {
                            hit.severity = found;
                        }
                        for version in fixed {
                            if !hit.fixed.contains(&version) {
                                hit.fixed.push(version);
                            }
                        }
                    }
                    _ => hits.push(Hit {
                        addition,
                        record: record.id.clone(),
                        aliases: record.aliases.clone(),
                        summary: record.summary.clone(),
                        severity: found,
                        fixed,
                    }),
                }
            }
        }
    }

    /// The ecosystems (without release) of subjects that could not be
    /// matched because no version order was given for them, sorted.
    pub fn unmatched_ecosystems(&self) -> Vec<String> {
        self.unmatched.iter().cloned().collect()
    }

    /// The findings: per subject, records that share an id or alias
    /// (transitively) merged into one. Sorted by subject reference, then id
    /// (then the subject's ecosystem, name and version, for subjects that
    /// share a reference).
    pub fn finish(self) -> Vec<Finding> {
        let mut findings = Vec::new();
        for ((subject, order), hits) in self.subjects.into_iter().zip(self.orders).zip(self.hits) {
            if hits.is_empty() {
                continue;
            }
            for group in merge_groups(&hits) {
                findings.push(finding(&subject, order.as_ref(), &hits, &group));
            }
        }
        findings.sort_by(|left, right| {
            left.subject
                .reference
                .cmp(&right.subject.reference)
                .then_with(|| left.id.cmp(&right.id))
                .then_with(|| left.subject.ecosystem.cmp(&right.subject.ecosystem))
                .then_with(|| left.subject.name.cmp(&right.subject.name))
                .then_with(|| left.subject.version.cmp(&right.subject.version))
        });
        findings
    }
}

/// Union-find over one subject's hits: hits that share an id or alias end up
/// in one group. Returns the groups as lists of hit positions.
fn merge_groups(hits: &[Hit]) -> Vec<Vec<usize>> {
    fn root(parents: &mut [usize], mut position: usize) -> usize {
        while parents[position] != position {
            parents[position] = parents[parents[position]];
            position = parents[position];
        }
        position
    }
    let mut parents: Vec<usize> = (0..hits.len()).collect();
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (position, hit) in hits.iter().enumerate() {
        for name in std::iter::once(&hit.record).chain(&hit.aliases) {
            match owner.get(name.as_str()) {
                Some(&other) => {
                    let (left, right) = (root(&mut parents, position), root(&mut parents, other));
                    if left != right {
                        parents[left] = right;
                    }
                }
                None => {
                    owner.insert(name, position);
                }
            }
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for position in 0..hits.len() {
        let group_root = root(&mut parents, position);
        groups.entry(group_root).or_default().push(position);
    }
    groups.into_values().collect()
}

fn finding(subject: &Subject, order: &dyn VersionOrder, hits: &[Hit], group: &[usize]) -> Finding {
    let mut members: Vec<&Hit> = group.iter().map(|&position| &hits[position]).collect();
    members.sort_by(|left, right| left.record.cmp(&right.record));
    let mut records: Vec<String> = members.iter().map(|hit| hit.record.clone()).collect();
    records.dedup();
    let aliases: BTreeSet<&String> = members
        .iter()
        .flat_map(|hit| std::iter::once(&hit.record).chain(&hit.aliases))
        .collect();
    let summary = members.iter().find_map(|hit| hit.summary.clone());
    let mut highest = Severity::default();
    for hit in &members {
        if hit.severity.compare(&highest) == Ordering::Greater {
            highest = hit.severity.clone();
        }
    }
    let mut fixed: Vec<String> = Vec::new();
    for version in members.iter().flat_map(|hit| &hit.fixed) {
        if order.compare(version, &subject.version) == Ordering::Greater && !fixed.contains(version)
        {
            fixed.push(version.clone());
        }
    }
    fixed.sort_by(|left, right| order.compare(left, right).then_with(|| left.cmp(right)));
    Finding {
        subject: subject.clone(),
        id: records.first().cloned().unwrap_or_default(),
        records,
        aliases: aliases.into_iter().cloned().collect(),
        summary,
        severity: highest,
        fixed,
    }
}
