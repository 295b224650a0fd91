#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::path::Path;

const ECOSYSTEMS: &[&str] = &["files", "oci", "pypi", "cargo", "npm", "apt"];

struct Site {
    meta: Arc<dyn MetaStore>,
    gate: Gate,
}

fn site(policy: &str) -> Site {
    let meta: Arc<dyn MetaStore> = Arc::new(airlift_store::SqliteMetaStore::in_memory().unwrap());
    let directory = Directory::new(meta.clone());
    directory
        .add_user(
            "alice",
            &["ops".to_owned()],
            Some("alice's long password"),
            1,
        )
        .unwrap();
    directory.add_user("ci", &[], None, 1).unwrap();
    let policy = Policy::parse(Path::new("access.toml"), policy, ECOSYSTEMS).unwrap();
    let gate = Gate::new(meta.clone(), policy, "airlift").unwrap();
    Site { meta, gate }
}

fn basic(user: &str, secret: &str) -> Credentials {
    Credentials::Basic {
        user: user.to_owned(),
        secret: secret.to_owned(),
    }
}

fn name(n: &str) -> Scope {
    Scope::Name(n.to_owned())
}

const RULES: &str = r#"
[[rule]]
ecosystems = ["oci"]
names = ["team/*"]
read = ["anonymous"]
write = ["ci", "@ops"]
delete = ["@ops"]
"#;

#[test]
fn headers_read_in_every_form_clients_send() {
    let encoded = data_encoding::BASE64.encode(b"alice:pw:with:colons");
    assert_eq!(
        Credentials::parse(Some(format!("Basic {encoded}").as_bytes())).unwrap(),
        basic("alice", "pw:with:colons")
    );
    assert_eq!(
        Credentials::parse(Some(b"Bearer airlift_abc")).unwrap(),
        Credentials::Token("airlift_abc".to_owned())
    );
    assert_eq!(
        Credentials::parse(Some(b"airlift_abc")).unwrap(),
        Credentials::Token("airlift_abc".to_owned())
    );
    assert_eq!(Credentials::parse(None).unwrap(), Credentials::None);
    for bad in [&b"Basic !!!"[..], b"Digest x", b"something", &[0xff, 0xfe]] {
        assert_eq!(
            Credentials::parse(Some(bad)),
            Err(Failure::Malformed),
            "{bad:?}"
        );
    }
    assert_eq!(
        Credentials::parse(Some(&vec![b'a'; MAX_CREDENTIAL + 1])),
        Err(Failure::Malformed)
    );
}

#[test]
fn passwords_and_tokens_authenticate_and_wrong_ones_do_not() {
    let site = site(RULES);
    let gate = &site.gate;
    let alice = gate
        .authenticate(&basic("alice", "alice's long password"), None)
        .unwrap();
    assert_eq!(alice.user.as_deref(), Some("alice"));
    assert_eq!(alice.groups, ["ops"]);
    assert_eq!(
        gate.authenticate(&basic("alice", "wrong password!!"), None)
            .unwrap_err(),
        Failure::WrongPassword
    );
    assert_eq!(
        gate.authenticate(&basic("nobody", "whatever password"), None)
            .unwrap_err(),
        Failure::UnknownUser
    );
    assert_eq!(
        gate.authenticate(&basic("ci", "ci has no password"), None)
            .unwrap_err(),
        Failure::WrongPassword
    );
    assert!(
        !gate.is_slow(&basic("alice", "alice's long password")),
        "a verified password is remembered"
    );
    assert!(gate.is_slow(&basic("alice", "another password")));

    let directory = Directory::new(site.meta.clone());
    let (_, secret) = directory.create_token("push", "ci", &[], None, 1).unwrap();
    // The gate sees the new token once it reloads.
    std::thread::sleep(RELOAD_EVERY);
    for credentials in [
        Credentials::Token(secret.clone()),
        basic("ci", &secret),
        basic("__token__", &secret),
    ] {
        let identity = gate.authenticate(&credentials, None).unwrap();
        assert_eq!(identity.user.as_deref(), Some("ci"), "{credentials:?}");
        assert_eq!(identity.token.as_deref(), Some("push"));
    }
    assert_eq!(
        gate.authenticate(&basic("alice", &secret), None)
            .unwrap_err(),
        Failure::UnknownToken,
        "a token is not another user's password"
    );
    assert_eq!(
        gate.authenticate(&Credentials::Token("airlift_nope".to_owned()), None)
            .unwrap_err(),
        Failure::UnknownToken
    );
    directory.revoke_token("push", 2).unwrap();
    std::thread::sleep(RELOAD_EVERY);
    assert_eq!(
        gate.authenticate(&Credentials::Token(secret), None)
            .unwrap_err(),
        Failure::Revoked
    );
    let (_, old) = directory
        .create_token("old", "ci", &[], Some(10), 1)
        .unwrap();
    std::thread::sleep(RELOAD_EVERY);
    assert_eq!(
        gate.authenticate(&Credentials::Token(old), None)
            .unwrap_err(),
        Failure::Expired
    );
}

#[test]
fn decisions_follow_rules_token_scopes_and_registry_grants() {
    let site = site(RULES);
    let gate = &site.gate;
    let anonymous = Identity::default();
    assert_eq!(
        gate.decide(&anonymous, "oci", &name("team/app"), Action::Read),
        Decision::Allow
    );
    assert!(matches!(
        gate.decide(&anonymous, "oci", &name("team/app"), Action::Write),
        Decision::Challenge(_)
    ));
    assert!(matches!(
        gate.decide(&anonymous, "oci", &Scope::Base, Action::Read),
        Decision::Challenge(_)
    ));
    assert_eq!(
        gate.decide(&anonymous, "oci", &Scope::Login, Action::Read),
        Decision::Allow
    );

    let directory = Directory::new(site.meta.clone());
    let read_only = TokenScope::parse("oci:team/*:read", ECOSYSTEMS).unwrap();
    let (_, secret) = directory
        .create_token("ro", "alice", &[read_only], None, 1)
        .unwrap();
    std::thread::sleep(RELOAD_EVERY);
    let ro = gate
        .authenticate(&Credentials::Token(secret), None)
        .unwrap();
    assert_eq!(
        gate.decide(&ro, "oci", &name("team/app"), Action::Read),
        Decision::Allow
    );
    let Decision::Deny(message) = gate.decide(&ro, "oci", &name("team/app"), Action::Delete) else {
        panic!("a read-only token deleted")
    };
    assert_eq!(
        message,
        "user \"alice\" (token \"ro\") may not delete team/app in oci"
    );
    let alice = gate
        .authenticate(&basic("alice", "alice's long password"), None)
        .unwrap();
    assert_eq!(
        gate.decide(&alice, "oci", &name("team/app"), Action::Delete),
        Decision::Allow
    );
    assert!(matches!(
        gate.decide(&alice, "oci", &name("other/app"), Action::Write),
        Decision::Deny(_)
    ));
    assert!(matches!(
        gate.decide(&alice, "pypi", &name("six"), Action::Read),
        Decision::Deny(_)
    ));

    // A registry token carries what it was granted, and no more.
    let grants = gate.grant_for(
        &alice,
        "oci",
        &name("team/app"),
        &[Action::Read, Action::Write],
    );
    assert_eq!(grants, [Action::Read, Action::Write]);
    let (token, lifetime) = gate.issue_for(&alice, "oci", &[(name("team/app"), grants)]);
    assert_eq!(lifetime, REGISTRY_TOKEN_LIFETIME);
    let bearer = gate
        .authenticate(&Credentials::Token(token.clone()), None)
        .unwrap();
    assert_eq!(
        gate.decide(&bearer, "oci", &name("team/app"), Action::Write),
        Decision::Allow
    );
    assert!(matches!(
        gate.decide(&bearer, "oci", &name("team/other"), Action::Read),
        Decision::Challenge(_)
    ));
    assert!(matches!(
        gate.decide(&bearer, "oci", &name("team/app"), Action::Delete),
        Decision::Challenge(_)
    ));
    assert_eq!(
        gate.decide(&bearer, "oci", &Scope::Base, Action::Read),
        Decision::Allow
    );
    // Tampered claims or a foreign signature are refused.
    let (body, signature) = token.rsplit_once('.').unwrap();
    let forged = format!("{body}x.{signature}");
    assert_eq!(
        gate.authenticate(&Credentials::Token(forged), None)
            .unwrap_err(),
        Failure::BadSignature
    );
    let other = site_with_other_key();
    assert_eq!(
        other
            .gate
            .authenticate(&Credentials::Token(token), None)
            .unwrap_err(),
        Failure::BadSignature,
        "another site's key signed it"
    );
}

fn site_with_other_key() -> Site {
    site(RULES)
}

#[test]
fn guessing_is_slowed_per_address_and_per_user() {
    let site = site(RULES);
    let gate = &site.gate;
    let address: Option<IpAddr> = Some("192.0.2.7".parse().unwrap());
    for _ in 0..MAX_FAILURES {
        assert_eq!(
            gate.authenticate(&basic("alice", "not the password"), address)
                .unwrap_err(),
            Failure::WrongPassword
        );
    }
    let Failure::Limited(seconds) = gate
        .authenticate(&basic("alice", "alice's long password"), address)
        .unwrap_err()
    else {
        panic!("not limited")
    };
    assert!(seconds > 0 && seconds <= FAILURE_WINDOW.as_secs());
    // The same user from another address is limited too (per user) ...
    let elsewhere: Option<IpAddr> = Some("192.0.2.8".parse().unwrap());
    assert!(matches!(
        gate.authenticate(&basic("alice", "alice's long password"), elsewhere),
        Err(Failure::Limited(_))
    ));
    // ... and anonymous reads are never limited.
    assert!(gate.authenticate(&Credentials::None, address).is_ok());
}
