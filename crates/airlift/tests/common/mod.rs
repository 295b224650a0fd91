//! Test support: run the binary against temporary homes, the loopback HTTP
//! upstream with scripted misbehaviour (from airlift-test-support), and a
//! minimal HTTP client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub mod scenario;

// The fake upstreams live in airlift-test-support, shared with the other
// crates' tests.
pub use airlift_test_support::upstream::{Behaviour, Upstream};
pub use airlift_test_support::{noise, sha256_hex};

/// A fixed clock for reproducible packs: the start of the current hour, so
/// bundles made with it are valid (30 days by default) whenever tests run.
pub fn epoch() -> &'static str {
    static EPOCH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    EPOCH.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        (now - now % 3600).to_string()
    })
}

/// The clock `seconds` after [`epoch`].
pub fn epoch_plus(seconds: u64) -> String {
    (epoch().parse::<u64>().unwrap() + seconds).to_string()
}

/// Result of one CLI run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "command failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn fails_with(self, code: i32, needle: &str) -> Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_airlift")
}

/// An airlift home in a temporary directory.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        command
            .arg("--home")
            .arg(self.path())
            .args(args)
            .env_remove("AIRLIFT_FAILPOINT")
            .env("SOURCE_DATE_EPOCH", epoch())
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().unwrap())
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(args);
        for (key, value) in env {
            command.env(key, value);
        }
        Run::from(command.output().unwrap())
    }

    pub fn root(&self) -> PathBuf {
        self.path().join("keys/roots/1.root.json")
    }

    /// The state an import must not change when it fails: generation and fsck.
    pub fn snapshot(&self) -> String {
        let fsck = self.run(&["--json", "fsck"]).ok();
        let report = fsck.json();
        assert_eq!(
            report["corrupt_blobs"],
            serde_json::json!([]),
            "fsck found corrupt blobs"
        );
        assert_eq!(
            report["broken_entries"],
            serde_json::json!([]),
            "fsck found broken entries"
        );
        format!(
            "{}|blobs={}",
            index_state(self.path()),
            report["blobs_checked"]
        )
    }
}

/// Generations, the current one and the last imported bundle, read with the store library.
fn index_state(home: &Path) -> String {
    let store = airlift_store::Store::open_embedded(home).unwrap();
    let generations = store.meta.generations().unwrap();
    let current = store.meta.current().unwrap().map(|g| g.id);
    let last = store
        .meta
        .state(airlift_store::state_keys::LAST_BUNDLE_ID)
        .unwrap();
    format!(
        "generations={} current={current:?} last={last:?}",
        generations.len()
    )
}

/// A running `airlift serve`, stopped on drop.
pub struct Server {
    pub child: std::process::Child,
    pub address: SocketAddr,
    /// An `Authorization` header value of a user who may write (pushes
    /// need one: anonymous callers only read).
    pub auth: String,
}

/// Makes user `writer` (once) and a new token for it in `home`; returns
/// the `Authorization` header value that carries it.
pub fn writer_auth(home: &Home) -> String {
    let users = home.run(&["--json", "user", "list"]).ok().json();
    if !users
        .as_array()
        .is_some_and(|u| u.iter().any(|u| u["name"] == "writer"))
    {
        home.run(&["user", "add", "writer"]).ok();
    }
    let name = format!(
        "writer-{}",
        TOKENS.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let made = home
        .run(&["--json", "token", "create", &name, "--user", "writer"])
        .ok()
        .json();
    format!("Bearer {}", made["secret"].as_str().unwrap())
}

static TOKENS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The writer's `Authorization` of each server started here, by address:
/// [`request`] sends it when a request names none, so that tests about
/// pushes, uploads and limits push as a user (anonymous callers only
/// read). Tests about access itself pass their own header.
static WRITERS: std::sync::LazyLock<std::sync::Mutex<HashMap<SocketAddr, String>>> =
    std::sync::LazyLock::new(Default::default);

/// The writer's `Authorization` for the server at `address`, if any.
pub fn writer_header(address: SocketAddr) -> Option<String> {
    WRITERS.lock().unwrap().get(&address).cloned()
}

impl Server {
    /// Lets [`request`] push to this server with `auth` (from
    /// [`writer_auth`], made before the server started: a running server
    /// sees new tokens only within a second).
    pub fn writable(mut self, auth: String) -> Self {
        WRITERS.lock().unwrap().insert(self.address, auth.clone());
        self.auth = auth;
        self
    }
}

impl Server {
    /// `airlift serve` on a free loopback port.
    pub fn start(home: &Home) -> Self {
        Self::start_with(home, &[])
    }

    /// `airlift serve` on a free loopback port, with more arguments.
    pub fn start_with(home: &Home, extra: &[&str]) -> Self {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let auth = writer_auth(home);
        Self::spawn(home.command(&args)).writable(auth)
    }

    /// Runs `command` (an `airlift … serve` command line) and waits until it
    /// says where it listens (http or https).
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(rest) = line
                .strip_prefix("airlift serving on http://")
                .or_else(|| line.strip_prefix("airlift serving on https://"))
            {
                break rest.trim().parse().unwrap();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            address,
            auth: String::new(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET (or HEAD); returns status, lower-cased headers and body.
pub fn http(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, HashMap<String, String>, Vec<u8>) {
    request(address, method, path, headers, b"")
}

/// A minimal HTTP/1.1 request with a body; returns status, lower-cased headers and body.
pub fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, HashMap<String, String>, Vec<u8>) {
    let mut stream = TcpStream::connect(address).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        && let Some(auth) = writer_header(address)
    {
        head.push_str(&format!("Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = text.lines();
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

/// Writes an airlift.toml with `[[files]]` entries (url, sha256, path).
pub fn write_config(dir: &Path, files: &[(String, Option<String>, &str)]) -> PathBuf {
    let mut text = String::from("[collect]\nattempts = 3\n\n");
    for (url, sha, path) in files {
        text.push_str(&format!("[[files]]\nurl = \"{url}\"\npath = \"{path}\"\n"));
        if let Some(sha) = sha {
            text.push_str(&format!("sha256 = \"{sha}\"\n"));
        }
        text.push('\n');
    }
    let path = dir.join("airlift.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A connected side with collected files and keys; returns (upstream, home, files).
pub struct Connected {
    pub upstream: Upstream,
    pub home: Home,
    pub files: Vec<(String, Vec<u8>)>,
    pub work: tempfile::TempDir,
}

impl Connected {
    pub fn new(files: Vec<(String, Vec<u8>)>) -> Self {
        let routes = files
            .iter()
            .map(|(path, data)| (format!("up/{path}"), Behaviour::Serve(data.clone())))
            .collect();
        let upstream = Upstream::start(routes);
        let home = Home::new();
        let work = tempfile::tempdir().unwrap();
        let config: Vec<(String, Option<String>, &str)> = files
            .iter()
            .map(|(path, data)| {
                (
                    upstream.url(&format!("up/{path}")),
                    Some(sha256_hex(data)),
                    path.as_str(),
                )
            })
            .collect();
        let config = write_config(work.path(), &config);
        home.run(&["collect", "--config", config.to_str().unwrap()])
            .ok();
        home.run(&["keys", "init"]).ok();
        Self {
            upstream,
            home,
            files,
            work,
        }
    }

    pub fn sample() -> Self {
        Self::new(vec![
            ("tools/big.bin".into(), noise(1, 300_000)),
            (
                "docs/readme.txt".into(),
                b"hello from the connected side\n".repeat(100),
            ),
            ("empty.dat".into(), Vec::new()),
        ])
    }

    pub fn pack(&self, name: &str, extra: &[&str]) -> PathBuf {
        let out = self.work.path().join(name);
        let mut args = vec!["pack", "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.home.run(&args).ok();
        out
    }

    /// An isolated home that trusts this side's root.
    pub fn isolated(&self) -> Home {
        let home = Home::new();
        home.run(&["init", "--trust", self.home.root().to_str().unwrap()])
            .ok();
        home
    }

    /// An isolated home that imported this side's first bundle and hosts
    /// `names` of `ecosystem`, where anyone reads and user `writer` (the
    /// one `Server::start` makes) writes.
    pub fn hosting_site(&self, ecosystem: &str, names: &str) -> Home {
        let first = self.pack("first", &[]);
        let isolated = self.isolated();
        isolated.run(&["import", first.to_str().unwrap()]).ok();
        std::fs::write(
            isolated.path().join("access.toml"),
            format!(
                "[[rule]]\nread = [\"anonymous\"]\nwrite = [\"writer\"]\n\n[[hosted]]\necosystems = [\"{ecosystem}\"]\nnames = [\"{names}\"]\n"
            ),
        )
        .unwrap();
        isolated
    }

    /// Packs a newer bundle (a minute later) named `name`.
    pub fn pack_newer(&self, name: &str) -> PathBuf {
        let out = self.work.path().join(name);
        self.home
            .run_env(
                &["pack", "--out", out.to_str().unwrap()],
                &[("SOURCE_DATE_EPOCH", &epoch_plus(60))],
            )
            .ok();
        out
    }
}

/// Runs one airlift command in-process (`airlift::run`) with `registry`;
/// its standard output and, on failure, the failure.
pub fn in_process(
    home: &Path,
    args: &[&str],
    registry: std::sync::Arc<airlift_ecosystem::Registry>,
) -> (String, Result<(), airlift::Failure>) {
    use clap::Parser as _;
    let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut argv = vec!["airlift", "--home", home.to_str().expect("a UTF-8 path")];
    argv.extend_from_slice(args);
    let cli = airlift::cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let result = airlift::run(cli, registry, Some(out.clone()));
    let text = String::from_utf8(out.lock().expect("the output").clone()).expect("UTF-8 output");
    (text, result)
}

/// [`in_process`] for a command that must succeed.
pub fn in_process_ok(
    home: &Path,
    args: &[&str],
    registry: std::sync::Arc<airlift_ecosystem::Registry>,
) -> String {
    let (text, result) = in_process(home, args, registry);
    if let Err(failure) = result {
        panic!("{args:?} failed: {} {:?}", failure.message, failure.hints);
    }
    text
}

/// Stores each of `names` as a blob of `content(name)` and returns an entry
/// of `ecosystem` for each, keyed by the name: the collect of the tests'
/// toy ecosystems.
pub fn store_named(
    store: &airlift_store::Store,
    ecosystem: &str,
    names: &[String],
    content: impl Fn(&str) -> String,
) -> Result<Vec<airlift_store::Entry>, airlift_ecosystem::Error> {
    let failed = |e: &dyn std::fmt::Display| airlift_ecosystem::Error::store(e.to_string());
    let mut entries = Vec::new();
    for name in names {
        let bytes = content(name);
        let digest = airlift_core::Digest::of(bytes.as_bytes());
        let mut writer = store.blobs.writer().map_err(|e| failed(&e))?;
        writer.write_all(bytes.as_bytes()).map_err(|e| failed(&e))?;
        writer.commit(Some(&digest)).map_err(|e| failed(&e))?;
        entries.push(airlift_store::Entry {
            ecosystem: ecosystem.into(),
            key: name.clone(),
            digest,
            size: bytes.len() as u64,
            meta: serde_json::json!({}),
        });
    }
    Ok(entries)
}
