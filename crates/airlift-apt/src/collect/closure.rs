//! The closure of what an archive's `[[apt]]` declares, per architecture:
//! `Pre-Depends` and `Depends` (and `Recommends` when asked), alternatives
//! in order, versioned constraints with dpkg ordering, and virtual
//! packages through `Provides`.

use std::collections::{BTreeSet, HashMap, VecDeque};

use super::CollectError;
use super::indexes::Candidate;
use crate::relation::{self, Rel};
use crate::spec::AptSpec;
use crate::version;

/// Every candidate of one architecture, with the lookups the closure needs.
#[derive(Default)]
pub(super) struct Universe {
    pub(super) packages: Vec<Candidate>,
    pub(super) by_name: HashMap<String, Vec<usize>>,
    pub(super) providers: HashMap<String, Vec<usize>>,
    pub(super) by_file: HashMap<String, usize>,
}

impl Universe {
    pub(super) fn add(&mut self, c: Candidate) -> Result<(), String> {
        if let Some(&i) = self.by_file.get(&c.filename) {
            let known = &mut self.packages[i];
            if known.sha256 != c.sha256 {
                return Err(format!(
                    "{} is listed twice with different SHA256 ({} and {})",
                    c.filename, known.sha256, c.sha256
                ));
            }
            known.homes.extend(c.homes);
            return Ok(());
        }
        let i = self.packages.len();
        self.by_file.insert(c.filename.clone(), i);
        self.by_name.entry(c.package.clone()).or_default().push(i);
        for p in &c.provides {
            self.providers.entry(p.name.clone()).or_default().push(i);
        }
        self.packages.push(c);
        Ok(())
    }

    fn satisfies(&self, i: usize, rel: &Rel) -> bool {
        let c = &self.packages[i];
        if c.package == rel.name {
            return rel.accepts(&c.version);
        }
        c.provides.iter().any(|p| {
            p.name == rel.name
                && match (&rel.constraint, &p.constraint) {
                    (None, _) => true,
                    (Some(_), Some((_, v))) => rel.accepts(v),
                    (Some(_), None) => false,
                }
        })
    }

    /// The package to pick for `rel`: the newest real package that
    /// satisfies it (and the `also` constraints the same package puts on
    /// that name, as `libx (>= 2), libx (<< 3~)`), else a provider (by
    /// priority, then name).
    fn best(&self, rel: &Rel, also: &[Rel]) -> Option<usize> {
        let all_accept = |i: usize| {
            rel.accepts(&self.packages[i].version)
                && also
                    .iter()
                    .filter(|a| a.name == rel.name)
                    .all(|a| a.accepts(&self.packages[i].version))
        };
        let real = self
            .by_name
            .get(&rel.name)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| all_accept(i))
            .max_by(|&a, &b| {
                version::compare(&self.packages[a].version, &self.packages[b].version)
            });
        if real.is_some() {
            return real;
        }
        let rank = |p: &str| match p {
            "required" => 0,
            "important" => 1,
            "standard" => 2,
            "optional" => 3,
            _ => 4,
        };
        self.providers
            .get(&rel.name)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| self.satisfies(i, rel))
            .min_by(|&a, &b| {
                let (pa, pb) = (&self.packages[a], &self.packages[b]);
                rank(&pa.priority)
                    .cmp(&rank(&pb.priority))
                    .then_with(|| pa.package.cmp(&pb.package))
                    .then_with(|| version::compare(&pb.version, &pa.version))
            })
    }
}

pub(super) fn resolve(
    spec: &AptSpec,
    roots: &[Vec<Rel>],
    arch: &str,
    universe: &Universe,
    notes: &mut Vec<String>,
) -> Result<BTreeSet<usize>, CollectError> {
    let mut chosen = BTreeSet::new();
    // (alternatives, the parent's other single-alternative relations,
    // who needs it, required).
    type Item = (Vec<Rel>, Vec<Rel>, Vec<String>, bool);
    let mut queue: VecDeque<Item> = VecDeque::new();
    let origin = format!("[[apt]] {} in airlift.toml", spec.name);
    let singles = |groups: &[Vec<Rel>]| -> Vec<Rel> {
        groups
            .iter()
            .filter(|g| g.len() == 1)
            .map(|g| g[0].clone())
            .collect()
    };
    let root_singles = singles(roots);
    for group in roots {
        queue.push_back((
            group.clone(),
            root_singles.clone(),
            vec![origin.clone()],
            true,
        ));
    }
    for (i, c) in universe.packages.iter().enumerate() {
        let newest = universe.best(
            &Rel {
                name: c.package.clone(),
                arch: None,
                constraint: None,
            },
            &[],
        ) == Some(i);
        let selected = spec.whole_components
            || (spec.essential && c.essential)
            || spec.priorities.contains(&c.priority);
        if selected && newest {
            let why = if spec.whole_components {
                "whole-components"
            } else if spec.essential && c.essential {
                "essential"
            } else {
                "priorities"
            };
            queue.push_back((
                vec![Rel {
                    name: c.package.clone(),
                    arch: None,
                    constraint: Some((relation::Op::Eq, c.version.clone())),
                }],
                Vec::new(),
                vec![format!("{origin} ({why})")],
                true,
            ));
        }
    }
    while let Some((group, also, chain, required)) = queue.pop_front() {
        let usable: Vec<&Rel> = group
            .iter()
            .filter(|r| {
                r.arch
                    .as_deref()
                    .is_none_or(|a| matches!(a, "any" | "native") || a == arch)
            })
            .collect();
        if usable
            .iter()
            .any(|rel| chosen.iter().any(|&i| universe.satisfies(i, rel)))
        {
            continue;
        }
        let Some(pick) = usable.iter().find_map(|rel| universe.best(rel, &also)) else {
            let mut text = group
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" | ");
            let with: Vec<String> = also
                .iter()
                .filter(|a| group.iter().any(|r| r.name == a.name && r != *a))
                .map(ToString::to_string)
                .collect();
            if !with.is_empty() {
                text.push_str(&format!(" together with {}", with.join(", ")));
            }
            if !required {
                notes.push(format!(
                    "{} ({arch}): recommended {text} is not available; left out{}",
                    spec.name,
                    airlift_core::needed_by(&chain)
                ));
                continue;
            }
            let versions: Vec<String> = group
                .iter()
                .flat_map(|r| universe.by_name.get(&r.name).into_iter().flatten())
                .map(|&i| universe.packages[i].label())
                .collect();
            return Err(CollectError::Unsatisfiable {
                archive: spec.name.clone(),
                arch: arch.into(),
                relation: text,
                detail: if versions.is_empty() {
                    String::new()
                } else {
                    format!(" (the index has {})", versions.join(", "))
                },
                chain,
            });
        };
        if !chosen.insert(pick) {
            continue;
        }
        let c = &universe.packages[pick];
        let mut next = vec![c.label()];
        next.extend(chain.iter().cloned());
        let parse = |field: &str, text: &str| {
            relation::parse(&text.replace('\n', " ")).map_err(|e| CollectError::Package {
                archive: spec.name.clone(),
                package: c.package.clone(),
                version: c.version.clone(),
                message: format!("{field}: {e}"),
            })
        };
        let depends = parse("Depends", &c.depends)?;
        let also = singles(&depends);
        for dep in depends {
            queue.push_back((dep, also.clone(), next.clone(), true));
        }
        if spec.recommends {
            for dep in parse("Recommends", &c.recommends)? {
                queue.push_back((dep, Vec::new(), next.clone(), false));
            }
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::collect::indexes::candidate;
    use crate::control;

    fn stanza(text: &str) -> Candidate {
        let full = format!(
            "{text}\nFilename: pool/main/x/{}.deb\nSize: 1\nSHA256: {}\n",
            text.lines().next().unwrap_or("").replace("Package: ", ""),
            "a".repeat(64)
        );
        let full = Arc::new(full);
        let ps = control::paragraphs(&full).expect("paragraph");
        candidate(&ps[0], &full, "s", "main").expect("candidate")
    }

    fn spec() -> AptSpec {
        AptSpec {
            name: "t".into(),
            url: "http://example.com/".into(),
            suites: vec!["s".into()],
            components: vec!["main".into()],
            architectures: vec!["amd64".into()],
            keyring: "k".into(),
            packages: vec![],
            essential: false,
            priorities: vec![],
            recommends: false,
            whole_components: false,
            credentials: None,
        }
    }

    fn names(u: &Universe, set: &BTreeSet<usize>) -> Vec<String> {
        let mut v: Vec<String> = set
            .iter()
            .map(|&i| format!("{}={}", u.packages[i].package, u.packages[i].version))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn closure_follows_alternatives_versions_and_virtuals() {
        let mut u = Universe::default();
        for s in [
            "Package: app\nVersion: 1.0\nArchitecture: amd64\nPre-Depends: base (>= 2)\nDepends: mta | mail-transport-agent, libz:any (>= 1.2), libz (<< 2~), gone | lib-old\nRecommends: extra",
            "Package: libz\nVersion: 2.0\nArchitecture: amd64",
            "Package: base1\nVersion: 1\nArchitecture: amd64\nProvides: base (= 1)",
            "Package: base2\nVersion: 1\nArchitecture: amd64\nProvides: base (= 2.1)",
            "Package: postfix\nVersion: 3\nArchitecture: amd64\nProvides: mail-transport-agent",
            "Package: libz\nVersion: 1.1\nArchitecture: amd64",
            "Package: libz2\nVersion: 1\nArchitecture: amd64",
            "Package: libz\nVersion: 1.3-1\nArchitecture: amd64\nDepends: libz-common",
            "Package: libz-common\nVersion: 1.3-1\nArchitecture: all",
            "Package: lib-old\nVersion: 0.1\nArchitecture: amd64",
            "Package: extra\nVersion: 1\nArchitecture: amd64",
        ] {
            let mut c = stanza(s);
            c.filename = format!("pool/{}_{}.deb", c.package, c.version);
            u.add(c).expect("adds");
        }
        let roots = relation::parse("app").expect("root");
        let mut notes = Vec::new();
        let set = resolve(&spec(), &roots, "amd64", &u, &mut notes).expect("resolves");
        assert_eq!(
            names(&u, &set),
            [
                "app=1.0",
                "base2=1",
                "lib-old=0.1",
                "libz-common=1.3-1",
                "libz=1.3-1",
                "postfix=3"
            ]
        );
        let mut with = spec();
        with.recommends = true;
        let set = resolve(&with, &roots, "amd64", &u, &mut notes).expect("resolves");
        assert!(names(&u, &set).contains(&"extra=1".to_owned()));

        // One parent's constraints on a name that no single version meets.
        let mut odd = stanza(
            "Package: odd\nVersion: 1\nArchitecture: amd64\nDepends: libz (>= 1.3), libz (<< 1.2)",
        );
        odd.filename = "pool/odd_1.deb".into();
        u.add(odd).expect("adds");
        let roots = relation::parse("odd").expect("root");
        let text = resolve(&spec(), &roots, "amd64", &u, &mut notes)
            .expect_err("conflicting constraints")
            .to_string();
        assert!(
            text.contains("libz (>= 1.3) together with libz (<< 1.2): no package satisfies it"),
            "{text}"
        );
        let roots = relation::parse("app (>= 2)").expect("root");
        let error = resolve(&spec(), &roots, "amd64", &u, &mut notes).expect_err("unsatisfiable");
        let text = error.to_string();
        assert!(
            text.contains("app (>= 2): no package satisfies it (the index has app 1.0 (amd64))"),
            "{text}"
        );

        let mut broken = Universe::default();
        for s in [
            "Package: top\nVersion: 1\nArchitecture: amd64\nDepends: mid",
            "Package: mid\nVersion: 1\nArchitecture: amd64\nDepends: missing (>= 3)",
        ] {
            let mut c = stanza(s);
            c.filename = format!("pool/{}.deb", c.package);
            broken.add(c).expect("adds");
        }
        let roots = relation::parse("top").expect("root");
        let text = resolve(&spec(), &roots, "amd64", &broken, &mut notes)
            .expect_err("missing")
            .to_string();
        assert!(
            text.contains("missing (>= 3): no package satisfies it"),
            "{text}"
        );
        assert!(
            text.contains("mid 1 (amd64)") && text.contains("top 1 (amd64)"),
            "{text}"
        );
    }

    #[test]
    fn selections_by_essential_priority_and_whole_components() {
        let mut u = Universe::default();
        for s in [
            "Package: base-files\nVersion: 12\nArchitecture: amd64\nEssential: yes\nPriority: required\nDepends: mawk | awk",
            "Package: mawk\nVersion: 1.3\nArchitecture: amd64\nPriority: required\nProvides: awk",
            "Package: base-files\nVersion: 11\nArchitecture: amd64\nEssential: yes\nPriority: required",
            "Package: tzdata\nVersion: 2024a\nArchitecture: all\nPriority: important",
            "Package: extra-tool\nVersion: 1\nArchitecture: amd64\nPriority: optional",
        ] {
            let mut c = stanza(s);
            c.filename = format!("pool/{}_{}.deb", c.package, c.version);
            u.add(c).expect("adds");
        }
        let mut notes = Vec::new();
        let mut essential = spec();
        essential.essential = true;
        let set = resolve(&essential, &[], "amd64", &u, &mut notes).expect("resolves");
        assert_eq!(names(&u, &set), ["base-files=12", "mawk=1.3"]);
        let mut important = spec();
        important.priorities = vec!["important".into()];
        let set = resolve(&important, &[], "amd64", &u, &mut notes).expect("resolves");
        assert_eq!(names(&u, &set), ["tzdata=2024a"]);
        let mut whole = spec();
        whole.whole_components = true;
        let set = resolve(&whole, &[], "amd64", &u, &mut notes).expect("resolves");
        assert_eq!(
            names(&u, &set),
            ["base-files=12", "extra-tool=1", "mawk=1.3", "tzdata=2024a"]
        );
    }
}
