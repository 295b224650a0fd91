//! The closure: the newest non-yanked match of every requirement, with features unified per semver-compatible range.

use super::*;

/// One requirement to satisfy.
#[derive(Clone, Debug)]
pub(super) struct Need {
    pub(super) name: String,
    pub(super) req: semver::VersionReq,
    pub(super) features: BTreeSet<String>,
    pub(super) default: bool,
    pub(super) dev: bool,
    pub(super) chain: Vec<String>,
}

/// A semver-compatible range: `1.x`, `0.3.x`, `0.0.7`.
pub(super) type Bucket = (u64, u64, u64);

pub(super) fn bucket(version: &semver::Version) -> Bucket {
    match (version.major, version.minor) {
        (0, 0) => (0, 0, version.patch),
        (0, minor) => (0, minor, u64::MAX),
        (major, _) => (major, u64::MAX, u64::MAX),
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Activation {
    pub(super) features: BTreeSet<String>,
    pub(super) default: bool,
    pub(super) dev: bool,
}

/// The closure of the declared crates: (lowercase name, version) → release.
pub(super) async fn resolve(
    up: &mut Upstream<'_>,
    planned: &Planned,
    notes: &mut Vec<String>,
) -> Result<BTreeMap<(String, semver::Version), Release>, CollectError> {
    // Features are unified per semver-compatible range, as cargo builds one
    // version per range with the union of what every dependent asks for:
    // when the union grows, every carried version in the range is expanded
    // again, so whichever of them cargo settles on has its optional
    // dependencies carried.
    let mut active: BTreeMap<(String, Bucket), Activation> = BTreeMap::new();
    let mut picked: BTreeMap<(String, semver::Version), Release> = BTreeMap::new();
    let mut chains: BTreeMap<(String, semver::Version), Vec<String>> = BTreeMap::new();
    let mut queue: Vec<Need> = planned
        .roots
        .iter()
        .map(|root| Need {
            name: root.name.clone(),
            req: root.req.clone(),
            features: root.features.iter().cloned().collect(),
            default: true,
            dev: planned.dev,
            chain: vec![format!("{}@{} in airlift.toml crates", root.name, root.req)],
        })
        .collect();
    while !queue.is_empty() {
        up.load(
            queue
                .iter()
                .map(|n| (n.name.clone(), n.chain.clone()))
                .collect(),
        )
        .await?;
        let mut next = Vec::new();
        for need in queue {
            let releases = up.releases(&need.name)?;
            let release = choose(&need, &releases)?;
            let lower = need.name.to_ascii_lowercase();
            let key = (lower.clone(), release.version.clone());
            let range = (lower.clone(), bucket(&release.version));
            let activation = active.entry(range.clone()).or_default();
            let before = activation.clone();
            let fresh = !picked.contains_key(&key);
            activation.features.extend(need.features.iter().cloned());
            activation.default |= need.default;
            activation.dev |= need.dev;
            let grown = *activation != before;
            if !fresh && !grown {
                continue;
            }
            let activation = activation.clone();
            if fresh {
                picked.insert(key.clone(), release.clone());
                let mut chain = need.chain.clone();
                chain.insert(0, format!("{} {}", release.line.name, release.version));
                chains.insert(key.clone(), chain);
            }
            // The new version, or every version of the range when the union grew.
            let targets: Vec<(String, semver::Version)> = if grown {
                picked
                    .keys()
                    .filter(|(n, v)| *n == lower && bucket(v) == range.1)
                    .cloned()
                    .collect()
            } else {
                vec![key.clone()]
            };
            let none = BTreeSet::new();
            for target in targets {
                let (Some(release), Some(chain)) = (picked.get(&target), chains.get(&target))
                else {
                    continue;
                };
                // Features this need asked of this very version must exist.
                let strict = if target == key { &need.features } else { &none };
                next.extend(expand(release, &activation, chain, notes, strict)?);
            }
        }
        queue = next;
    }
    Ok(picked)
}

/// The newest non-yanked release matching a requirement.
pub(super) fn choose<'a>(
    need: &Need,
    releases: &'a [Release],
) -> Result<&'a Release, CollectError> {
    let matching: Vec<&Release> = releases
        .iter()
        .filter(|r| need.req.matches(&r.version))
        .collect();
    if let Some(best) = matching
        .iter()
        .filter(|r| !r.line.yanked)
        .max_by(|a, b| a.version.cmp(&b.version))
    {
        return Ok(best);
    }
    if !matching.is_empty() {
        return Err(CollectError::YankedOnly {
            krate: need.name.clone(),
            req: need.req.to_string(),
            versions: matching
                .iter()
                .map(|r| r.version.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            chain: need.chain.clone(),
        });
    }
    let mut versions: Vec<&semver::Version> = releases.iter().map(|r| &r.version).collect();
    versions.sort();
    let available: Vec<String> = versions
        .iter()
        .rev()
        .take(8)
        .rev()
        .map(ToString::to_string)
        .collect();
    Err(CollectError::Unsatisfiable {
        krate: need.name.clone(),
        req: need.req.to_string(),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
        chain: need.chain.clone(),
    })
}

/// The dependencies an activated release needs, with their features.
pub(super) fn expand(
    release: &Release,
    activation: &Activation,
    chain: &[String],
    notes: &mut Vec<String>,
    strict: &BTreeSet<String>,
) -> Result<Vec<Need>, CollectError> {
    let deps = &release.line.deps;
    let optional: BTreeSet<&str> = deps
        .iter()
        .filter(|d| d.optional)
        .map(|d| d.name.as_str())
        .collect();
    let mut work: Vec<String> = activation.features.iter().cloned().collect();
    if activation.default && release.feature("default").is_some() {
        work.push("default".into());
    }
    let mut seen = BTreeSet::new();
    let mut enabled: BTreeSet<String> = BTreeSet::new();
    let mut dep_features: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut weak: Vec<(String, String)> = Vec::new();
    while let Some(feature) = work.pop() {
        if !seen.insert(feature.clone()) {
            continue;
        }
        match release.feature(&feature) {
            Some(items) => {
                for item in items {
                    if let Some(dep) = item.strip_prefix("dep:") {
                        enabled.insert(dep.to_owned());
                    } else if let Some((dep, sub)) = item.split_once('/') {
                        if let Some(dep) = dep.strip_suffix('?') {
                            // Cargo's resolver locks what a weak feature
                            // names even when nothing else enables it.
                            if optional.contains(dep) {
                                enabled.insert(dep.to_owned());
                            }
                            weak.push((dep.to_owned(), sub.to_owned()));
                        } else {
                            if optional.contains(dep) {
                                enabled.insert(dep.to_owned());
                            }
                            dep_features
                                .entry(dep.to_owned())
                                .or_default()
                                .insert(sub.to_owned());
                        }
                    } else {
                        work.push(item);
                    }
                }
            }
            // The implicit feature of an optional dependency.
            None if optional.contains(feature.as_str()) => {
                enabled.insert(feature);
            }
            // Asked of another version of the range: not this one's.
            None if !strict.contains(&feature) => {}
            None => {
                return Err(CollectError::Feature {
                    krate: release.line.name.clone(),
                    version: release.version.to_string(),
                    feature,
                    chain: chain[1..].to_vec(),
                });
            }
        }
    }
    for (dep, sub) in weak {
        let on = enabled.contains(&dep) || deps.iter().any(|d| d.name == dep && !d.optional);
        if on {
            dep_features.entry(dep).or_default().insert(sub);
        }
    }
    let mut needs = Vec::new();
    for dep in deps {
        let wanted = match dep.kind() {
            "dev" => activation.dev,
            _ => true,
        };
        if !wanted || (dep.optional && !enabled.contains(&dep.name)) {
            continue;
        }
        if !index::valid_name(dep.crate_name()) {
            return Err(CollectError::Upstream {
                krate: release.line.name.clone(),
                url: format!("index line of {}", release.version),
                message: format!("dependency {:?} is not a crate name", dep.crate_name()),
            });
        }
        if let Some(registry) = &dep.registry {
            notes.push(format!(
                "{} {}: dependency {} comes from another registry ({registry}) and is not carried",
                release.line.name,
                release.version,
                dep.crate_name()
            ));
            continue;
        }
        let req = semver::VersionReq::parse(&dep.req).map_err(|e| CollectError::Upstream {
            krate: release.line.name.clone(),
            url: format!("index line of {}", release.version),
            message: format!("dependency {} has requirement {:?}: {e}", dep.name, dep.req),
        })?;
        let mut features: BTreeSet<String> = dep.features.iter().cloned().collect();
        if let Some(more) = dep_features.get(&dep.name) {
            features.extend(more.iter().cloned());
        }
        needs.push(Need {
            name: dep.crate_name().to_owned(),
            req,
            features,
            default: dep.default_features,
            dev: false,
            chain: chain.to_vec(),
        });
    }
    Ok(needs)
}
