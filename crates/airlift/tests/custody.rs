//! Hand-off statements and the isolated side's custody policy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{Connected, Home};

struct People {
    dir: tempfile::TempDir,
}

impl People {
    fn new(home: &Home, names: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            home.run(&["keys", "new", name, "--dir", dir.path().to_str().unwrap()])
                .ok();
        }
        Self { dir }
    }

    fn key(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.pk8"))
    }
}

fn hand_off(home: &Home, bundle: &Path, who: &str, key: &Path, to: &str) {
    home.run(&[
        "custody",
        "sign",
        bundle.to_str().unwrap(),
        "--as",
        who,
        "--to",
        to,
        "--key",
        key.to_str().unwrap(),
        "--note",
        &format!("sealed bag for {to}"),
    ])
    .ok();
}

fn chain(bundle: &Path) -> PathBuf {
    let mut name = bundle.as_os_str().to_owned();
    name.push(".custody.jsonl");
    PathBuf::from(name)
}

#[test]
fn the_chain_of_custody_is_checked_against_the_site_policy() {
    let connected = Connected::sample();
    let people = People::new(&connected.home, &["collector", "courier", "mallory"]);
    let bundle = connected.pack("b.tar", &[]);
    let isolated = connected.isolated();
    let policy = people.dir.path().join("custody.toml");
    std::fs::write(
        &policy,
        "required = [\"collector\", \"courier\"]\nmin-handoffs = 2\n[signers]\ncollector = \"collector.pub.json\"\ncourier = \"courier.pub.json\"\n",
    )
    .unwrap();
    isolated
        .run(&["custody", "policy", policy.to_str().unwrap()])
        .ok();
    let before = isolated.snapshot();
    let refuse = |needle: &str| {
        isolated
            .run(&["import", bundle.to_str().unwrap()])
            .fails_with(3, needle);
        assert_eq!(isolated.snapshot(), before);
    };
    refuse("custody policy requires hand-off statements");

    hand_off(
        &connected.home,
        &bundle,
        "collector",
        &people.key("collector"),
        "courier",
    );
    let first = std::fs::read_to_string(chain(&bundle)).unwrap();
    refuse("1 hand-offs; the custody policy requires at least 2");

    // Continuity: the collector cannot hand over what the courier holds.
    hand_off(
        &connected.home,
        &bundle,
        "collector",
        &people.key("collector"),
        "site",
    );
    refuse("collector hands it over, but hand-off 1 gave it to courier: custody is broken");

    // A key the policy does not know, and a known key signing as another.
    std::fs::write(chain(&bundle), &first).unwrap();
    hand_off(
        &connected.home,
        &bundle,
        "courier",
        &people.key("mallory"),
        "site",
    );
    refuse("signed by nobody the custody policy knows");
    std::fs::write(chain(&bundle), &first).unwrap();
    hand_off(
        &connected.home,
        &bundle,
        "courier",
        &people.key("collector"),
        "site",
    );
    refuse("signed by collector but claims to be from \"courier\"");

    // The good chain; then a gap and an edit.
    std::fs::write(chain(&bundle), &first).unwrap();
    hand_off(
        &connected.home,
        &bundle,
        "courier",
        &people.key("courier"),
        "site",
    );
    let good = std::fs::read_to_string(chain(&bundle)).unwrap();
    let second = good.lines().nth(1).unwrap().to_owned();
    std::fs::write(chain(&bundle), format!("{second}\n")).unwrap();
    refuse("does not follow the start of the chain");
    let mut envelope: serde_json::Value = serde_json::from_str(&second).unwrap();
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let payload = String::from_utf8(
        engine
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    envelope["payload"] =
        serde_json::json!(engine.encode(payload.replace("sealed bag", "opened bag")));
    std::fs::write(chain(&bundle), format!("{}{envelope}\n", first)).unwrap();
    refuse("BAD signature by courier");

    // A chain made for another bundle.
    let other = connected.pack("other.tar", &["--bundle-version", "7"]);
    hand_off(
        &connected.home,
        &other,
        "collector",
        &people.key("collector"),
        "courier",
    );
    std::fs::copy(chain(&other), chain(&bundle)).unwrap();
    refuse("it is about another bundle");

    std::fs::write(chain(&bundle), &good).unwrap();
    let run = isolated.run(&["import", bundle.to_str().unwrap()]).ok();
    assert!(
        run.stdout.contains("hand-off 1: collector to courier")
            && run.stdout.contains("hand-off 2: courier to site at ")
            && run.stdout.contains("(sealed bag for site)"),
        "{}",
        run.stdout
    );
    let log = isolated.run(&["--json", "audit", "export"]).ok().stdout;
    assert!(
        log.contains("custody-policy") && log.contains("sealed bag for site"),
        "{log}"
    );
    let sent = connected
        .home
        .run(&["--json", "audit", "export"])
        .ok()
        .stdout;
    assert!(sent.contains("custody-sign"), "{sent}");
}

/// A site without a custody policy used to ignore a chain beside the
/// bundle and record no hand-offs. A chain that is present is now checked
/// (all but who signed it), shown by plan and import, recorded in the audit
/// log, and refused when broken.
#[test]
fn a_chain_is_checked_even_without_a_policy() {
    let connected = Connected::sample();
    let people = People::new(&connected.home, &["collector", "courier"]);
    let bundle = connected.pack("b.tar", &[]);
    let isolated = connected.isolated();
    let before = isolated.snapshot();
    hand_off(
        &connected.home,
        &bundle,
        "collector",
        &people.key("collector"),
        "courier",
    );
    hand_off(
        &connected.home,
        &bundle,
        "courier",
        &people.key("courier"),
        "site",
    );
    let good = std::fs::read_to_string(chain(&bundle)).unwrap();
    // Statements reordered: the links between them break.
    let mut lines: Vec<&str> = good.lines().collect();
    lines.reverse();
    std::fs::write(chain(&bundle), lines.join("\n") + "\n").unwrap();
    isolated
        .run(&["import", bundle.to_str().unwrap()])
        .fails_with(3, "does not follow the start of the chain");
    assert_eq!(isolated.snapshot(), before);
    // The good chain: shown by plan, imported, and audited.
    std::fs::write(chain(&bundle), &good).unwrap();
    let plan = isolated.run(&["plan", bundle.to_str().unwrap()]).ok();
    assert!(
        plan.stdout.contains("hand-off 2: courier to site")
            && plan.stdout.contains("signer not verified"),
        "{}",
        plan.stdout
    );
    let run = isolated
        .run(&["--json", "import", bundle.to_str().unwrap()])
        .ok();
    let outcome = run.json();
    assert_eq!(outcome["handoffs"].as_array().unwrap().len(), 2);
    assert_eq!(outcome["handoffs_verified"], false);
    let log = std::fs::read_to_string(isolated.path().join("audit/log.jsonl")).unwrap();
    assert!(log.contains("\"to\":\"site\""), "{log}");
}
