//! Resolution in waves: per target, the newest release that satisfies
//! every constraint and has a file the target can install, then the
//! dependencies of every newly picked release, until nothing changes.

use std::collections::{BTreeMap, BTreeSet};

use super::download::Upstream;
use super::{Chosen, CollectError, Planned};
use crate::requirement::Requirement;
use crate::tags::{Target, parse_filename};
use crate::upstream::{Project, UpFile};
use crate::version::Version;

/// A release of a project: its version and files.
pub(super) struct Release<'a> {
    pub(super) version: Version,
    pub(super) files: Vec<&'a UpFile>,
}

pub(super) fn releases(project: &Project) -> Vec<Release<'_>> {
    let mut by_version: BTreeMap<Version, Vec<&UpFile>> = BTreeMap::new();
    for file in &project.files {
        let Some(name) = parse_filename(&file.filename, &project.name) else {
            continue;
        };
        let Some(version) = Version::parse(&name.version) else {
            continue;
        };
        by_version.entry(version).or_default().push(file);
    }
    by_version
        .into_iter()
        .map(|(version, files)| Release { version, files })
        .collect()
}

/// The files of a release a target can install (wheels that fit, and the
/// sdist), Requires-Python and yanking considered.
pub(super) fn usable<'a>(
    project: &str,
    files: &[&'a UpFile],
    target: &Target,
    allow_yanked: bool,
) -> Vec<&'a UpFile> {
    files
        .iter()
        .copied()
        .filter(|f| allow_yanked || f.yanked.is_none())
        .filter(|f| target.accepts_python(f.requires_python.as_deref()))
        .filter(|f| match parse_filename(&f.filename, project) {
            Some(name) if name.is_wheel() => target.accepts_wheel(&name.tags),
            Some(_) => true,
            None => false,
        })
        .collect()
}

/// What is carried of a release for a target: fitting wheels, plus the sdist
/// when sdists are wanted or no wheel fits.
pub(super) fn carried<'a>(project: &str, usable: &[&'a UpFile], sdist: bool) -> Vec<&'a UpFile> {
    let any_wheel = usable.iter().any(|f| f.filename.ends_with(".whl"));
    usable
        .iter()
        .copied()
        .filter(|f| f.filename.ends_with(".whl") || sdist || !any_wheel)
        .filter(|f| parse_filename(&f.filename, project).is_some())
        .collect()
}

/// The file whose metadata stands for a release on a target: a wheel with
/// PEP 658 metadata, else any fitting wheel, else the sdist.
fn metadata_source<'a>(usable: &[&'a UpFile]) -> Option<&'a UpFile> {
    usable
        .iter()
        .find(|f| f.filename.ends_with(".whl") && f.core_metadata.is_some())
        .or_else(|| usable.iter().find(|f| f.filename.ends_with(".whl")))
        .or_else(|| usable.first())
        .copied()
}

/// The sdists some target must build: a carried sdist whose release has no
/// carried wheel that fits every target.
pub(super) fn to_build(
    chosen: &BTreeMap<(String, String), Chosen>,
    targets: &[Target],
) -> Vec<(String, Chosen)> {
    let mut out = Vec::new();
    for ((project, filename), choice) in chosen {
        if filename.ends_with(".whl") {
            continue;
        }
        let wheels: Vec<Vec<(String, String, String)>> = chosen
            .iter()
            .filter(|((p, f), c)| {
                p == project && c.version == choice.version && f.ends_with(".whl")
            })
            .filter_map(|((p, f), _)| parse_filename(f, p).map(|n| n.tags))
            .collect();
        if targets
            .iter()
            .any(|t| !wheels.iter().any(|tags| t.accepts_wheel(tags)))
        {
            out.push((project.clone(), choice.clone()));
        }
    }
    out
}

const ROOT: &str = "";

#[derive(Default)]
pub(super) struct TargetState {
    /// project → requiring project (ROOT for declared) → requirements.
    pub(super) constraints: BTreeMap<String, BTreeMap<String, Vec<Requirement>>>,
    /// project → (version, extras) picked.
    pub(super) picked: BTreeMap<String, (Version, BTreeSet<String>)>,
}

impl TargetState {
    /// Who needs `project`: one path back to the declaration.
    fn chain(&self, project: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = project.to_owned();
        let mut seen = BTreeSet::new();
        while seen.insert(current.clone()) {
            let Some(parents) = self.constraints.get(&current) else {
                break;
            };
            let Some((parent, requirements)) = parents.iter().next() else {
                break;
            };
            let text = requirements
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            if parent == ROOT {
                out.push(format!("{text} in airlift.toml packages"));
                break;
            }
            let version = self
                .picked
                .get(parent)
                .map(|(v, _)| format!(" {v}"))
                .unwrap_or_default();
            out.push(format!("{text} required by {parent}{version}"));
            current = parent.clone();
        }
        out
    }
}

const MAX_ROUNDS: usize = 500;

/// Computes the closure of `planned.roots` for every target; returns the
/// releases picked, per target.
pub(super) async fn resolve(
    up: &mut Upstream<'_>,
    planned: &Planned,
    roots: &[Requirement],
) -> Result<Vec<TargetState>, CollectError> {
    let mut states: Vec<TargetState> = planned
        .targets
        .iter()
        .map(|_| TargetState::default())
        .collect();
    for (state, target) in states.iter_mut().zip(&planned.targets) {
        for root in roots {
            if root.applies(&target.env, &BTreeSet::new()) {
                state
                    .constraints
                    .entry(root.key())
                    .or_default()
                    .entry(ROOT.into())
                    .or_default()
                    .push(root.clone());
            }
        }
    }
    for _round in 0..MAX_ROUNDS {
        // Pages for every constrained project.
        let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for state in &states {
            for name in state.constraints.keys() {
                names
                    .entry(name.clone())
                    .or_insert_with(|| state.chain(name));
            }
        }
        up.load_projects(names).await?;
        // Pick.
        let mut dirty: Vec<(usize, String, UpFile)> = Vec::new();
        let mut wanted_metadata: Vec<(String, UpFile)> = Vec::new();
        for (t, (state, target)) in states.iter_mut().zip(&planned.targets).enumerate() {
            let mut updates = Vec::new();
            for (name, parents) in &state.constraints {
                let project = up.projects.get(name).cloned().ok_or_else(|| {
                    CollectError::Spec(format!("internal: page of {name} not loaded"))
                })?;
                let requirements: Vec<&Requirement> = parents.values().flatten().collect();
                let extras: BTreeSet<String> = requirements
                    .iter()
                    .flat_map(|r| r.extras.iter().cloned())
                    .collect();
                let (version, source) =
                    pick(&project, target, &requirements, planned.prereleases, || {
                        state.chain(name)
                    })?;
                if state.picked.get(name) != Some(&(version.clone(), extras.clone())) {
                    wanted_metadata.push((name.clone(), source.clone()));
                    updates.push((name.clone(), version, extras, source));
                }
            }
            for (name, version, extras, source) in updates {
                state.picked.insert(name.clone(), (version, extras));
                dirty.push((t, name, source));
            }
        }
        if dirty.is_empty() {
            return Ok(states);
        }
        up.load_metadata(wanted_metadata.clone()).await?;
        // Apply each newly picked release's dependencies.
        for (t, name, source) in dirty {
            let target = &planned.targets[t];
            let state = &mut states[t];
            let Some((version, extras)) = state.picked.get(&name).cloned() else {
                continue;
            };
            // The file `pick` chose to describe the release.
            let source = &source;
            let (_, metadata) = up
                .metadata
                .get(&(name.clone(), source.filename.clone()))
                .cloned()
                .ok_or_else(|| {
                    CollectError::Spec(format!("internal: metadata of {name} not loaded"))
                })?;
            if Version::parse(&metadata.version).as_ref() != Some(&version) {
                return Err(CollectError::Metadata {
                    project: name.clone(),
                    filename: source.filename.clone(),
                    message: format!(
                        "it says version {:?}, the file name says {version}",
                        metadata.version
                    ),
                });
            }
            for parents in state.constraints.values_mut() {
                parents.remove(&name);
            }
            for line in &metadata.requires_dist {
                let dependency = Requirement::parse(line).map_err(|e| CollectError::Metadata {
                    project: name.clone(),
                    filename: source.filename.clone(),
                    message: format!("Requires-Dist: {e}"),
                })?;
                if !dependency.applies(&target.env, &extras) {
                    continue;
                }
                if dependency.url.is_some() {
                    let mut chain = state.chain(&name);
                    chain.insert(0, format!("{name} {version}"));
                    return Err(CollectError::DirectUrl {
                        requirement: dependency.to_string(),
                        chain,
                    });
                }
                state
                    .constraints
                    .entry(dependency.key())
                    .or_default()
                    .entry(name.clone())
                    .or_default()
                    .push(dependency);
            }
        }
        // Withdraw what nothing needs any more.
        for state in &mut states {
            loop {
                let orphans: Vec<String> = state
                    .constraints
                    .iter()
                    .filter(|(_, parents)| parents.is_empty())
                    .map(|(name, _)| name.clone())
                    .collect();
                if orphans.is_empty() {
                    break;
                }
                for orphan in orphans {
                    state.constraints.remove(&orphan);
                    state.picked.remove(&orphan);
                    for parents in state.constraints.values_mut() {
                        parents.remove(&orphan);
                    }
                }
            }
        }
    }
    Err(CollectError::Unsettled(MAX_ROUNDS))
}

/// The newest release satisfying every requirement on a target, and the file
/// whose metadata describes it.
fn pick(
    project: &Project,
    target: &Target,
    requirements: &[&Requirement],
    prereleases: bool,
    chain: impl Fn() -> Vec<String>,
) -> Result<(Version, UpFile), CollectError> {
    let exact = requirements.iter().any(|r| r.specifiers.is_exact_pin());
    let admit_pre = prereleases
        || requirements
            .iter()
            .any(|r| r.specifiers.admits_prereleases());
    let all = releases(project);
    let matching: Vec<&Release> = all
        .iter()
        .filter(|r| {
            requirements
                .iter()
                .all(|q| q.specifiers.contains(&r.version))
        })
        .collect();
    let candidates: Vec<(&Release, Vec<&UpFile>)> = matching
        .iter()
        .map(|r| (*r, usable(&project.name, &r.files, target, exact)))
        .filter(|(_, files)| !files.is_empty())
        .collect();
    let best = candidates
        .iter()
        .rev()
        .find(|(r, _)| admit_pre || !r.version.is_prerelease())
        .or_else(|| candidates.last());
    if let Some((release, files)) = best {
        let source = metadata_source(files)
            .cloned()
            .ok_or_else(|| CollectError::NoFile {
                project: project.name.clone(),
                version: release.version.to_string(),
                target: target.to_string(),
                chain: chain(),
            })?;
        return Ok((release.version.clone(), source));
    }
    let constraints = requirements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    // Why nothing fits: yanked, or no file for the target, or no version.
    let yanked: Vec<String> = matching
        .iter()
        .filter(|r| !usable(&project.name, &r.files, target, true).is_empty())
        .map(|r| r.version.to_string())
        .collect();
    if !yanked.is_empty() {
        return Err(CollectError::YankedOnly {
            project: project.name.clone(),
            constraints,
            versions: yanked.join(", "),
            chain: chain(),
        });
    }
    if let Some(newest) = matching.last() {
        return Err(CollectError::NoFile {
            project: project.name.clone(),
            version: newest.version.to_string(),
            target: target.to_string(),
            chain: chain(),
        });
    }
    let available: Vec<String> = all
        .iter()
        .rev()
        .take(8)
        .map(|r| r.version.to_string())
        .rev()
        .collect();
    Err(CollectError::Unsatisfiable {
        project: project.name.clone(),
        constraints,
        target: target.to_string(),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
        chain: chain(),
    })
}
