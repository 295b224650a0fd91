//! Snapshots of the human output of the main commands, one carry across
//! the gap: collect plain files from a loopback upstream, `keys init`,
//! `pack`, then on the isolated side `init`, `verify`, `plan`, `import`,
//! `status`, `images` with none, `client-config` for every tool, and the
//! first lines of `template`. The text is what operators and their scripts
//! read, so a change to it shows up as a snapshot diff in review instead of
//! slipping through. Commands run in-process (`airlift::run` with a buffer).
//!
//! What varies between runs and machines is redacted by insta filters: the
//! temporary directory, key ids, bundle digests (a bundle's metadata holds
//! the time it was packed), bundle versions, timestamps and free disk space.
//! A snapshot that differs fails the test (and `INSTA_UPDATE=no` or CI keeps
//! insta from writing a `.snap.new` beside it); review a deliberate change
//! with `cargo insta review`, or delete the `.snap` file and run the test
//! again with `INSTA_UPDATE=always`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{Behaviour, Upstream};

/// Runs one command in-process; its output, or `error:` and `hint:` lines
/// as the binary prints them on stderr.
fn airlift(home: &Path, args: &[&str]) -> String {
    let (mut text, result) = common::in_process(home, args, airlift::ecosystems::all());
    if let Err(failure) = result {
        text.push_str(&format!("error: {}\n", failure.message));
        for hint in &failure.hints {
            text.push_str(&format!("hint: {hint}\n"));
        }
        text.push_str(&format!("(exit code {})\n", failure.code as u8));
    }
    text
}

/// Escapes `text` for use as a literal in a regular expression.
fn literal(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Settings whose filters redact what varies: `work` (and its canonical
/// form) becomes `[WORK]`.
fn settings(work: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_omit_expression(true);
    let canonical = work.canonicalize().unwrap();
    settings.add_filter(&literal(canonical.to_str().unwrap()), "[WORK]");
    settings.add_filter(&literal(work.to_str().unwrap()), "[WORK]");
    settings.add_filter(r"created key [0-9a-f]{64}", "created key [KEY ID]");
    settings.add_filter(r"bundle sha256:[0-9a-f]{64}", "bundle sha256:[BUNDLE]");
    settings.add_filter(r"import sha256:[0-9a-f]{64}", "import sha256:[BUNDLE]");
    settings.add_filter(r"version [0-9]{9,}", "version [VERSION]");
    settings.add_filter(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z",
        "[TIME]",
    );
    settings.add_filter(
        r"disk: [0-9]+ bytes free of [0-9]+",
        "disk: [FREE] bytes free of [SIZE]",
    );
    settings
}

#[test]
fn the_human_output_of_a_carry_across_the_gap() {
    let a = b"hello from upstream\n".to_vec();
    let b = b"a second file\n".to_vec();
    let upstream = Upstream::start(HashMap::from([
        ("up/a.txt".to_owned(), Behaviour::Serve(a.clone())),
        ("up/b.txt".to_owned(), Behaviour::Serve(b)),
    ]));
    let work = tempfile::tempdir().unwrap();
    let connected = work.path().join("connected");
    let isolated = work.path().join("isolated");
    let config = work.path().join("airlift.toml");
    std::fs::write(
        &config,
        format!(
            "[[files]]\nurl = \"{}\"\npath = \"docs/a.txt\"\nsha256 = \"{}\"\n\n\
             [[files]]\nurl = \"{}\"\npath = \"b.txt\"\n",
            upstream.url("up/a.txt"),
            common::sha256_hex(&a),
            upstream.url("up/b.txt"),
        ),
    )
    .unwrap();
    let bundle = work.path().join("bundle.tar");
    let bundle = bundle.to_str().unwrap();
    let root = connected.join("keys/roots/1.root.json");

    settings(work.path()).bind(|| {
        let collect = airlift(
            &connected,
            &["collect", "--config", config.to_str().unwrap()],
        );
        insta::assert_snapshot!("collect", collect);
        insta::assert_snapshot!("keys_init", airlift(&connected, &["keys", "init"]));
        insta::assert_snapshot!("pack", airlift(&connected, &["pack", "--out", bundle]));
        insta::assert_snapshot!(
            "init",
            airlift(&isolated, &["init", "--trust", root.to_str().unwrap()])
        );
        insta::assert_snapshot!("verify", airlift(&isolated, &["verify", bundle]));
        insta::assert_snapshot!("plan", airlift(&isolated, &["plan", bundle]));
        insta::assert_snapshot!("import", airlift(&isolated, &["import", bundle]));
        insta::assert_snapshot!("status_connected", airlift(&connected, &["status"]));
        insta::assert_snapshot!("status_isolated", airlift(&isolated, &["status"]));
        insta::assert_snapshot!("images_none", airlift(&isolated, &["images"]));
        for tool in ["pip", "uv", "cargo", "npm", "apt"] {
            insta::assert_snapshot!(
                format!("client_config_{tool}"),
                airlift(&isolated, &["client-config", tool])
            );
        }
        // With credentials, in the form each client reads them (apt's
        // needs an archive, which this carry has none of).
        let token = work.path().join("token");
        std::fs::write(&token, "airlift_exampletoken\n").unwrap();
        for tool in ["pip", "uv", "cargo", "npm"] {
            insta::assert_snapshot!(
                format!("client_config_{tool}_login"),
                airlift(
                    &isolated,
                    &[
                        "client-config",
                        tool,
                        "--user",
                        "reader",
                        "--token-file",
                        token.to_str().unwrap()
                    ]
                )
            );
        }
    });
}

#[test]
fn the_first_lines_of_the_template() {
    let work = tempfile::tempdir().unwrap();
    let template = airlift(work.path(), &["template"]);
    let first: Vec<&str> = template.lines().take(20).collect();
    settings(work.path()).bind(|| {
        insta::assert_snapshot!("template_first_lines", first.join("\n"));
    });
}
