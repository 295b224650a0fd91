//! How `[pypi]` reads its upstream index through the shared index reader:
//! which statuses mean a project is missing, and how a credentials
//! reference is read.
#![allow(clippy::unwrap_used)]

use airlift_pypi::collect::{CollectError, Collected, collect, plan};
use airlift_pypi::spec::PypiSpec;

fn spec(index: &str, credentials: Option<&str>) -> PypiSpec {
    PypiSpec {
        index: index.to_owned(),
        python: vec!["3.12".into()],
        platforms: vec!["any".into()],
        packages: vec!["fx-gone".into()],
        lockfiles: Vec::new(),
        sdist: true,
        prereleases: false,
        credentials: credentials.map(str::to_owned),
    }
}

/// Collects `fx-gone` from an index that answers every page with `status`.
async fn collect_answered(status: u16) -> Result<Collected, CollectError> {
    let base = format!("{}simple/", airlift_test_support::answering(status).await);
    let collecting = airlift_test_support::Collecting::new();
    let planned = plan(&spec(&base, None), collecting.home.path()).unwrap();
    collect(&planned, &collecting.context()).await
}

#[tokio::test]
async fn only_404_means_a_project_is_not_found() {
    let error = collect_answered(404).await.unwrap_err();
    assert!(matches!(error, CollectError::NotFound { .. }), "{error}");
    let error = collect_answered(410).await.unwrap_err();
    assert!(
        error.to_string().ends_with(": answered 410 Gone"),
        "{error}"
    );
}

#[test]
fn a_credentials_reference_names_a_user_and_a_password() {
    let unset = plan(
        &spec(
            "http://127.0.0.1:9/simple/",
            Some("AIRLIFT_TEST_UNSET_REFERENCE"),
        ),
        std::path::Path::new("."),
    )
    .unwrap_err();
    assert_eq!(
        unset.to_string(),
        "[pypi]: credentials = \"AIRLIFT_TEST_UNSET_REFERENCE\" but AIRLIFT_TEST_UNSET_REFERENCE_USERNAME is not set"
    );
}
