//! Resolution and verification against a mock upstream on loopback
//! (airlift-test-support's `pypi::Index`): every project page is PEP 691
//! JSON with PEP 658 metadata files, so the files themselves can be
//! arbitrary bytes.
#![allow(clippy::unwrap_used)]

use airlift_pypi::collect::{CollectError, Collected, collect, plan};
use airlift_pypi::spec::PypiSpec;
use airlift_test_support::pypi::{Index, release};

fn spec(index: &str, packages: &[&str]) -> PypiSpec {
    PypiSpec {
        index: index.to_owned(),
        python: vec!["3.11".into(), "3.12".into()],
        platforms: vec!["manylinux_2_28_x86_64".into(), "any".into()],
        packages: packages.iter().map(|p| (*p).to_owned()).collect(),
        lockfiles: Vec::new(),
        sdist: true,
        prereleases: false,
        credentials: None,
    }
}

async fn run(
    up: Index,
    spec_fn: impl FnOnce(&str) -> PypiSpec,
) -> (Result<Collected, CollectError>, tempfile::TempDir) {
    let index = up.serve().await;
    let collecting = airlift_test_support::Collecting::new();
    let planned = plan(&spec_fn(&index), collecting.home.path()).unwrap();
    let result = collect(&planned, &collecting.context()).await;
    (result, collecting.home)
}

fn carried(collected: &Collected) -> Vec<String> {
    collected
        .entries
        .iter()
        .filter_map(|e| e.key.strip_prefix("f:"))
        .map(|k| {
            k.split_once('/')
                .unwrap()
                .1
                .trim_end_matches("-py3-none-any.whl")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn closure_per_target_with_markers_extras_and_narrowing() {
    let up = Index::build(&[
        release("app", "1.0", &["lib>=1"]),
        release(
            "app",
            "2.0",
            &[
                "lib>=1",
                "old-helper; python_version < '3.12'",
                "win-helper; sys_platform == 'win32'",
                "fast-lib; extra == 'fast'",
                "pinner",
            ],
        ),
        release("lib", "1.0", &[]),
        release("lib", "1.5", &[]),
        release("lib", "2.0", &["only-in-lib-2"]),
        release("only-in-lib-2", "1.0", &[]),
        // pinner narrows lib below 2 in a later wave: lib 2.0's dependency is withdrawn.
        release("pinner", "1.0", &["lib<2"]),
        release("old-helper", "1.0", &[]),
        release("fast-lib", "3.0", &[]),
        release("fast-lib", "4.0b1", &[]),
    ]);
    let (result, _home) = run(up, |index| spec(index, &["app[fast]"])).await;
    let collected = result.unwrap();
    let got = carried(&collected);
    assert_eq!(
        got,
        [
            "app-2.0",
            "fast_lib-3.0",
            "lib-1.5",
            "old_helper-1.0",
            "pinner-1.0"
        ],
        "carried {got:?}"
    );
    // Every wheel has its metadata file indexed.
    let metadata = collected
        .entries
        .iter()
        .filter(|e| e.key.starts_with("m:"))
        .count();
    assert_eq!(metadata, got.len());
}

#[tokio::test]
async fn prereleases_only_when_asked_and_yanked_only_when_pinned() {
    let mut yanked = release("lib", "2.0", &[]);
    yanked.yanked = true;
    let up = Index::build(&[
        release("lib", "1.0", &[]),
        yanked,
        release("pre", "1.0", &[]),
        release("pre", "2.0rc1", &[]),
    ]);
    let (result, _home) = run(up.clone(), |index| spec(index, &["lib", "pre>=2.0rc1"])).await;
    assert_eq!(carried(&result.unwrap()), ["lib-1.0", "pre-2.0rc1"]);
    let (result, _home) = run(up.clone(), |index| spec(index, &["lib==2.0"])).await;
    let collected = result.unwrap();
    assert_eq!(carried(&collected), ["lib-2.0"]);
    assert_eq!(collected.entries[0].meta["yanked"], "");
    let (result, _home) = run(up, |index| spec(index, &["lib>=2"])).await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("lib: every release that satisfies lib>=2 is yanked (2.0)"),
        "{error}"
    );
}

#[tokio::test]
async fn conflicts_and_missing_projects_name_the_chain() {
    let up = Index::build(&[
        release("app", "1.0", &["mid"]),
        release("mid", "1.0", &["leaf>=9"]),
        release("leaf", "1.0", &[]),
    ]);
    let (result, _home) = run(up.clone(), |index| spec(index, &["app"])).await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.starts_with("leaf: no release satisfies leaf>=9"),
        "{error}"
    );
    assert!(
        error.contains(
            "required by mid 1.0 ← mid required by app 1.0 ← app in airlift.toml packages"
        ),
        "{error}"
    );
    let up = Index::build(&[release("app", "1.0", &["ghost"])]);
    let (result, _home) = run(up, |index| spec(index, &["app"])).await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.starts_with("ghost: not found at the upstream index"),
        "{error}"
    );
}

#[tokio::test]
async fn platform_wheels_follow_the_targets() {
    let mut linux311 = release("native", "1.0", &[]);
    linux311.wheel_tag = "cp311-cp311-manylinux_2_17_x86_64";
    let mut linux313 = release("native", "1.0", &[]);
    linux313.wheel_tag = "cp313-cp313-manylinux_2_17_x86_64";
    let mut windows = release("native", "1.0", &[]);
    windows.wheel_tag = "cp311-cp311-win_amd64";
    let up = Index::build(&[linux311, linux313, windows]);
    let (result, _home) = run(up.clone(), |index| {
        let mut s = spec(index, &["native"]);
        s.python = vec!["3.11".into()];
        s
    })
    .await;
    assert_eq!(
        carried(&result.unwrap()),
        ["native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"]
    );
    // Python 3.12 has no wheel and there is no sdist: the error names the target.
    let (result, _home) = run(up, |index| spec(index, &["native"])).await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("native 1.0: no file fits python 3.12 on linux/x86_64"),
        "{error}"
    );
}

#[tokio::test]
async fn lockfile_hashes_are_checked_against_the_upstream() {
    let up = Index::build(&[release("lib", "1.0", &[])]);
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("pylock.toml");
    std::fs::write(
        &lock,
        format!(
            "lock-version = \"1.0\"\n[[packages]]\nname = \"lib\"\nversion = \"1.0\"\n[[packages.wheels]]\nname = \"lib-1.0-py3-none-any.whl\"\nhashes = {{ sha256 = \"{}\" }}\n",
            "ab".repeat(32)
        ),
    )
    .unwrap();
    let path = lock.to_string_lossy().into_owned();
    let (result, _home) = run(up, |index| {
        let mut s = spec(index, &[]);
        s.lockfiles = vec![path];
        s
    })
    .await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.starts_with("lib: lib-1.0-py3-none-any.whl: hash mismatch"),
        "{error}"
    );
}

#[tokio::test]
async fn newer_upstream_releases_are_recorded_without_yanked_ones() {
    let mut yanked = release("lib", "3.0", &[]);
    yanked.yanked = true;
    let up = Index::build(&[
        release("app", "1.0", &["lib<2"]),
        release("lib", "1.0", &[]),
        release("lib", "1.5", &[]),
        release("lib", "2.0", &[]),
        release("lib", "2.1b1", &[]),
        yanked,
        release("lib", "0.9", &[]),
    ]);
    let (result, _home) = run(up, |index| spec(index, &["app"])).await;
    let collected = result.unwrap();
    assert_eq!(carried(&collected), ["app-1.0", "lib-1.5"]);
    let upstream: Vec<(&str, Vec<&str>)> = collected
        .upstream
        .iter()
        .map(|u| {
            (
                u.name.as_str(),
                u.versions.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        upstream,
        [("app", vec![]), ("lib", vec!["2.0", "2.1b1"])],
        "newer than the carried 1.5, pre-releases kept, the yanked 3.0 left out"
    );
}

/// What collect records of each file's core metadata gives the SBOM its
/// dependency edges: `Requires-Dist` names, markers not evaluated.
#[tokio::test]
async fn collected_files_record_their_required_projects() {
    use airlift_ecosystem::Ecosystem as _;
    let up = Index::build(&[
        release(
            "app",
            "1.0",
            &["lib>=1", "win-helper; sys_platform == 'win32'"],
        ),
        release("lib", "1.0", &[]),
    ]);
    let (result, _home) = run(up, |index| spec(index, &["app"])).await;
    let collected = result.unwrap();
    let position = |prefix: &str| {
        collected
            .entries
            .iter()
            .position(|e| e.key.starts_with(prefix))
            .unwrap()
    };
    let (app, lib) = (position("f:app/"), position("f:lib/"));
    assert_eq!(
        collected.entries[app].meta["requires"],
        serde_json::json!(["lib", "win-helper"])
    );
    assert_eq!(
        airlift_pypi::ecosystem::Pypi.dependencies(&collected.entries),
        [(app, lib)]
    );
}
