//! Access rules: who may do which [`Action`] on which names of which
//! ecosystems.
//!
//! The site writes them in one file, `access.toml` in the home (or the
//! file `serve --access` names):
//!
//! ```toml
//! [[rule]]
//! ecosystems = ["oci"]          # every ecosystem when absent
//! names = ["team/*"]            # every name when absent; `*` matches any text, `/` too
//! read = ["anonymous"]          # `anonymous`, `authenticated`, a user, or `@group`
//! write = ["@ci"]
//! delete = ["alice"]
//! admin = []                    # everything the others allow
//! ```
//!
//! Rules only allow; what no rule allows is refused. Anonymous callers may
//! be allowed to read, never to write, delete or administer: a file that
//! says otherwise is refused as a whole, so that a typo cannot open the
//! server.

use std::path::Path;

use airlift_ecosystem::{Action, Scope};
use serde::Deserialize;

/// A name pattern: `*` matches any text (slashes too), `?` one character,
/// everything else itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    /// The pattern `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it matches every name.
    pub fn is_everything(&self) -> bool {
        self.0 == "*"
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        glob(self.0.as_bytes(), name.as_bytes())
    }
}

/// Iterative glob with one backtrack point: linear in practice, never
/// exponential, whatever the pattern.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Who a grant is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// Everyone, with or without credentials.
    Anonymous,
    /// Every caller with valid credentials.
    Authenticated,
    /// One user.
    User(String),
    /// Every member of a group.
    Group(String),
}

impl Who {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "anonymous" => Self::Anonymous,
            "authenticated" => Self::Authenticated,
            _ => match text.strip_prefix('@') {
                Some(group) if crate::valid_name(group) => Self::Group(group.to_owned()),
                None if crate::valid_name(text) => Self::User(text.to_owned()),
                _ => {
                    return Err(format!(
                        "{text:?} is not a user, @group, anonymous or authenticated"
                    ));
                }
            },
        })
    }
}

/// Who is asking, as rules see it.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    /// The user; `None` for an anonymous caller.
    pub user: Option<&'a str>,
    /// The user's groups.
    pub groups: &'a [String],
}

impl Subject<'_> {
    /// An anonymous caller.
    pub const ANONYMOUS: Subject<'static> = Subject {
        user: None,
        groups: &[],
    };

    fn is(&self, who: &Who) -> bool {
        match who {
            Who::Anonymous => true,
            Who::Authenticated => self.user.is_some(),
            Who::User(name) => self.user == Some(name.as_str()),
            Who::Group(group) => self.user.is_some() && self.groups.iter().any(|g| g == group),
        }
    }
}

/// One rule.
#[derive(Clone, Debug)]
pub struct Rule {
    ecosystems: Option<Vec<String>>,
    names: Vec<Pattern>,
    grants: Vec<(Action, Who)>,
}

impl Rule {
    /// A rule over `ecosystems` (all when `None`) and `names`.
    pub fn new(
        ecosystems: Option<Vec<String>>,
        names: Vec<Pattern>,
        grants: Vec<(Action, Who)>,
    ) -> Self {
        Self {
            ecosystems,
            names,
            grants,
        }
    }

    fn covers_ecosystem(&self, ecosystem: &str) -> bool {
        self.ecosystems
            .as_ref()
            .is_none_or(|list| list.iter().any(|e| e == ecosystem))
    }

    fn covers(&self, scope: &Scope) -> bool {
        match scope {
            Scope::Name(name) => self.names.iter().any(|p| p.matches(name)),
            Scope::All => self.names.iter().any(Pattern::is_everything),
            Scope::Any | Scope::Login | Scope::Base => true,
        }
    }

    fn grants(&self, subject: &Subject<'_>, action: Action) -> bool {
        self.grants
            .iter()
            .any(|(granted, who)| granted.allows(action) && subject.is(who))
    }
}

/// The rules a server enforces.
#[derive(Clone, Debug)]
pub struct Policy {
    rules: Vec<Rule>,
    hosted: Vec<Rule>,
    retention: Vec<Retention>,
    /// Where they come from (a path, or the default's description).
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    rule: Vec<RawRule>,
    #[serde(default)]
    hosted: Vec<RawHosted>,
    #[serde(default)]
    retention: Vec<RawRetention>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    ecosystems: Vec<String>,
    names: Vec<String>,
    keep_tags: Option<usize>,
    untagged_days: Option<u64>,
}

/// A retention rule for hosted repositories (`[[retention]]`; OCI only
/// today): applied by `airlift gc`.
#[derive(Clone, Debug)]
pub struct Retention {
    /// The repositories it applies to.
    pub names: Vec<Pattern>,
    /// Keep this many tags, the most recently pushed.
    pub keep_tags: Option<usize>,
    /// Remove manifests no kept tag reaches after this many days.
    pub untagged_days: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHosted {
    ecosystems: Option<Vec<String>>,
    names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    ecosystems: Option<Vec<String>>,
    names: Option<Vec<String>>,
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<String>,
    #[serde(default)]
    delete: Vec<String>,
    #[serde(default)]
    admin: Vec<String>,
}

/// A policy file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PolicyError {
    /// The file.
    pub path: String,
    /// What is wrong, with the rule's number where it is one rule.
    pub message: String,
}

impl Policy {
    /// The policy of a server without an access file: anonymous callers
    /// may read when `anonymous_read`, and every user may read, write and
    /// delete within the scopes of the token it uses.
    pub fn default_rules(anonymous_read: bool) -> Self {
        let mut grants = vec![
            (Action::Read, Who::Authenticated),
            (Action::Write, Who::Authenticated),
            (Action::Delete, Who::Authenticated),
        ];
        if anonymous_read {
            grants.push((Action::Read, Who::Anonymous));
        }
        Self {
            rules: vec![Rule::new(None, vec![Pattern::new("*")], grants)],
            hosted: Vec::new(),
            retention: Vec::new(),
            source: if anonymous_read {
                "the default: anonymous read, users read, write and delete".to_owned()
            } else {
                "the default: users read, write and delete; no anonymous access".to_owned()
            },
        }
    }

    /// The same, and anonymous callers may read everything.
    pub fn with_anonymous_read(mut self) -> Self {
        self.rules.push(Rule::new(
            None,
            vec![Pattern::new("*")],
            vec![(Action::Read, Who::Anonymous)],
        ));
        self.source
            .push_str(", and anonymous read (--anonymous-read)");
        self
    }

    /// Parses an access file; `ecosystems` are the names it may use.
    pub fn parse(path: &Path, text: &str, ecosystems: &[&str]) -> Result<Self, PolicyError> {
        let failed = |message: String| PolicyError {
            path: path.display().to_string(),
            message,
        };
        let raw: RawPolicy = toml::from_str(text).map_err(|e| failed(e.to_string()))?;
        let mut hosted = Vec::new();
        for (index, rule) in raw.hosted.into_iter().enumerate() {
            let in_rule = |message: String| failed(format!("hosted {}: {message}", index + 1));
            if let Some(list) = &rule.ecosystems
                && let Some(unknown) = list.iter().find(|e| !ecosystems.contains(&e.as_str()))
            {
                return Err(in_rule(format!("unknown ecosystem {unknown:?}")));
            }
            if rule.names.is_empty() {
                return Err(in_rule(
                    "`names` is empty: it would host nothing".to_owned(),
                ));
            }
            hosted.push(Rule::new(
                rule.ecosystems,
                rule.names.into_iter().map(Pattern::new).collect(),
                Vec::new(),
            ));
        }
        let mut retention = Vec::new();
        for (index, rule) in raw.retention.into_iter().enumerate() {
            let in_rule = |message: String| failed(format!("retention {}: {message}", index + 1));
            if rule.ecosystems != ["oci"] {
                return Err(in_rule(
                    "retention rules apply to ecosystems = [\"oci\"] only".to_owned(),
                ));
            }
            if rule.names.is_empty() {
                return Err(in_rule("`names` is empty".to_owned()));
            }
            if rule.keep_tags.is_none() && rule.untagged_days.is_none() {
                return Err(in_rule("give keep_tags, untagged_days or both".to_owned()));
            }
            if rule.keep_tags == Some(0) {
                return Err(in_rule("keep_tags = 0 would remove every tag".to_owned()));
            }
            retention.push(Retention {
                names: rule.names.into_iter().map(Pattern::new).collect(),
                keep_tags: rule.keep_tags,
                untagged_days: rule.untagged_days,
            });
        }
        let mut rules = Vec::new();
        for (index, rule) in raw.rule.into_iter().enumerate() {
            let number = index + 1;
            let in_rule = |message: String| failed(format!("rule {number}: {message}"));
            if let Some(list) = &rule.ecosystems
                && let Some(unknown) = list.iter().find(|e| !ecosystems.contains(&e.as_str()))
            {
                return Err(in_rule(format!(
                    "unknown ecosystem {unknown:?} (known: {})",
                    ecosystems.join(", ")
                )));
            }
            let names = match rule.names {
                Some(names) if names.is_empty() => {
                    return Err(in_rule(
                        "`names` is empty: it would match nothing".to_owned(),
                    ));
                }
                Some(names) => names.into_iter().map(Pattern::new).collect(),
                None => vec![Pattern::new("*")],
            };
            let mut grants = Vec::new();
            for (action, list) in [
                (Action::Read, rule.read),
                (Action::Write, rule.write),
                (Action::Delete, rule.delete),
                (Action::Admin, rule.admin),
            ] {
                for text in list {
                    let who = Who::parse(&text).map_err(in_rule)?;
                    if who == Who::Anonymous && action != Action::Read {
                        return Err(in_rule(format!(
                            "anonymous callers may only read; `{action}` cannot name anonymous"
                        )));
                    }
                    grants.push((action, who));
                }
            }
            rules.push(Rule::new(rule.ecosystems, names, grants));
        }
        Ok(Self {
            rules,
            hosted,
            retention,
            source: path.display().to_string(),
        })
    }

    /// Whether `subject` may do `action` on `scope` in `ecosystem`. For
    /// [`Scope::Any`], whether it may on some name of the ecosystem.
    pub fn allows(
        &self,
        subject: &Subject<'_>,
        ecosystem: &str,
        scope: &Scope,
        action: Action,
    ) -> bool {
        self.rules.iter().any(|rule| {
            rule.covers_ecosystem(ecosystem) && rule.covers(scope) && rule.grants(subject, action)
        })
    }

    /// The retention rules (`[[retention]]`).
    pub fn retention(&self) -> &[Retention] {
        &self.retention
    }

    /// Whether the site hosts any names (`[[hosted]]`).
    pub fn has_hosted(&self) -> bool {
        !self.hosted.is_empty()
    }

    /// Whether `name` in `ecosystem` is hosted: published inside this
    /// site, kept by every import, refused in any bundle.
    pub fn is_hosted(&self, ecosystem: &str, name: &str) -> bool {
        let scope = Scope::Name(name.to_owned());
        self.hosted
            .iter()
            .any(|rule| rule.covers_ecosystem(ecosystem) && rule.covers(&scope))
    }

    /// The hosted patterns of `ecosystem`, for messages.
    pub fn hosted_names(&self, ecosystem: &str) -> Vec<&str> {
        self.hosted
            .iter()
            .filter(|rule| rule.covers_ecosystem(ecosystem))
            .flat_map(|rule| rule.names.iter().map(Pattern::as_str))
            .collect()
    }

    /// Whether anonymous callers may read every name of `ecosystem`.
    pub fn anonymous_reads_all(&self, ecosystem: &str) -> bool {
        self.allows(&Subject::ANONYMOUS, ecosystem, &Scope::All, Action::Read)
    }
}

/// What an API token is limited to: `ECOSYSTEM:PATTERN:ACTIONS`, such as
/// `oci:team/*:read,write` or `*:*:read`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenScope {
    /// The ecosystem, or `*`.
    pub ecosystem: String,
    /// The names.
    pub names: Pattern,
    /// The actions.
    pub actions: Vec<Action>,
}

impl TokenScope {
    /// Parses `ECOSYSTEM:PATTERN:ACTIONS`.
    pub fn parse(text: &str, ecosystems: &[&str]) -> Result<Self, String> {
        let usage =
            || format!("{text:?} is not ECOSYSTEM:NAMES:ACTIONS (such as oci:team/*:read,write)");
        let (ecosystem, rest) = text.split_once(':').ok_or_else(usage)?;
        let (names, actions) = rest.rsplit_once(':').ok_or_else(usage)?;
        if ecosystem != "*" && !ecosystems.contains(&ecosystem) {
            return Err(format!(
                "unknown ecosystem {ecosystem:?} in token scope {text:?} (known: {}, or *)",
                ecosystems.join(", ")
            ));
        }
        if names.is_empty() {
            return Err(usage());
        }
        let actions = actions
            .split(',')
            .map(|a| {
                Action::parse(a.trim()).ok_or_else(|| {
                    format!(
                        "unknown action {a:?} in token scope {text:?} (read, write, delete, admin)"
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            ecosystem: ecosystem.to_owned(),
            names: Pattern::new(names),
            actions,
        })
    }

    /// Whether it allows `action` on `scope` in `ecosystem`.
    pub fn allows(&self, ecosystem: &str, scope: &Scope, action: Action) -> bool {
        (self.ecosystem == "*" || self.ecosystem == ecosystem)
            && self.actions.iter().any(|a| a.allows(action))
            && match scope {
                Scope::Name(name) => self.names.matches(name),
                Scope::All => self.names.is_everything(),
                Scope::Any | Scope::Login | Scope::Base => true,
            }
    }
}

impl std::fmt::Display for TokenScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let actions: Vec<&str> = self.actions.iter().map(|a| a.as_str()).collect();
        write!(
            f,
            "{}:{}:{}",
            self.ecosystem,
            self.names.as_str(),
            actions.join(",")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECOSYSTEMS: &[&str] = &["files", "oci", "pypi", "cargo", "npm", "apt"];

    fn name(n: &str) -> Scope {
        Scope::Name(n.to_owned())
    }

    #[test]
    fn globs_match_slashes_and_never_backtrack_badly() {
        assert!(Pattern::new("team/*").matches("team/app"));
        assert!(Pattern::new("team/*").matches("team/sub/app"));
        assert!(!Pattern::new("team/*").matches("teams/app"));
        assert!(Pattern::new("@corp/*").matches("@corp/tool"));
        assert!(Pattern::new("a?c").matches("abc"));
        assert!(!Pattern::new("a?c").matches("ac"));
        assert!(Pattern::new("*").matches(""));
        let long = "a".repeat(10_000);
        assert!(!Pattern::new(format!("{}b", "*a".repeat(50))).matches(&long));
    }

    #[test]
    fn rules_allow_by_ecosystem_name_action_and_who() {
        let text = r#"
            [[rule]]
            ecosystems = ["oci"]
            names = ["team/*"]
            read = ["anonymous"]
            write = ["@ci"]
            delete = ["alice"]
            [[rule]]
            ecosystems = ["pypi"]
            admin = ["bob"]
        "#;
        let policy = Policy::parse(Path::new("access.toml"), text, ECOSYSTEMS).expect("parses");
        let ci = ["ci".to_owned()];
        let carol = Subject {
            user: Some("carol"),
            groups: &ci,
        };
        let alice = Subject {
            user: Some("alice"),
            groups: &[],
        };
        let bob = Subject {
            user: Some("bob"),
            groups: &[],
        };
        let anon = Subject::ANONYMOUS;
        assert!(policy.allows(&anon, "oci", &name("team/app"), Action::Read));
        assert!(!policy.allows(&anon, "oci", &name("other/app"), Action::Read));
        assert!(!policy.allows(&anon, "oci", &name("team/app"), Action::Write));
        assert!(policy.allows(&carol, "oci", &name("team/app"), Action::Write));
        assert!(!policy.allows(&carol, "oci", &name("team/app"), Action::Delete));
        assert!(policy.allows(&alice, "oci", &name("team/app"), Action::Delete));
        assert!(!policy.allows(&alice, "pypi", &name("six"), Action::Read));
        assert!(
            policy.allows(&bob, "pypi", &name("six"), Action::Delete),
            "admin allows all"
        );
        assert!(policy.allows(&bob, "pypi", &Scope::All, Action::Read));
        assert!(
            !policy.allows(&anon, "oci", &Scope::All, Action::Read),
            "team/* is not every name"
        );
        assert!(policy.allows(&anon, "oci", &Scope::Any, Action::Read));
        assert!(!policy.anonymous_reads_all("oci"));
    }

    #[test]
    fn a_file_that_opens_writes_to_anonymous_or_names_an_unknown_ecosystem_is_refused() {
        for (text, expected) in [
            (
                "[[rule]]\nwrite = [\"anonymous\"]\n",
                "anonymous callers may only read",
            ),
            (
                "[[rule]]\necosystems = [\"pip\"]\nread = [\"anonymous\"]\n",
                "unknown ecosystem \"pip\"",
            ),
            (
                "[[rule]]\nnames = []\nread = [\"x\"]\n",
                "would match nothing",
            ),
            ("[[rule]]\nread = [\"bad name!\"]\n", "is not a user"),
            ("[[rules]]\n", "unknown field"),
        ] {
            let error = Policy::parse(Path::new("access.toml"), text, ECOSYSTEMS)
                .expect_err(text)
                .to_string();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(error.starts_with("access.toml: "), "{error}");
        }
    }

    #[test]
    fn token_scopes_parse_and_confine() {
        let scope = TokenScope::parse("oci:team/*:read,write", ECOSYSTEMS).expect("parses");
        assert!(scope.allows("oci", &name("team/app"), Action::Write));
        assert!(!scope.allows("oci", &name("team/app"), Action::Delete));
        assert!(!scope.allows("oci", &name("other/app"), Action::Read));
        assert!(!scope.allows("pypi", &name("team/app"), Action::Read));
        assert_eq!(scope.to_string(), "oci:team/*:read,write");
        let all = TokenScope::parse("*:*:read", ECOSYSTEMS).expect("parses");
        assert!(all.allows("npm", &Scope::All, Action::Read));
        assert!(TokenScope::parse("oci:x:fly", ECOSYSTEMS).is_err());
        assert!(TokenScope::parse("pip:x:read", ECOSYSTEMS).is_err());
        assert!(TokenScope::parse("oci", ECOSYSTEMS).is_err());
    }
}
