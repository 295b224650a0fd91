//! deb822 control paragraphs (`Packages`, `Release`): `Field: value`
//! lines, continuation lines starting with a space or tab, paragraphs
//! separated by blank lines.

/// One paragraph: its text (without the separating blank line) and its
/// fields.
#[derive(Clone, Debug)]
pub struct Paragraph<'a> {
    /// The paragraph as written.
    pub text: &'a str,
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Paragraph<'a> {
    /// A field's value (first line and continuations, trimmed), by
    /// case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Splits `text` into paragraphs; a line that is neither a field nor a
/// continuation is an error naming its line number.
pub fn paragraphs(text: &str) -> Result<Vec<Paragraph<'_>>, String> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut fields: Vec<(&str, usize, usize)> = Vec::new();
    let mut offset = 0;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        if content.trim().is_empty() {
            if let Some(s) = start.take() {
                out.push(make(text, s, line_start, &fields));
                fields.clear();
            }
            continue;
        }
        if content.starts_with('#') && start.is_none() {
            continue;
        }
        if content.starts_with([' ', '\t']) {
            let Some(last) = fields.last_mut() else {
                return Err(format!(
                    "line {}: a continuation line without a field",
                    number + 1
                ));
            };
            last.2 = line_start + content.len();
            continue;
        }
        let Some(colon) = content.find(':') else {
            return Err(format!("line {}: not a \"Field: value\" line", number + 1));
        };
        start.get_or_insert(line_start);
        fields.push((
            &text[line_start..line_start + colon],
            line_start + colon + 1,
            line_start + content.len(),
        ));
    }
    if let Some(s) = start {
        out.push(make(text, s, text.len(), &fields));
    }
    Ok(out)
}

fn make<'a>(
    text: &'a str,
    start: usize,
    end: usize,
    fields: &[(&'a str, usize, usize)],
) -> Paragraph<'a> {
    Paragraph {
        text: text[start..end].trim_end_matches(['\n', '\r']),
        fields: fields
            .iter()
            .map(|(name, s, e)| (*name, text[*s..*e].trim()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_continuations() {
        let text = "Package: a\nVersion: 1\nDescription: short\n long\n .\n more\n\n\nPackage: b\nDepends: x,\n y\n";
        let ps = paragraphs(text).expect("parses");
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].get("package"), Some("a"));
        assert_eq!(ps[0].get("Description"), Some("short\n long\n .\n more"));
        assert_eq!(
            ps[0].text,
            "Package: a\nVersion: 1\nDescription: short\n long\n .\n more"
        );
        assert_eq!(ps[1].get("Depends"), Some("x,\n y"));
        assert!(paragraphs(" orphan\n").is_err());
        assert!(paragraphs("Package a\n").is_err());
    }
}
