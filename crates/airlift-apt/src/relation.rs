//! Package relationship fields (`Depends`, `Pre-Depends`, `Provides`, …):
//! comma-separated groups of `|`-separated alternatives, each
//! `name[:arch] [(op version)] [arch list] [<profiles>]`.

use std::cmp::Ordering;

use crate::version;

/// A version operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<<`
    Lt,
    /// `<=`
    Le,
    /// `=`
    Eq,
    /// `>=`
    Ge,
    /// `>>`
    Gt,
}

impl Op {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "<<" => Self::Lt,
            "<=" | "<" => Self::Le,
            "=" => Self::Eq,
            ">=" | ">" => Self::Ge,
            ">>" => Self::Gt,
            _ => return None,
        })
    }

    fn text(self) -> &'static str {
        match self {
            Self::Lt => "<<",
            Self::Le => "<=",
            Self::Eq => "=",
            Self::Ge => ">=",
            Self::Gt => ">>",
        }
    }
}

/// One alternative of a relation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rel {
    /// The package (or virtual package) name.
    pub name: String,
    /// The architecture qualifier (`any`, `native`, `amd64`), if any.
    pub arch: Option<String>,
    /// The version constraint, if any.
    pub constraint: Option<(Op, String)>,
}

impl Rel {
    /// Whether `version` satisfies the constraint (no constraint: any).
    pub fn accepts(&self, version: &str) -> bool {
        let Some((op, wanted)) = &self.constraint else {
            return true;
        };
        let ord = version::compare(version, wanted);
        match op {
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
            Op::Eq => ord == Ordering::Equal,
            Op::Ge => ord != Ordering::Less,
            Op::Gt => ord == Ordering::Greater,
        }
    }
}

impl std::fmt::Display for Rel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if let Some(arch) = &self.arch {
            write!(f, ":{arch}")?;
        }
        if let Some((op, v)) = &self.constraint {
            write!(f, " ({} {v})", op.text())?;
        }
        Ok(())
    }
}

/// Whether `name` is a valid package name.
pub fn valid_name(name: &str) -> bool {
    name.len() >= 2
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
}

/// Parses a relationship field into groups of alternatives.
pub fn parse(field: &str) -> Result<Vec<Vec<Rel>>, String> {
    let mut groups = Vec::new();
    for group in field.split(',') {
        let group = group.trim();
        if group.is_empty() {
            continue;
        }
        let mut alternatives = Vec::new();
        for alt in group.split('|') {
            alternatives.push(parse_one(alt.trim()).map_err(|e| format!("{alt:?}: {e}"))?);
        }
        groups.push(alternatives);
    }
    Ok(groups)
}

fn parse_one(text: &str) -> Result<Rel, String> {
    // Drop architecture lists and build profiles: binary indexes do not
    // carry them, and they never name what to fetch.
    let mut cleaned = String::with_capacity(text.len());
    let mut depth = 0u32;
    for c in text.chars() {
        match c {
            '[' | '<'
                if depth == 0 && !cleaned.trim_end().ends_with('(') && !in_paren(&cleaned) =>
            {
                depth = 1;
            }
            ']' | '>' if depth == 1 => depth = 0,
            _ if depth == 1 => {}
            _ => cleaned.push(c),
        }
    }
    let text = cleaned.trim();
    let (head, constraint) = match text.split_once('(') {
        Some((head, rest)) => {
            let inner = rest
                .strip_suffix(')')
                .ok_or("unclosed version constraint")?
                .trim();
            let split = inner
                .find(|c: char| !"<=>".contains(c))
                .ok_or("empty version constraint")?;
            let (op, v) = inner.split_at(split);
            let op = Op::parse(op.trim()).ok_or_else(|| format!("unknown operator {op:?}"))?;
            let v = v.trim();
            if !version::valid(v) {
                return Err(format!("{v:?} is not a Debian version"));
            }
            (head.trim(), Some((op, v.to_owned())))
        }
        None => (text, None),
    };
    let (name, arch) = match head.split_once(':') {
        Some((n, a)) => (n, Some(a.to_owned())),
        None => (head, None),
    };
    if !valid_name(name) {
        return Err(format!("{name:?} is not a package name"));
    }
    Ok(Rel {
        name: name.to_owned(),
        arch,
        constraint,
    })
}

fn in_paren(s: &str) -> bool {
    s.matches('(').count() > s.matches(')').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_groups_alternatives_and_constraints() {
        let groups = parse(
            "libc6 (>= 2.34), default-mta | mail-transport-agent, perl:any, foo (<< 2:1.0~) [amd64] <!nocheck>",
        )
        .expect("parses");
        assert_eq!(groups.len(), 4);
        assert_eq!(groups[0][0].constraint, Some((Op::Ge, "2.34".into())));
        assert_eq!(groups[1].len(), 2);
        assert_eq!(groups[2][0].arch.as_deref(), Some("any"));
        assert_eq!(groups[3][0].to_string(), "foo (<< 2:1.0~)");
        assert!(groups[0][0].accepts("2.36-9") && !groups[0][0].accepts("2.31"));
        assert!(groups[3][0].accepts("2:0.9") && !groups[3][0].accepts("2:1.0"));
        assert!(parse("Foo").is_err() && parse("a (>= )").is_err() && parse("ab (~> 1)").is_err());
    }
}
