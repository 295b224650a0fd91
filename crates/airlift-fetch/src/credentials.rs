//! Credentials references, read the same way for every ecosystem.
//!
//! Secrets never go in `airlift.toml`: an entry says `credentials = "NAME"`,
//! and `NAME` names environment variables. What they hold depends only on
//! how the upstream protocol authenticates ([`AuthScheme`]): a user name and
//! password (`NAME_USERNAME`, `NAME_PASSWORD`) for HTTP basic authentication
//! (container registries, Python indexes), or a token (`NAME_TOKEN`), sent
//! as given (cargo registries, apt archives) or as a bearer token (npm
//! registries). Keeping the one resolver here means every ecosystem checks
//! the name the same way, reports a missing variable with the same words,
//! and hands back a [`Secret`] that never prints.

use base64::Engine;

use crate::Secret;

/// How an upstream expects the secret that a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// `NAME_USERNAME` and `NAME_PASSWORD`, sent as HTTP basic
    /// authentication (`Authorization: Basic …`).
    Basic,
    /// `NAME_TOKEN`, sent as the `Authorization` header as given: cargo
    /// registries and apt archives expect the whole header value there.
    Token,
    /// `NAME_TOKEN`, sent as `Authorization: Bearer <token>`.
    Bearer,
}

impl AuthScheme {
    /// The environment variables a reference names, in the order they are
    /// read (and reported when missing).
    pub fn variables(self, reference: &str) -> Vec<String> {
        match self {
            Self::Basic => vec![
                format!("{reference}_USERNAME"),
                format!("{reference}_PASSWORD"),
            ],
            Self::Token | Self::Bearer => vec![format!("{reference}_TOKEN")],
        }
    }
}

/// A credentials reference that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The reference cannot be the start of an environment variable name.
    #[error("credentials = {reference:?} must name environment variables (letters, digits and _)")]
    Name {
        /// The reference as written.
        reference: String,
    },
    /// A variable the reference names is not set (or is not UTF-8).
    #[error("credentials = {reference:?} but {variable} is not set")]
    Unset {
        /// The reference as written.
        reference: String,
        /// The first variable missing.
        variable: String,
    },
}

/// Whether `reference` can prefix environment variable names: ASCII
/// letters, digits and `_`, and not empty. Anything else (a space, `-`, `$`)
/// is almost surely a mistake, such as a secret pasted where its name goes.
pub fn valid_reference(reference: &str) -> bool {
    !reference.is_empty()
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The `Authorization` value that `reference` names, read from the
/// environment.
pub fn resolve(reference: &str, scheme: AuthScheme) -> Result<Secret, CredentialError> {
    resolve_with(reference, scheme, |name| std::env::var(name).ok())
}

/// [`resolve`] for an optional reference: no reference, no credential.
pub fn resolve_optional(
    reference: Option<&str>,
    scheme: AuthScheme,
) -> Result<Option<Secret>, CredentialError> {
    reference.map(|r| resolve(r, scheme)).transpose()
}

/// [`resolve`] with the variables read through `lookup` (the environment
/// in [`resolve`], a table in tests).
pub fn resolve_with(
    reference: &str,
    scheme: AuthScheme,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Secret, CredentialError> {
    if !valid_reference(reference) {
        return Err(CredentialError::Name {
            reference: reference.to_owned(),
        });
    }
    let mut values = Vec::new();
    for variable in scheme.variables(reference) {
        match lookup(&variable) {
            Some(value) => values.push(value),
            None => {
                return Err(CredentialError::Unset {
                    reference: reference.to_owned(),
                    variable,
                });
            }
        }
    }
    Ok(match (scheme, values.as_slice()) {
        (AuthScheme::Basic, [user, password]) => basic(user, password),
        (AuthScheme::Bearer, [token]) => Secret(format!("Bearer {token}")),
        (_, values) => Secret(values.concat()),
    })
}

/// An HTTP basic `Authorization` value.
pub fn basic(user: &str, password: &str) -> Secret {
    Secret(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn each_scheme_reads_its_documented_variables() {
        let env = table(&[
            ("TEAM_USERNAME", "alice"),
            ("TEAM_PASSWORD", "s3cret"),
            ("TEAM_TOKEN", "tok"),
        ]);
        assert_eq!(
            resolve_with("TEAM", AuthScheme::Basic, &env),
            Ok(Secret("Basic YWxpY2U6czNjcmV0".into()))
        );
        assert_eq!(
            resolve_with("TEAM", AuthScheme::Token, &env),
            Ok(Secret("tok".into()))
        );
        assert_eq!(
            resolve_with("TEAM", AuthScheme::Bearer, &env),
            Ok(Secret("Bearer tok".into()))
        );
    }

    #[test]
    fn the_first_missing_variable_is_named() {
        let only_password = table(&[("TEAM_PASSWORD", "s3cret")]);
        let error = resolve_with("TEAM", AuthScheme::Basic, &only_password).unwrap_err();
        assert_eq!(
            error.to_string(),
            "credentials = \"TEAM\" but TEAM_USERNAME is not set"
        );
        let only_user = table(&[("TEAM_USERNAME", "alice")]);
        let error = resolve_with("TEAM", AuthScheme::Basic, &only_user).unwrap_err();
        assert_eq!(
            error.to_string(),
            "credentials = \"TEAM\" but TEAM_PASSWORD is not set"
        );
        let error = resolve_with("TEAM", AuthScheme::Bearer, table(&[])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "credentials = \"TEAM\" but TEAM_TOKEN is not set"
        );
    }

    #[test]
    fn references_that_cannot_name_variables_are_refused() {
        for bad in ["", "my-registry", "A B", "$TOKEN", "team.io"] {
            let error = resolve_with(bad, AuthScheme::Token, |_| Some("x".into())).unwrap_err();
            assert!(
                matches!(error, CredentialError::Name { .. }),
                "{bad:?}: {error}"
            );
        }
        assert!(resolve_with("team_2", AuthScheme::Token, |_| Some("x".into())).is_ok());
    }

    #[test]
    fn no_reference_means_no_credential() {
        assert_eq!(resolve_optional(None, AuthScheme::Basic), Ok(None));
    }
}
