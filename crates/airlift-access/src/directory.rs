//! Users and API tokens, kept as access records in the site's index.
//!
//! A password is stored as an argon2id hash (PHC string, RFC 9106
//! parameters of the `argon2` crate's default: 19 MiB, 2 passes), so that a
//! stolen index does not give passwords away cheaply. A token is 32 random
//! bytes shown once, at creation; only its SHA-256 is stored: tokens are
//! random, not chosen by people, so a fast hash is enough and a check costs
//! one hash and one map lookup. Removing a user revokes its tokens.

use std::sync::Arc;

use airlift_store::{MetaStore, StoreError};
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};

use crate::policy::TokenScope;
use crate::{AccessError, valid_name};

/// The record kind of users.
pub const USER: &str = "user";
/// The record kind of tokens.
pub const TOKEN: &str = "token";
/// The record kind of client certificates (by SHA-256 fingerprint).
pub const CLIENT_CERT: &str = "client-cert";
/// The record kind of server secrets (the registry token key).
pub const SECRET: &str = "secret";
/// What every token starts with, so that a leaked one is recognizable
/// (and scanners can look for it).
pub const TOKEN_PREFIX: &str = "airlift_";
/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// A principal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Its name.
    pub name: String,
    /// Its groups (`@name` in rules).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Its password's argon2id hash (PHC string); none when it logs in
    /// only with tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// When it was added (Unix seconds).
    pub created_at: i64,
}

/// An API token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// Its name.
    pub name: String,
    /// The user it acts as.
    pub user: String,
    /// The SHA-256 of the secret, lowercase hex.
    pub hash: String,
    /// What it is limited to (`ECOSYSTEM:NAMES:ACTIONS`); none means
    /// everything its user may do.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// When it stops working (Unix seconds).
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// When it was revoked (Unix seconds).
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

/// A client certificate the site CA issued for a user (mutual TLS).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCert {
    /// The certificate's SHA-256 fingerprint, lowercase hex.
    pub fingerprint: String,
    /// The user it logs in as.
    pub user: String,
    /// When it was issued (Unix seconds).
    pub created_at: i64,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
}

impl Token {
    /// Its state at `now`: `active`, `expired` or `revoked`.
    pub fn state(&self, now: i64) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        }
    }

    /// Its scopes, parsed (a damaged one is left out, which only narrows).
    pub fn parsed_scopes(&self) -> Vec<TokenScope> {
        self.scopes
            .iter()
            .filter_map(|s| {
                // Its ecosystem was checked when the token was made.
                let known = [s.split(':').next().unwrap_or_default()];
                TokenScope::parse(s, &known).ok()
            })
            .collect()
    }
}

/// The SHA-256 of a token's secret, lowercase hex.
pub fn token_hash(secret: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        secret.as_bytes(),
    ))
}

/// Random bytes from the system's generator.
pub fn random<const N: usize>() -> Result<[u8; N], AccessError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| AccessError::Crypto("no randomness".into()))?;
    Ok(bytes)
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, AccessError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(AccessError::ShortPassword(MIN_PASSWORD));
    }
    let salt = random::<16>()?;
    PasswordHasher::<PasswordHash>::hash_password_with_salt(
        &argon2::Argon2::default(),
        password.as_bytes(),
        &salt,
    )
    .map(|hash| hash.to_string())
    .map_err(|e| AccessError::Crypto(format!("hashing a password: {e}")))
}

/// Whether `password` matches the stored hash (a damaged hash never does).
pub fn verify_password(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// The users and tokens of one site.
#[derive(Clone)]
pub struct Directory {
    meta: Arc<dyn MetaStore>,
}

fn decode<T: serde::de::DeserializeOwned>(
    kind: &'static str,
    name: &str,
    value: &str,
) -> Result<T, AccessError> {
    serde_json::from_str(value).map_err(|e| AccessError::Damaged {
        kind,
        name: name.to_owned(),
        message: e.to_string(),
    })
}

fn encode<T: Serialize>(value: &T) -> Result<String, AccessError> {
    serde_json::to_string(value).map_err(|e| AccessError::Crypto(e.to_string()))
}

impl Directory {
    /// The directory in `meta`.
    pub fn new(meta: Arc<dyn MetaStore>) -> Self {
        Self { meta }
    }

    /// The version of the records (changes with every change).
    pub fn version(&self) -> Result<u64, AccessError> {
        Ok(self.meta.records_version()?)
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, AccessError> {
        self.meta
            .records(USER)?
            .into_iter()
            .map(|(name, value)| decode(USER, &name, &value))
            .collect()
    }

    /// Every token, by name.
    pub fn tokens(&self) -> Result<Vec<Token>, AccessError> {
        self.meta
            .records(TOKEN)?
            .into_iter()
            .map(|(name, value)| decode(TOKEN, &name, &value))
            .collect()
    }

    fn user(&self, name: &str) -> Result<User, AccessError> {
        self.users()?
            .into_iter()
            .find(|u| u.name == name)
            .ok_or_else(|| AccessError::UnknownUser(name.to_owned()))
    }

    /// Adds a user, with a password or none (tokens only).
    pub fn add_user(
        &self,
        name: &str,
        groups: &[String],
        password: Option<&str>,
        now: i64,
    ) -> Result<User, AccessError> {
        if !valid_name(name) {
            return Err(AccessError::InvalidName(name.to_owned()));
        }
        if let Some(bad) = groups.iter().find(|g| !valid_name(g)) {
            return Err(AccessError::InvalidName(bad.clone()));
        }
        let user = User {
            name: name.to_owned(),
            groups: groups.to_vec(),
            password: password.map(hash_password).transpose()?,
            created_at: now,
        };
        self.meta
            .put_record(USER, name, Some(&encode(&user)?), true)?;
        Ok(user)
    }

    /// Sets (or, with `None`, removes) a user's password.
    pub fn set_password(&self, name: &str, password: Option<&str>) -> Result<User, AccessError> {
        let mut user = self.user(name)?;
        user.password = password.map(hash_password).transpose()?;
        self.meta
            .put_record(USER, name, Some(&encode(&user)?), false)?;
        Ok(user)
    }

    /// Removes a user and revokes its active tokens; returns them.
    pub fn remove_user(&self, name: &str, now: i64) -> Result<Vec<Token>, AccessError> {
        self.user(name)?;
        let mut revoked = Vec::new();
        for token in self.tokens()? {
            if token.user == name && token.revoked_at.is_none() {
                revoked.push(self.revoke_token(&token.name, now)?);
            }
        }
        self.meta.put_record(USER, name, None, false)?;
        Ok(revoked)
    }

    /// Makes a token for `user`; returns it and its secret, which is
    /// shown once and stored nowhere.
    pub fn create_token(
        &self,
        name: &str,
        user: &str,
        scopes: &[TokenScope],
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<(Token, String), AccessError> {
        if !valid_name(name) {
            return Err(AccessError::InvalidName(name.to_owned()));
        }
        self.user(user)?;
        let secret = format!(
            "{TOKEN_PREFIX}{}",
            data_encoding::BASE32_NOPAD
                .encode(&random::<32>()?)
                .to_ascii_lowercase()
        );
        let token = Token {
            name: name.to_owned(),
            user: user.to_owned(),
            hash: token_hash(&secret),
            scopes: scopes.iter().map(ToString::to_string).collect(),
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        self.meta
            .put_record(TOKEN, name, Some(&encode(&token)?), true)?;
        Ok((token, secret))
    }

    /// Revokes a token (it stays listed, as revoked).
    pub fn revoke_token(&self, name: &str, now: i64) -> Result<Token, AccessError> {
        let mut token = self
            .tokens()?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| AccessError::UnknownToken(name.to_owned()))?;
        if token.revoked_at.is_none() {
            token.revoked_at = Some(now);
            self.meta
                .put_record(TOKEN, name, Some(&encode(&token)?), false)?;
        }
        Ok(token)
    }

    /// Every client certificate, by fingerprint.
    pub fn client_certs(&self) -> Result<Vec<ClientCert>, AccessError> {
        self.meta
            .records(CLIENT_CERT)?
            .into_iter()
            .map(|(name, value)| decode(CLIENT_CERT, &name, &value))
            .collect()
    }

    /// Records a client certificate issued for `user`.
    pub fn add_client_cert(&self, cert: &ClientCert) -> Result<(), AccessError> {
        self.user(&cert.user)?;
        self.meta
            .put_record(CLIENT_CERT, &cert.fingerprint, Some(&encode(cert)?), true)?;
        Ok(())
    }

    /// Forgets a client certificate: the server refuses it from then on.
    pub fn revoke_client_cert(&self, fingerprint: &str) -> Result<ClientCert, AccessError> {
        let cert = self
            .client_certs()?
            .into_iter()
            .find(|c| c.fingerprint == fingerprint)
            .ok_or_else(|| AccessError::UnknownCertificate(fingerprint.to_owned()))?;
        self.meta
            .put_record(CLIENT_CERT, fingerprint, None, false)?;
        Ok(cert)
    }

    /// The key that signs registry tokens, made on first use.
    pub fn registry_key(&self) -> Result<[u8; 32], AccessError> {
        const NAME: &str = "registry-token";
        let stored = || -> Result<Option<[u8; 32]>, AccessError> {
            let records = self.meta.records(SECRET)?;
            let Some((_, value)) = records.into_iter().find(|(n, _)| n == NAME) else {
                return Ok(None);
            };
            let bytes = hex::decode(value.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok());
            bytes.map(Some).ok_or_else(|| AccessError::Damaged {
                kind: SECRET,
                name: NAME.to_owned(),
                message: "not 32 bytes of hex".to_owned(),
            })
        };
        if let Some(key) = stored()? {
            return Ok(key);
        }
        let key = random::<32>()?;
        match self
            .meta
            .put_record(SECRET, NAME, Some(&hex::encode(key)), true)
        {
            Ok(_) => Ok(key),
            // Another server made it at the same moment: use theirs.
            Err(StoreError::RecordExists { .. }) => stored()?.ok_or_else(|| AccessError::Damaged {
                kind: SECRET,
                name: NAME.to_owned(),
                message: "vanished".to_owned(),
            }),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn directory() -> Directory {
        Directory::new(Arc::new(
            airlift_store::SqliteMetaStore::in_memory().unwrap(),
        ))
    }

    #[test]
    fn passwords_are_stored_as_argon2id_and_verified() {
        let d = directory();
        let user = d
            .add_user("alice", &[], Some("correct horse battery"), 1)
            .unwrap();
        let stored = user.password.expect("a hash");
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct horse"));
        assert!(verify_password(&stored, "correct horse battery"));
        assert!(!verify_password(&stored, "correct horse battery!"));
        assert!(!verify_password("garbage", "x"));
        assert!(matches!(
            d.add_user("bob", &[], Some("short"), 1),
            Err(AccessError::ShortPassword(_))
        ));
        assert!(matches!(
            d.add_user("alice", &[], None, 1),
            Err(AccessError::Store(StoreError::RecordExists { .. }))
        ));
        assert!(matches!(
            d.add_user("../x", &[], None, 1),
            Err(AccessError::InvalidName(_))
        ));
    }

    #[test]
    fn tokens_are_shown_once_stored_hashed_and_revoked_with_their_user() {
        let d = directory();
        d.add_user("ci", &["build".to_owned()], None, 1).unwrap();
        let scope = TokenScope::parse("oci:team/*:read,write", &["oci"]).unwrap();
        let (token, secret) = d
            .create_token("push", "ci", &[scope], Some(100), 1)
            .unwrap();
        assert!(secret.starts_with(TOKEN_PREFIX));
        assert_eq!(token.hash, token_hash(&secret));
        let stored = serde_json::to_string(&d.tokens().unwrap()).unwrap();
        assert!(!stored.contains(&secret), "the secret is stored");
        assert_eq!(token.state(50), "active");
        assert_eq!(token.state(100), "expired");
        assert_eq!(token.parsed_scopes().len(), 1);
        assert!(matches!(
            d.create_token("x", "nobody", &[], None, 1),
            Err(AccessError::UnknownUser(_))
        ));
        let revoked = d.remove_user("ci", 5).unwrap();
        assert_eq!(revoked.len(), 1);
        assert_eq!(d.tokens().unwrap()[0].state(6), "revoked");
        assert!(d.users().unwrap().is_empty());
    }

    #[test]
    fn the_registry_key_is_made_once() {
        let d = directory();
        assert_eq!(d.registry_key().unwrap(), d.registry_key().unwrap());
    }
}
