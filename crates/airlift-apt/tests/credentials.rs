//! An `[[apt]]` table's credentials reference is read by the one resolver
//! every ecosystem uses: `NAME_TOKEN`, and a `NAME` that can start an
//! environment variable's name.
#![allow(clippy::unwrap_used)]

use airlift_apt::collect::plan;
use airlift_apt::spec::AptSpec;

fn plan_error(credentials: &str) -> String {
    let home = tempfile::tempdir().unwrap();
    let (key, _) = airlift_pgp::SigningKey::generate("test <test@example.com>", 1).unwrap();
    std::fs::write(home.path().join("keyring.asc"), key.public_key_armored()).unwrap();
    let spec = AptSpec {
        name: "internal".into(),
        url: "http://127.0.0.1:9/debian".into(),
        suites: vec!["stable".into()],
        components: vec!["main".into()],
        architectures: vec!["amd64".into()],
        keyring: "keyring.asc".into(),
        packages: vec!["hello".into()],
        essential: false,
        priorities: Vec::new(),
        recommends: false,
        whole_components: false,
        credentials: Some(credentials.into()),
    };
    plan(&[spec], home.path()).unwrap_err().to_string()
}

#[test]
fn a_credentials_reference_names_a_token_variable() {
    assert_eq!(
        plan_error("AIRLIFT_TEST_UNSET_REFERENCE"),
        "[[apt]] internal: credentials = \"AIRLIFT_TEST_UNSET_REFERENCE\" but AIRLIFT_TEST_UNSET_REFERENCE_TOKEN is not set"
    );
    let bad = plan_error("internal archive");
    assert!(
        bad.contains("must name environment variables (letters, digits and _)"),
        "{bad}"
    );
}
