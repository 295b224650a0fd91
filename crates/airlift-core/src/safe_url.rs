//! URLs that never print their credentials.

use std::fmt;

use url::Url;

/// A URL whose `Display` and `Debug` hide the user name, password and any
/// query parameter that looks like a token, so it can be logged and put in
/// error messages safely.
#[derive(Clone, PartialEq, Eq)]
pub struct SafeUrl(Url);

impl SafeUrl {
    /// Parses a URL.
    pub fn parse(input: &str) -> Result<Self, url::ParseError> {
        Url::parse(input).map(Self)
    }

    /// The full URL, credentials included, for the HTTP client only.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    /// The redacted form.
    pub fn redacted(&self) -> String {
        let mut url = self.0.clone();
        if !url.username().is_empty() {
            let _ = url.set_username("***");
        }
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        if url.query().is_some() {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let secret = ["token", "sig", "signature", "key", "secret", "password"]
                        .iter()
                        .any(|s| k.to_ascii_lowercase().contains(s));
                    (
                        k.into_owned(),
                        if secret { "***".into() } else { v.into_owned() },
                    )
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        url.to_string()
    }
}

impl From<Url> for SafeUrl {
    fn from(url: Url) -> Self {
        Self(url)
    }
}

impl fmt::Display for SafeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for SafeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SafeUrl({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show() {
        let url =
            SafeUrl::parse("https://alice:hunter2@files.example.com/a?token=abc&x=1").expect("url");
        let shown = format!("{url} {url:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("alice"), "{shown}");
        assert!(!shown.contains("abc"), "{shown}");
        assert!(shown.contains("x=1"), "{shown}");
        assert_eq!(url.expose().password(), Some("hunter2"));
    }
}
