//! One function per command: parse inputs, call one operation, render.
#![allow(clippy::print_stdout)]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlift_bundle::{ImportOptions, ImportOutcome, PackOptions};
use airlift_config::Config;
use airlift_fetch::{FetchOptions, Fetcher};
use airlift_store::layout::Layout;
use airlift_store::{NewGeneration, Store};
use airlift_trust::SiteKeys;
use serde::Serialize;

use crate::cli::{
    ApproveArgs, AptCommand, AuditCommand, BundleArgs, Cli, ClientConfigArgs, ClientTool,
    CollectArgs, Command, CustodyCommand, FsckArgs, ImportArgs, InitArgs, KeysCommand, PackArgs,
    ReceiptCommand, ServeArgs, TlsCommand, VerifyArgs,
};
use crate::failure::Failure;
use crate::progress::Bar;

struct Context {
    layout: Layout,
    json: bool,
}

impl Context {
    fn store(&self) -> Result<Store, Failure> {
        Store::open_embedded(self.layout.home()).map_err(|e| {
            Failure::new(1, e.to_string()).hint(format!(
                "is {} a writable airlift home?",
                self.layout.home().display()
            ))
        })
    }

    fn bar(&self) -> Bar {
        Bar::new(match (std::io::stderr().is_terminal(), self.json) {
            (true, false) => crate::progress::Mode::Terminal,
            (true, true) => crate::progress::Mode::Hidden,
            (false, _) => crate::progress::Mode::Plain,
        })
    }

    /// Prints `value` as JSON, or `human` as text.
    fn emit<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) -> Result<(), Failure> {
        if self.json {
            let text = serde_json::to_string_pretty(value)
                .map_err(|e| Failure::new(1, format!("cannot encode JSON: {e}")))?;
            print_line(&text)?;
        } else {
            let text = human();
            if !text.is_empty() {
                print_line(&text)?;
            }
        }
        Ok(())
    }
}

/// Writes one line to standard output. A reader that went away (`airlift
/// plan … | head`) ends the program quietly, as `cat` would; other errors
/// are reported.
fn print_line(text: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(Failure::new(
            1,
            format!("cannot write to standard output: {e}"),
        )),
    }
}

impl Context {
    /// Appends an event to the home's audit log. The action it records has
    /// already happened; a failure here says so.
    fn audit<T: Serialize>(&self, event: &str, detail: &T) -> Result<(), Failure> {
        let detail = serde_json::to_value(detail)
            .map_err(|e| Failure::new(1, format!("cannot encode the audit entry: {e}")))?;
        self.audit_log(None)
            .append(event, detail)
            .map(|_| ())
            .map_err(|e| {
                Failure::new(
                    1,
                    format!("{event} completed, but the audit log was not written: {e}"),
                )
                .hint("check the home's audit/ directory, then `airlift audit verify`")
            })
    }

    /// The home's audit log, with the index as the witness of its head.
    /// `meta` is an index already open (`serve`); otherwise each append
    /// opens `<home>/store/index.sqlite`, creating it if needed.
    fn audit_log(&self, meta: Option<Arc<dyn airlift_store::MetaStore>>) -> airlift_audit::Log {
        airlift_audit::Log::with_witness(
            self.layout.home(),
            Arc::new(IndexWitness {
                db: self.layout.index_db(),
                meta,
            }),
        )
    }
}

/// The index's record of the audit log's head (ADR 0015): it lives outside
/// `<home>/audit/`, so a log deleted or shortened there is reported by
/// `audit verify` and refused by the next append instead of starting over
/// unnoticed. Reading never creates the index: `audit verify` in a home
/// without one finds no record.
struct IndexWitness {
    db: PathBuf,
    meta: Option<Arc<dyn airlift_store::MetaStore>>,
}

impl IndexWitness {
    fn meta(&self, create: bool) -> Result<Option<Arc<dyn airlift_store::MetaStore>>, String> {
        if let Some(meta) = &self.meta {
            return Ok(Some(meta.clone()));
        }
        if !create && !self.db.exists() {
            return Ok(None);
        }
        let meta = airlift_store::SqliteMetaStore::open(&self.db).map_err(|e| e.to_string())?;
        Ok(Some(Arc::new(meta)))
    }
}

impl airlift_audit::Witness for IndexWitness {
    fn recorded(&self) -> Result<Option<airlift_audit::Head>, String> {
        let Some(meta) = self.meta(false)? else {
            return Ok(None);
        };
        let Some(head) = meta.audit_head().map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        airlift_audit::Head::from_hex(head.size, &head.root)
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "{}: the recorded root {:?} is not a SHA-256 hash",
                    self.db.display(),
                    head.root
                )
            })
    }

    fn record(&self, head: airlift_audit::Head) -> Result<(), String> {
        let Some(meta) = self.meta(true)? else {
            return Err(format!("{}: cannot open the index", self.db.display()));
        };
        meta.record_audit_head(&airlift_store::AuditHead {
            size: head.size,
            root: head.root_hex(),
        })
        .map_err(|e| e.to_string())
    }
}

fn default_home() -> Result<PathBuf, Failure> {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(data).join("airlift"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/airlift")),
        None => Err(Failure::input(
            "no home directory: set --home or AIRLIFT_HOME",
        )),
    }
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    let home = match cli.home {
        Some(home) => home,
        None => default_home()?,
    };
    let context = Context {
        layout: Layout::new(&home),
        json: cli.json,
    };
    match cli.command {
        Command::Collect(args) => collect(&context, args),
        Command::Keys(KeysCommand::Init { root_expires_days }) => {
            keys_init(&context, root_expires_days)
        }
        Command::Keys(KeysCommand::New { name, dir, pkcs11 }) => {
            keys_new(&context, &name, dir, pkcs11.as_deref())
        }
        Command::Keys(KeysCommand::List) => keys_list(&context),
        Command::Keys(KeysCommand::Rotate {
            policy,
            keys,
            finish,
        }) => keys_rotate(&context, policy.as_deref(), &keys, finish),
        Command::Approve(args) => approve(&context, &args),
        Command::Custody(CustodyCommand::Sign {
            bundle,
            name,
            to,
            key,
            note,
        }) => custody_sign(&context, &bundle, &name, &to, &key, &note),
        Command::Custody(CustodyCommand::Policy { file }) => custody_policy(&context, &file),
        Command::Tls(TlsCommand::Init { names }) => tls_init(&context, &names),
        Command::Pack(args) => pack(&context, args),
        Command::Verify(args) => verify(&context, args),
        Command::Init(args) => init(&context, args),
        Command::Import(args) => import(&context, args),
        Command::Plan(args) => plan(&context, args),
        Command::Serve(args) => serve(&context, args),
        Command::Images => images(&context),
        Command::Status => status(&context),
        Command::Template => template(),
        Command::Fsck(args) => fsck(&context, args),
        Command::ClientConfig(args) => client_config(&context, args),
        Command::Audit(command) => audit(&context, command),
        Command::Receipt(ReceiptCommand::Export { out }) => receipt_export(&context, &out),
        Command::Apt(AptCommand::Key { out, binary }) => apt_key(&context, out.as_deref(), binary),
    }
}

/// The clock: `SOURCE_DATE_EPOCH` when set (reproducible packs), else now.
fn now() -> Result<jiff::Timestamp, Failure> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => value
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|seconds| jiff::Timestamp::from_second(seconds).ok())
            .ok_or_else(|| {
                Failure::input(format!(
                    "SOURCE_DATE_EPOCH={value:?} is not a Unix time in seconds"
                ))
            }),
        Err(_) => Ok(jiff::Timestamp::now()),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(1, format!("cannot start the async runtime: {e}")))
}

/// A failed package collect: bad input (2), a store failure (1), or an
/// upstream failure (4) that left the index unchanged.
/// Runs one package ecosystem's collect when something is declared for
/// it (otherwise its empty result); `classify` says whether an error is
/// bad input and whether it is the store's, for [`package_failure`].
fn package_collect<C: Default, E: std::fmt::Display>(
    runtime: &tokio::runtime::Runtime,
    collect: Option<impl std::future::Future<Output = Result<C, E>>>,
    classify: impl Fn(&E) -> (bool, bool),
) -> Result<C, Failure> {
    match collect {
        None => Ok(C::default()),
        Some(future) => runtime.block_on(future).map_err(|e| {
            let (input, store) = classify(&e);
            package_failure(&e, input, store)
        }),
    }
}

fn package_failure(error: &dyn std::fmt::Display, input: bool, store: bool) -> Failure {
    if input {
        Failure::input(error.to_string())
    } else if store {
        Failure::new(1, error.to_string())
    } else {
        Failure::new(4, format!("{error}; the index is unchanged"))
    }
}

#[derive(Serialize)]
struct CollectSummary {
    files: usize,
    downloaded: u64,
    cached: u64,
    bytes: u64,
    images: u64,
    manifests: u64,
    image_blobs: u64,
    image_bytes: u64,
    platforms_left_out: Vec<String>,
    python_projects: u64,
    python_files: u64,
    python_bytes: u64,
    python_notes: Vec<String>,
    crates: u64,
    crate_bytes: u64,
    crate_notes: Vec<String>,
    npm_packages: u64,
    npm_versions: u64,
    npm_bytes: u64,
    npm_notes: Vec<String>,
    debian_packages: u64,
    debian_bytes: u64,
    debian_notes: Vec<String>,
    generation: u64,
    /// Entries of the previous generation that this one no longer has.
    dropped: u64,
    /// Entries of the previous generation.
    previous_entries: u64,
}

fn collect(context: &Context, args: CollectArgs) -> Result<(), Failure> {
    let config = Config::load(&args.config)?;
    let planned = airlift_files::collect::plan(&config.files)
        .map_err(|e| Failure::input(format!("{}: {e}", args.config.display())))?;
    let images = airlift_oci::collect::plan(&config.oci)
        .map_err(|e| Failure::input(format!("{}: {e}", args.config.display())))?;
    let base = args
        .config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let rust = match &config.cargo {
        Some(spec) => Some(
            airlift_cargo::collect::plan(spec, &base)
                .map_err(|e| Failure::input(format!("{}: {e}", args.config.display())))?,
        ),
        None => None,
    };
    let javascript = match &config.npm {
        Some(spec) => Some(
            airlift_npm::collect::plan(spec, &base)
                .map_err(|e| Failure::input(format!("{}: {e}", args.config.display())))?,
        ),
        None => None,
    };
    let debian = airlift_apt::collect::plan(&config.apt, &base)
        .map_err(|e| Failure::input(format!("{}: {e}", args.config.display())))?;
    let python = match &config.pypi {
        Some(spec) => Some(
            airlift_pypi::collect::plan(spec, &base)
                .map_err(|e| Failure::input(format!("{}: {e}", args.config.display())))?,
        ),
        None => None,
    };
    let store = context.store()?;
    let fetcher = Fetcher::new(FetchOptions {
        concurrency: args
            .concurrency
            .map_or(config.collect.concurrency, usize::from),
        attempts: config.collect.attempts,
        ..FetchOptions::default()
    })
    .map_err(|e| Failure::new(1, format!("cannot start the HTTP client: {e}")))?;
    let bar = Arc::new(context.bar());
    let runtime = runtime()?;
    bar.phase("collect files", None);
    let collected = runtime.block_on(airlift_files::collect::collect(
        &store,
        &fetcher,
        &planned,
        bar.clone(),
    ));
    if !collected.failures.is_empty() {
        drop(bar);
        let count = collected.failures.len();
        let mut failure = Failure::new(
            4,
            format!(
                "{count} of {} files could not be collected; the index is unchanged",
                planned.len()
            ),
        );
        for (path, error) in &collected.failures {
            failure = failure.hint(format!("{path}: {error}"));
        }
        return Err(failure);
    }
    if !images.is_empty() {
        bar.phase("collect images", None);
    }
    let oci = runtime
        .block_on(airlift_oci::collect::collect(
            &store,
            &fetcher,
            &images,
            bar.clone(),
        ))
        .map_err(|e| match e {
            airlift_oci::collect::CollectError::Spec { .. } => Failure::input(e.to_string()),
            airlift_oci::collect::CollectError::Store(_) => Failure::new(1, e.to_string()),
            _ => Failure::new(4, format!("{e}; the index is unchanged")),
        })?;
    let concurrency = args
        .concurrency
        .map_or(config.collect.concurrency, usize::from);
    if python.is_some() {
        bar.phase("collect pypi", None);
    }
    let pypi = package_collect(
        &runtime,
        python
            .as_ref()
            .map(|p| airlift_pypi::collect::collect(&store, &fetcher, p, concurrency, bar.clone())),
        |e| {
            use airlift_pypi::collect::CollectError as E;
            (
                matches!(e, E::Spec(_) | E::Lock(_)),
                matches!(e, E::Store(_)),
            )
        },
    )?;
    if rust.is_some() {
        bar.phase("collect cargo", None);
    }
    let cargo = package_collect(
        &runtime,
        rust.as_ref().map(|p| {
            airlift_cargo::collect::collect(&store, &fetcher, p, concurrency, bar.clone())
        }),
        |e| {
            use airlift_cargo::collect::CollectError as E;
            (
                matches!(e, E::Spec(_) | E::Lock(_)),
                matches!(e, E::Store(_)),
            )
        },
    )?;
    if javascript.is_some() {
        bar.phase("collect npm", None);
    }
    let npm = package_collect(
        &runtime,
        javascript
            .as_ref()
            .map(|p| airlift_npm::collect::collect(&store, &fetcher, p, concurrency, bar.clone())),
        |e| {
            use airlift_npm::collect::CollectError as E;
            (
                matches!(e, E::Spec(_) | E::Lock(_)),
                matches!(e, E::Store(_)),
            )
        },
    )?;
    if !debian.is_empty() {
        bar.phase("collect apt", None);
    }
    let apt = package_collect(
        &runtime,
        (!debian.is_empty())
            .then(|| airlift_apt::collect::collect(&store, &fetcher, &debian, bar.clone())),
        |e| {
            use airlift_apt::collect::CollectError as E;
            (matches!(e, E::Spec { .. }), matches!(e, E::Store(_)))
        },
    )?;
    drop(bar);
    // The new generation: the declared files, images and packages, every
    // other ecosystem as it was.
    let mut entries = collected.entries;
    entries.extend(oci.entries.iter().cloned());
    entries.extend(pypi.entries.iter().cloned());
    entries.extend(cargo.entries.iter().cloned());
    entries.extend(npm.entries.iter().cloned());
    entries.extend(apt.entries.iter().cloned());
    let previous = match store.meta.current()? {
        Some(current) => store.meta.entries(current.id, None)?,
        None => Vec::new(),
    };
    let previous_entries = previous.len() as u64;
    entries.extend(
        previous
            .iter()
            .filter(|e| {
                e.ecosystem != airlift_files::ECOSYSTEM
                    && e.ecosystem != airlift_oci::ECOSYSTEM
                    && e.ecosystem != airlift_pypi::ECOSYSTEM
                    && e.ecosystem != airlift_cargo::ECOSYSTEM
                    && e.ecosystem != airlift_npm::ECOSYSTEM
                    && e.ecosystem != airlift_apt::ECOSYSTEM
            })
            .cloned(),
    );
    let kept: std::collections::BTreeSet<(&str, &str)> = entries
        .iter()
        .map(|e| (e.ecosystem.as_str(), e.key.as_str()))
        .collect();
    let dropped = previous
        .iter()
        .filter(|e| !kept.contains(&(e.ecosystem.as_str(), e.key.as_str())))
        .count() as u64;
    let generation = store.meta.commit(NewGeneration {
        source: "collect".into(),
        created_at: jiff::Timestamp::now().as_second(),
        entries,
        state: Vec::new(),
    })?;
    let summary = CollectSummary {
        files: planned.len(),
        downloaded: collected.downloaded,
        cached: collected.cached,
        bytes: collected.bytes,
        images: oci.images,
        manifests: oci.manifests,
        image_blobs: oci.blobs,
        image_bytes: oci.bytes,
        platforms_left_out: oci.left_out,
        python_projects: pypi.projects,
        python_files: pypi.files,
        python_bytes: pypi.bytes,
        python_notes: pypi.notes,
        crates: cargo.crates,
        crate_bytes: cargo.bytes,
        crate_notes: cargo.notes,
        npm_packages: npm.packages,
        npm_versions: npm.versions,
        npm_bytes: npm.bytes,
        npm_notes: npm.notes,
        debian_packages: apt.packages,
        debian_bytes: apt.bytes,
        debian_notes: apt.notes,
        generation: generation.id,
        dropped,
        previous_entries,
    };
    context.audit("collect", &summary)?;
    context.emit(&summary, || {
        let mut parts = Vec::new();
        if summary.files > 0
            || (summary.images == 0
                && summary.python_files == 0
                && summary.crates == 0
                && summary.npm_versions == 0
                && summary.debian_packages == 0)
        {
            parts.push(format!(
                "{} files ({} downloaded, {} already stored, {} bytes)",
                summary.files, summary.downloaded, summary.cached, summary.bytes
            ));
        }
        if summary.images > 0 {
            parts.push(format!(
                "{} images ({} manifests, {} blobs, {} bytes)",
                summary.images, summary.manifests, summary.image_blobs, summary.image_bytes
            ));
        }
        if summary.python_files > 0 {
            parts.push(format!(
                "{} Python projects ({} files, {} bytes)",
                summary.python_projects, summary.python_files, summary.python_bytes
            ));
        }
        if summary.crates > 0 {
            parts.push(format!(
                "{} crates ({} bytes)",
                summary.crates, summary.crate_bytes
            ));
        }
        if summary.npm_versions > 0 {
            parts.push(format!(
                "{} npm packages ({} versions, {} bytes)",
                summary.npm_packages, summary.npm_versions, summary.npm_bytes
            ));
        }
        if summary.debian_packages > 0 {
            parts.push(format!(
                "{} Debian packages ({} bytes)",
                summary.debian_packages, summary.debian_bytes
            ));
        }
        let mut text = format!("collected {}", parts.join(" and "));
        text.push_str(&format!(" into generation {}", summary.generation));
        for note in summary
            .python_notes
            .iter()
            .chain(&summary.crate_notes)
            .chain(&summary.npm_notes)
            .chain(&summary.debian_notes)
        {
            text.push_str(&format!("\n  note: {note}"));
        }
        for left_out in &summary.platforms_left_out {
            text.push_str(&format!("\n  left out by platforms: {left_out}"));
        }
        if summary.dropped > 0 {
            text.push_str(&format!(
                "\nwarning: generation {} drops {} of the {} entries of the one before; a bundle packed from it removes them on import (an import refuses to remove more than {}% unless given --allow-removals)",
                summary.generation,
                summary.dropped,
                summary.previous_entries,
                airlift_bundle::DEFAULT_MAX_REMOVAL_PERCENT
            ));
        }
        text
    })
}

fn keys_new(
    context: &Context,
    name: &str,
    dir: Option<PathBuf>,
    pkcs11: Option<&str>,
) -> Result<(), Failure> {
    let dir = dir.unwrap_or_else(|| context.layout.keys_dir());
    let (key, private) = match pkcs11 {
        Some(uri) => (
            airlift_trust::KeyPair::generate_in_token(&dir, name, uri)?,
            dir.join(format!("{name}.pkcs11")),
        ),
        None => (
            airlift_trust::KeyPair::generate_named(&dir, name)?,
            dir.join(format!("{name}.pk8")),
        ),
    };
    let public = dir.join(format!("{name}.pub.json"));
    let summary = serde_json::json!({
        "name": name,
        "keyid": key.keyid(),
        "private": private,
        "public": public,
        "token": pkcs11.is_some(),
    });
    context.audit(
        "keys-new",
        &serde_json::json!({"name": name, "keyid": key.keyid(), "token": pkcs11.is_some()}),
    )?;
    context.emit(&summary, || {
        format!(
            "created key {name} ({})\nprivate: {} (keep it on this machine{})\npublic:  {} (hand it to whoever rotates the root)",
            key.keyid(),
            private.display(),
            if pkcs11.is_some() { "; the key itself stays in the token" } else { "" },
            public.display()
        )
    })
}

fn keys_list(context: &Context) -> Result<(), Failure> {
    let keys = SiteKeys::open(&context.layout.keys_dir())?;
    let root = keys.latest_root()?;
    let local = keys.local_keyids();
    let roles: Vec<serde_json::Value> = root
        .roles
        .iter()
        .map(|(name, role)| {
            serde_json::json!({
                "role": name,
                "threshold": role.threshold,
                "keys": role.keyids.iter().map(|k| serde_json::json!({
                    "keyid": k,
                    "name": root.keys.get(k).and_then(|v| v.get(airlift_trust::roles::NAME_FIELD)).and_then(|n| n.as_str()),
                    "here": local.contains(k),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let summary =
        serde_json::json!({"root_version": root.version, "expires": root.expires, "roles": roles});
    context.emit(&summary, || {
        let mut text = format!("root version {} (expires {})", root.version, root.expires);
        for (name, role) in &root.roles {
            text.push_str(&format!("\n{name}: {} of", role.threshold));
            for k in &role.keyids {
                text.push_str(&format!(
                    " {}{}",
                    root.describe(k),
                    if local.contains(k) { " [here]" } else { "" }
                ));
            }
        }
        text
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RolesPolicy {
    #[serde(default = "default_root_days")]
    expires_days: i64,
    roles: std::collections::BTreeMap<String, RolePolicyFile>,
}

fn default_root_days() -> i64 {
    365
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RolePolicyFile {
    threshold: usize,
    keys: Vec<PathBuf>,
}

fn keys_rotate(
    context: &Context,
    policy: Option<&Path>,
    extra: &[PathBuf],
    finish: bool,
) -> Result<(), Failure> {
    let keys = SiteKeys::open(&context.layout.keys_dir())?;
    let rotation = if finish {
        keys.finish_rotation()?
    } else {
        let Some(path) = policy else {
            return Err(Failure::input("give --policy FILE (or --finish)"));
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format!("cannot read {}: {e}", path.display())))?;
        let parsed: RolesPolicy = toml::from_str(&text)
            .map_err(|e| Failure::input(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut roles = std::collections::BTreeMap::new();
        for (name, role) in parsed.roles {
            if !["root", "targets", "snapshot", "timestamp"].contains(&name.as_str()) {
                return Err(Failure::input(format!(
                    "{}: unknown role {name:?} (root, targets, snapshot, timestamp)",
                    path.display()
                )));
            }
            let mut objects = Vec::new();
            for key in &role.keys {
                let file = base.join(key);
                let bytes = std::fs::read(&file)
                    .map_err(|e| Failure::input(format!("cannot read {}: {e}", file.display())))?;
                let value: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|e| Failure::input(format!("{}: {e}", file.display())))?;
                if value["keytype"] != "ed25519" || value["keyval"]["public"].as_str().is_none() {
                    return Err(Failure::input(format!(
                        "{}: not an ed25519 public key object (make one with `airlift keys new`)",
                        file.display()
                    )));
                }
                objects.push(value);
            }
            roles.insert(
                name,
                airlift_trust::RolePolicy {
                    keys: objects,
                    threshold: role.threshold,
                },
            );
        }
        if parsed.expires_days < 1 {
            return Err(Failure::input("expires-days must be at least 1"));
        }
        let expires = now()?
            .checked_add(jiff::SignedDuration::from_hours(24 * parsed.expires_days))
            .map_err(|e| Failure::input(e.to_string()))?;
        let extra = extra
            .iter()
            .map(|p| airlift_trust::KeyPair::load(p))
            .collect::<Result<Vec<_>, _>>()?;
        keys.rotate(&roles, expires, &extra)?
    };
    match rotation {
        airlift_trust::Rotation::Installed { version, path } => {
            context.audit("keys-rotate", &serde_json::json!({"root_version": version}))?;
            context.emit(
                &serde_json::json!({"installed": true, "root_version": version, "root": path}),
                || {
                    format!(
                        "root version {version} installed ({}); the next bundle carries it and importers walk to it",
                        path.display()
                    )
                },
            )
        }
        airlift_trust::Rotation::Pending {
            version,
            path,
            old,
            new,
        } => {
            let old_root = keys.latest_root()?;
            let new_root = std::fs::read(&path)
                .ok()
                .and_then(|b| airlift_trust::RootInfo::parse(&b).ok());
            let describe_new = new_root
                .as_ref()
                .map_or_else(String::new, |r| new.describe(r));
            Err(Failure::new(
                6,
                format!(
                    "root version {version} needs more signatures: old root {}; new root {}",
                    old.describe(&old_root),
                    describe_new
                ),
            )
            .hint(format!(
                "run `airlift approve {} --key <root key>` where the keys are, then `airlift keys rotate --finish`",
                path.display()
            )))
        }
    }
}

fn custody_sign(
    context: &Context,
    bundle: &Path,
    name: &str,
    to: &str,
    key: &Path,
    note: &str,
) -> Result<(), Failure> {
    let key = airlift_trust::KeyPair::load(key)?;
    let id = airlift_bundle::bundle_id(bundle)?;
    let chain = airlift_bundle::custody_chain_path(bundle);
    let existing = match std::fs::read_to_string(&chain) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Failure::new(
                1,
                format!("cannot read {}: {e}", chain.display()),
            ));
        }
    };
    let last = existing.lines().rfind(|l| !l.trim().is_empty());
    let handoff = airlift_trust::custody::Handoff {
        from: name.to_owned(),
        to: to.to_owned(),
        time: now()?.to_string(),
        note: note.to_owned(),
        previous: last.map(airlift_trust::custody::line_digest),
    };
    let subject_name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let line = airlift_trust::custody::sign(&key, &subject_name, &id.hex(), &handoff)?;
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&line);
    text.push('\n');
    airlift_core::write_file_durably(&chain, text.as_bytes())
        .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", chain.display())))?;
    let count = text.lines().filter(|l| !l.trim().is_empty()).count();
    let summary = serde_json::json!({
        "bundle_id": id.to_string(),
        "chain": chain,
        "handoff": count,
        "from": name,
        "to": to,
        "keyid": key.keyid(),
        "note": note,
    });
    context.audit("custody-sign", &summary)?;
    context.emit(&summary, || {
        format!(
            "hand-off {count}: {name} to {to}, signed into {} (bundle {id}); carry that file with the bundle",
            chain.display()
        )
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CustodyPolicyFile {
    signers: std::collections::BTreeMap<String, PathBuf>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    min_handoffs: usize,
    #[serde(default = "yes")]
    continuity: bool,
}

fn yes() -> bool {
    true
}

fn custody_policy(context: &Context, file: &Path) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", file.display())))?;
    let parsed: CustodyPolicyFile =
        toml::from_str(&text).map_err(|e| Failure::input(format!("{}: {e}", file.display())))?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut signers = std::collections::BTreeMap::new();
    for (name, path) in &parsed.signers {
        let path = base.join(path);
        let bytes = std::fs::read(&path)
            .map_err(|e| Failure::input(format!("cannot read {}: {e}", path.display())))?;
        let key: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Failure::input(format!("{}: {e}", path.display())))?;
        signers.insert(name.clone(), key);
    }
    let policy = airlift_trust::custody::Policy {
        signers,
        required: parsed.required,
        min_handoffs: parsed.min_handoffs,
        continuity: parsed.continuity,
    };
    policy
        .validate()
        .map_err(|e| Failure::input(format!("{}: {e}", file.display())))?;
    let path = context
        .layout
        .trust_dir()
        .join(airlift_bundle::CUSTODY_POLICY);
    let bytes = serde_json::to_vec_pretty(&policy).unwrap_or_default();
    airlift_core::write_file_durably(&path, &bytes)
        .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", path.display())))?;
    let summary = serde_json::json!({
        "policy": path,
        "signers": policy.signers.keys().collect::<Vec<_>>(),
        "required": policy.required,
        "min_handoffs": policy.min_handoffs,
        "continuity": policy.continuity,
    });
    context.audit("custody-policy", &summary)?;
    context.emit(&summary, || {
        format!(
            "custody policy set ({}): signers {}; required {}; at least {} hand-offs; continuity {}",
            path.display(),
            policy.signers.keys().cloned().collect::<Vec<_>>().join(", "),
            if policy.required.is_empty() { "none".to_owned() } else { policy.required.join(", ") },
            policy.min_handoffs,
            if policy.continuity { "required" } else { "not required" }
        )
    })
}

fn approve(context: &Context, args: &ApproveArgs) -> Result<(), Failure> {
    let key = airlift_trust::KeyPair::load(&args.key)?;
    let bytes = std::fs::read(&args.file)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", args.file.display())))?;
    let mut document: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::input(format!("{}: {e}", args.file.display())))?;
    let who = key
        .name()
        .map_or_else(|| key.keyid()[..12].to_owned(), str::to_owned);
    let (what, detail) = if document["format"] == airlift_bundle::APPROVAL_FORMAT {
        let signed = &document["targets"]["signed"];
        let summary = &document["summary"];
        let detail = format!(
            "bundle version {}: {} entries ({}), {} blobs, {} bytes{}",
            signed["version"],
            summary["entries"],
            summary["ecosystems"]
                .as_object()
                .map(|o| o
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
            summary["blobs"],
            summary["bytes"],
            match document["statement"].get("destination") {
                Some(d) => format!(
                    ", for {} (sequence {})",
                    d.as_str().unwrap_or("?"),
                    document["statement"]["sequence"]
                ),
                None => String::new(),
            }
        );
        // The summary is informative; what is signed is the targets list.
        let listed = signed["targets"].as_object().map_or(0, |t| t.len());
        document["targets"] = airlift_trust::roles::add_signature(&document["targets"], &key)?;
        ("targets", format!("{detail}; {listed} targets signed"))
    } else if document["signed"]["_type"] == "root" {
        let root = airlift_trust::RootInfo::from_signed(&document["signed"])
            .map_err(|e| Failure::input(format!("{}: {e}", args.file.display())))?;
        document = airlift_trust::roles::add_signature(&document, &key)?;
        (
            "root",
            format!(
                "root version {} with roles {}",
                root.version,
                root.roles
                    .iter()
                    .map(|(n, r)| format!("{n} {} of {}", r.threshold, r.keyids.len()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else {
        return Err(Failure::input(format!(
            "{}: neither an approval request nor a pending root",
            args.file.display()
        )));
    };
    let text = serde_json::to_vec_pretty(&document).unwrap_or_default();
    airlift_core::write_file_durably(&args.file, &text)
        .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", args.file.display())))?;
    let summary = serde_json::json!({"file": args.file, "signer": who, "keyid": key.keyid(), "kind": what, "what": detail});
    context.audit("approve", &summary)?;
    context.emit(&summary, || {
        format!(
            "{who} signed {} ({what}: {detail}); pass it on to the next approver, or back to the packer",
            args.file.display()
        )
    })
}

#[derive(Serialize)]
struct KeysSummary {
    keyid: String,
    root: PathBuf,
}

fn keys_init(context: &Context, root_expires_days: i64) -> Result<(), Failure> {
    if root_expires_days < 1 {
        return Err(Failure::input("--root-expires-days must be at least 1"));
    }
    let keys = SiteKeys::init(&context.layout.keys_dir(), now()?, root_expires_days)?;
    let summary = KeysSummary {
        keyid: keys.signer.keyid().to_owned(),
        root: keys.root_path(1),
    };
    context.audit("keys-init", &summary)?;
    context.emit(&summary, || {
        format!(
            "created key {}\ntrust anchor: {}\ncarry it to the isolated side and run `airlift init --trust root.json` there",
            summary.keyid,
            summary.root.display()
        )
    })
}

/// Parses sizes such as `700M`, `4G`, `4480MiB`, `1000000` (binary units).
pub fn parse_size(text: &str) -> Result<u64, Failure> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| Failure::input(format!("size {text:?} does not start with a number")))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        "t" | "tib" | "tb" => 40,
        other => {
            return Err(Failure::input(format!(
                "size {text:?} has an unknown unit {other:?} (use K, M, G or T)"
            )));
        }
    };
    number
        .checked_mul(1u64 << shift)
        .filter(|n| *n > 0)
        .ok_or_else(|| Failure::input(format!("size {text:?} is zero or too large")))
}

/// Parses durations such as `30d`, `12h`, `90m`, `3600s`.
pub fn parse_duration(text: &str) -> Result<jiff::SignedDuration, Failure> {
    use crate::cli::DurationError;
    let units = [
        ("s", 1000),
        ("m", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
        ("", 86_400_000),
    ];
    let too_large = || Failure::input(format!("duration {text:?} is zero or too large"));
    match crate::cli::duration_millis(text.trim(), &units) {
        Ok(0) => Err(too_large()),
        Ok(millis) => i64::try_from(millis / 1000)
            .map(jiff::SignedDuration::from_secs)
            .map_err(|_| too_large()),
        Err(DurationError::NoNumber) => Err(Failure::input(format!(
            "duration {text:?} does not start with a number"
        ))),
        Err(DurationError::Unit(other)) => Err(Failure::input(format!(
            "duration {text:?} has an unknown unit {other:?} (use s, m, h or d)"
        ))),
        Err(DurationError::TooLarge) => Err(too_large()),
    }
}

/// Part sizes of the media presets.
fn media_size(media: &str) -> Result<u64, Failure> {
    match media {
        // A single-layer DVD±R holds 4,707,319,808 bytes; keep a margin.
        "dvd" => Ok(4_700_000_000),
        // A single-layer BD-R holds 25,025,314,816 bytes.
        "bd" => Ok(25_000_000_000),
        // FAT32's largest file.
        "usb-4g" => Ok(4_294_967_295),
        other => parse_size(other).map_err(|_| {
            Failure::input(format!(
                "--media {other:?} is not dvd, bd, usb-4g or a size such as 700M"
            ))
        }),
    }
}

fn ledger_path(context: &Context, destination: &str) -> Result<PathBuf, Failure> {
    if destination.is_empty()
        || destination.len() > 100
        || !destination
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || destination.starts_with('.')
    {
        return Err(Failure::input(format!(
            "--destination {destination:?}: use letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(context
        .layout
        .home()
        .join("ledger")
        .join(format!("{destination}.json")))
}

/// Blob digests in a ledger or receipt file.
fn read_digests(
    value: &serde_json::Value,
    what: &Path,
) -> Result<std::collections::BTreeSet<airlift_core::Digest>, Failure> {
    value
        .get("blobs")
        .and_then(|b| b.as_array())
        .ok_or_else(|| Failure::input(format!("{}: no \"blobs\" list", what.display())))?
        .iter()
        .map(|v| {
            v.as_str()
                .and_then(|h| airlift_core::Digest::from_hex(h).ok())
                .ok_or_else(|| Failure::input(format!("{}: {v} is not a SHA-256", what.display())))
        })
        .collect()
}

/// The version of the next bundle: the pack time in seconds (ADR 0005), but
/// always greater than the last version packed for the destination and than
/// this home's last pack of another generation, so two packs in one second
/// (or a clock set back) never give a site two bundles of one version.
/// Packing the same generation again at the same (declared) time keeps its
/// version, so the same store, keys and clock still give the same bytes.
fn pack_version(context: &Context, store: &Store, ledger: Option<&Path>) -> Result<u64, Failure> {
    let clock = now()?.as_second().max(1) as u64;
    let read = |path: &Path| -> Option<serde_json::Value> {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
    };
    let mut floor = 1;
    if let Some(last) = read(&context.layout.last_pack()) {
        let version = last["version"].as_u64().unwrap_or(0);
        let generation = store.meta.current()?.map(|g| g.id);
        let same = generation.is_some()
            && last["generation"].as_u64() == generation
            && last["clock"].as_u64() == Some(clock);
        floor = floor.max(if same && ledger.is_none() {
            version
        } else {
            version + 1
        });
    }
    if let Some(version) = ledger.and_then(read).and_then(|l| l["version"].as_u64()) {
        floor = floor.max(version + 1);
    }
    Ok(clock.max(floor))
}

/// Records the version, generation and clock of the bundle just packed.
fn record_pack(context: &Context, store: &Store, version: u64) -> Result<(), Failure> {
    let path = context.layout.last_pack();
    let generation = store.meta.current()?.map(|g| g.id);
    let clock = now()?.as_second().max(1) as u64;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::new(1, format!("cannot create {}: {e}", parent.display())))?;
    }
    let value = serde_json::json!({"version": version, "generation": generation, "clock": clock});
    airlift_core::write_file_durably(&path, value.to_string().as_bytes())
        .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", path.display())))
}

fn pack(context: &Context, args: PackArgs) -> Result<(), Failure> {
    if args.media.is_some() {
        let name = args.out.to_string_lossy();
        if !(name.ends_with(".tar") || name.ends_with(".tar.zst")) {
            return Err(Failure::input(
                "--media splits an archive: give --out a name ending in .tar or .tar.zst",
            ));
        }
    }
    let max_part_size = match (&args.media, &args.max_part_size) {
        (Some(media), _) => Some(media_size(media)?),
        (None, Some(size)) => Some(parse_size(size)?),
        (None, None) => None,
    };
    let ledger = args
        .destination
        .as_deref()
        .map(|d| ledger_path(context, d))
        .transpose()?;
    let mut omit = std::collections::BTreeSet::new();
    let mut delta_from = None;
    // The signed pack statement: which site, which number in its sequence,
    // which bundle it follows.
    let statement = match (&args.destination, &ledger) {
        (Some(destination), Some(path)) => {
            let previous: serde_json::Value = match std::fs::read(path) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .map_err(|e| Failure::new(1, format!("{}: {e}", path.display())))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Value::Null,
                Err(e) => {
                    return Err(Failure::new(
                        1,
                        format!("cannot read {}: {e}", path.display()),
                    ));
                }
            };
            let last = previous
                .get("sequence")
                .and_then(|s| s.as_u64())
                .unwrap_or(0);
            let (sequence, follows) = match args.sequence {
                None => (last + 1, previous.get("last_bundle").cloned()),
                Some(n) if n > last + 1 => {
                    return Err(Failure::input(format!(
                        "--sequence {n}: the ledger for {destination:?} is at {last}; only numbers up to {} can be packed",
                        last + 1
                    )));
                }
                Some(1) => (1, None),
                Some(n) => {
                    // The bundle that was number n-1 is the one the site
                    // last imported; the new bundle follows it.
                    let follows = previous["bundles"][(n - 1).to_string()].clone();
                    if follows.is_null() {
                        return Err(Failure::input(format!(
                            "--sequence {n}: the ledger for {destination:?} does not record which bundle was number {}",
                            n - 1
                        ))
                        .hint("pack it with `--full` and no --sequence for a new site, or re-initialize the site"));
                    }
                    (n, Some(follows))
                }
            };
            Some(serde_json::json!({
                "destination": destination,
                "sequence": sequence,
                "previous": follows,
                "created": now()?.to_string(),
            }))
        }
        _ => None,
    };
    if let Some(receipt) = &args.receipt {
        let text = std::fs::read(receipt)
            .map_err(|e| Failure::input(format!("cannot read {}: {e}", receipt.display())))?;
        let payload = airlift_audit::open_signed(&text).map_err(|e| {
            Failure::input(format!("{}: {e}", receipt.display()))
                .hint("make it with `airlift receipt export` on the isolated side")
        })?;
        if payload.get("format").and_then(|f| f.as_str()) != Some("airlift-receipt/1") {
            return Err(Failure::input(format!(
                "{}: not an airlift receipt (format airlift-receipt/1)",
                receipt.display()
            )));
        }
        omit = read_digests(&payload, receipt)?;
        delta_from = Some(format!("receipt {}", receipt.display()));
    } else if let Some(path) = ledger
        .as_ref()
        .filter(|p| p.exists() && !args.full && args.sequence.is_none())
    {
        let text = std::fs::read(path)
            .map_err(|e| Failure::new(1, format!("cannot read {}: {e}", path.display())))?;
        let value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| Failure::new(1, format!("{}: {e}", path.display())))?;
        omit = read_digests(&value, path)?;
        delta_from = Some(format!("ledger {}", path.display()));
    }
    let mut approvals = Vec::new();
    for path in &args.approved {
        let bytes = std::fs::read(path)
            .map_err(|e| Failure::input(format!("cannot read {}: {e}", path.display())))?;
        approvals.push(
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .map_err(|e| Failure::input(format!("{}: {e}", path.display())))?,
        );
    }
    if let Some(request) = approvals.first() {
        let approved = request["statement"]["destination"].as_str();
        if approved != args.destination.as_deref() {
            return Err(Failure::input(format!(
                "the approval request is for {}, this pack for {}: pack with the same --destination that was approved",
                approved.map_or_else(
                    || "no destination".to_owned(),
                    |d| format!("destination {d:?}")
                ),
                args.destination.as_deref().map_or_else(
                    || "no destination".to_owned(),
                    |d| format!("destination {d:?}")
                )
            )));
        }
    }
    let approval_request = {
        let mut name = args.out.as_os_str().to_owned();
        name.push(".approval.json");
        PathBuf::from(name)
    };
    let store = context.store()?;
    let version = match args.bundle_version {
        Some(version) => Some(version),
        None => Some(pack_version(context, &store, ledger.as_deref())?),
    };
    let options = PackOptions {
        approvals,
        approval_request: Some(approval_request),
        out: args.out,
        max_part_size,
        omit,
        statement: statement.clone(),
        now: now()?,
        version,
        valid_for: parse_duration(&args.valid_for)?,
        zstd_level: args.zstd_level,
        zstd_threads: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
    };
    let keys = SiteKeys::open(&context.layout.keys_dir())?;
    let report = airlift_bundle::pack(&store, &keys, &options, &context.bar())?;
    record_pack(context, &store, report.version)?;
    if let Some(path) = &ledger {
        // Everything the destination will have once it imports this bundle.
        let mut shipped = options.omit.clone();
        if let Some(generation) = store.meta.current()? {
            shipped.extend(
                store
                    .meta
                    .entries(generation.id, None)?
                    .iter()
                    .map(|e| e.digest),
            );
        }
        let sequence = report
            .statement
            .as_ref()
            .and_then(|s| s.get("sequence"))
            .and_then(|s| s.as_u64());
        // Which bundle had which number: a re-pack of number N follows the
        // bundle that was N-1. Numbers after a re-packed one are forgotten.
        let mut bundles = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("bundles").and_then(|b| b.as_object().cloned()))
                .unwrap_or_default(),
            Err(_) => serde_json::Map::new(),
        };
        if let Some(n) = sequence {
            bundles.retain(|k, _| k.parse::<u64>().is_ok_and(|k| k < n));
            bundles.insert(n.to_string(), serde_json::json!(report.bundle_id));
        }
        let value = serde_json::json!({
            "destination": args.destination,
            "updated": now()?.to_string(),
            "last_bundle": report.bundle_id,
            "version": report.version,
            "sequence": sequence,
            "bundles": bundles,
            "blobs": shipped.iter().map(airlift_core::Digest::hex).collect::<Vec<_>>(),
        });
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure::new(1, format!("cannot create {}: {e}", parent.display())))?;
        }
        airlift_core::write_file_durably(path, value.to_string().as_bytes())
            .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", path.display())))?;
    }
    context.audit(
        "pack",
        &serde_json::json!({
            "report": &report,
            "destination": args.destination,
            "delta_from": delta_from,
            "repacked_sequence": args.sequence,
        }),
    )?;
    // An importer removes what a bundle leaves out: say so when this
    // generation dropped entries of the one before it.
    let dropped = {
        let generations = store.meta.generations()?;
        match generations.as_slice() {
            [.., before, current] => {
                let now: std::collections::BTreeSet<(String, String)> = store
                    .meta
                    .entries(current.id, None)?
                    .into_iter()
                    .map(|e| (e.ecosystem, e.key))
                    .collect();
                store
                    .meta
                    .entries(before.id, None)?
                    .into_iter()
                    .filter(|e| !now.contains(&(e.ecosystem.clone(), e.key.clone())))
                    .count() as u64
            }
            _ => 0,
        }
    };
    let mut shown = serde_json::to_value(&report)
        .map_err(|e| Failure::new(1, format!("cannot encode JSON: {e}")))?;
    shown["dropped_entries"] = serde_json::json!(dropped);
    context.emit(&shown, || {
        let mut text = format!(
            "packed {} entries, {} blobs ({} bytes) into {} ({})\nbundle {} version {}, importable until {}",
            report.entries,
            report.blobs,
            report.blob_bytes,
            report.path.display(),
            report.form,
            report.bundle_id,
            report.version,
            report.expires
        );
        if report.omitted_blobs > 0 {
            text.push_str(&format!(
                "\ndelta: {} blobs ({} bytes) left out, the destination has them ({})",
                report.omitted_blobs,
                report.omitted_bytes,
                delta_from.as_deref().unwrap_or("")
            ));
        }
        for part in &report.parts {
            text.push_str(&format!("\n  {} {} bytes {}", part.name, part.size, part.sha256));
        }
        if dropped > 0 {
            text.push_str(&format!(
                "\nwarning: the store's current generation drops {dropped} entries of the one before; importing this bundle removes them (an import refuses to remove more than {}% unless given --allow-removals)",
                airlift_bundle::DEFAULT_MAX_REMOVAL_PERCENT
            ));
        }
        text
    })
}

fn import_options<'a>(
    context: &'a Context,
    trust: Option<&'a Path>,
    removals: airlift_bundle::RemovalPolicy,
) -> ImportOptions<'a> {
    ImportOptions {
        layout: &context.layout,
        trusted_root: trust,
        removals,
    }
}

fn verify(context: &Context, args: VerifyArgs) -> Result<(), Failure> {
    if !args.parts.is_empty() {
        let mut checked = Vec::new();
        for part in &args.parts {
            let name = part
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (stream, index) = name
                .rsplit_once(".part-")
                .and_then(|(stream, n)| Some((stream.to_owned(), n.parse::<usize>().ok()?)))
                .filter(|(_, n)| *n >= 1)
                .ok_or_else(|| {
                    Failure::input(format!(
                        "{} is not a part file (<name>.part-0001)",
                        part.display()
                    ))
                })?;
            let toc_file = part
                .parent()
                .unwrap_or(Path::new("."))
                .join(format!("{stream}.toc.json"));
            if !toc_file.is_file() {
                return Err(Failure::input(format!(
                    "{}: its table of contents {} is not next to it; copy the .toc.json too",
                    part.display(),
                    toc_file.display()
                )));
            }
            let toc = airlift_bundle::parts::read_toc(&toc_file)?;
            if index > toc.parts.len() {
                return Err(Failure::input(format!(
                    "{}: the table of contents lists {} parts",
                    part.display(),
                    toc.parts.len()
                )));
            }
            airlift_bundle::parts::verify_part(&toc_file, &toc, index - 1)?;
            checked.push(serde_json::json!({"part": part, "index": index, "of": toc.parts.len()}));
        }
        return context.emit(&checked, || {
            checked
                .iter()
                .map(|c| {
                    format!(
                        "OK: part {} of {} ({})",
                        c["index"],
                        c["of"],
                        c["part"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        });
    }
    let Some(bundle) = args.bundle else {
        return Err(Failure::input("give a bundle or --part"));
    };
    let store = context.store()?;
    let result = airlift_bundle::verify(
        &bundle,
        &store,
        &import_options(context, args.trust.as_deref(), Default::default()),
        &context.bar(),
    )?;
    context.emit(&result, || {
        format!(
            "OK: bundle {} version {} verified: {} targets, {} bytes, {} index entries; importable until {}{}",
            result.bundle_id,
            result.version,
            result.targets,
            result.bytes,
            result.entries,
            result.expires,
            if result.already_imported { " (already imported here)" } else { "" }
        )
    })
}

fn init(context: &Context, args: InitArgs) -> Result<(), Failure> {
    if let Some(site) = &args.site {
        // The same rule as --destination, which names it on the other side.
        ledger_path(context, site).map_err(|_| {
            Failure::input(format!(
                "--site {site:?}: use letters, digits, '-', '_' and '.'"
            ))
        })?;
    }
    let bytes = std::fs::read(&args.trust)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", args.trust.display())))?;
    let version = airlift_trust::verify::inspect_root(&args.trust)?;
    let target = context.layout.trusted_root();
    if let Ok(existing) = std::fs::read(&target) {
        if existing == bytes {
            name_site(context, &args)?;
            return context.emit(
                &serde_json::json!({"trusted_root": target, "version": version, "changed": false}),
                || format!("{} is already the trusted root", args.trust.display()),
            );
        }
        if !args.force {
            return Err(Failure::input(format!("a different root is already trusted in {}", target.display()))
                .hint("roots normally rotate through bundles; pass --force only to re-anchor trust deliberately"));
        }
        // The TUF client state (and any copy left by a crash) belongs to the old anchor.
        let stale_copy = context.layout.trust_dir().join("tuf.old");
        if stale_copy.exists() {
            std::fs::remove_dir_all(&stale_copy).map_err(|e| {
                Failure::new(1, format!("cannot reset {}: {e}", stale_copy.display()))
            })?;
        }
        let state = context.layout.tuf_state_dir();
        if state.exists() {
            std::fs::remove_dir_all(&state)
                .map_err(|e| Failure::new(1, format!("cannot reset {}: {e}", state.display())))?;
        }
    }
    airlift_core::write_file_durably(&target, &bytes)
        .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", target.display())))?;
    context.store()?;
    let detail = serde_json::json!({"trusted_root": target, "version": version, "changed": true});
    context.audit("trust-init", &detail)?;
    name_site(context, &args)?;
    context.emit(&detail, || {
        format!(
            "trusting root version {version} from {}",
            args.trust.display()
        )
    })
}

fn import(context: &Context, args: ImportArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let outcome = match airlift_bundle::import(
        &args.bundle,
        &store,
        &import_options(context, None, args.removals.policy()),
        &context.bar(),
    ) {
        Ok(outcome) => outcome,
        Err(e) => {
            let failure = Failure::from(e);
            context.audit(
                "import-rejected",
                &serde_json::json!({"bundle": args.bundle, "error": failure.message.clone()}),
            )?;
            return Err(failure);
        }
    };
    context.audit(
        "import",
        &serde_json::json!({"bundle": args.bundle, "outcome": &outcome}),
    )?;
    context.emit(&outcome, || match &outcome {
        ImportOutcome::Imported {
            bundle_id,
            version,
            generation,
            blobs_added,
            bytes_added,
            handoffs,
            handoffs_verified,
        } => {
            let mut text = format!(
                "imported bundle {bundle_id} version {version}: generation {} with {} entries is current ({blobs_added} new blobs, {bytes_added} bytes); `airlift serve` serves it from its next request",
                generation.id,
                generation.entries,
            );
            if !handoffs.is_empty() && !handoffs_verified {
                text.push_str("\n  hand-offs checked, but not who signed them: this site has no custody policy (`airlift custody policy`)");
            }
            for (i, h) in handoffs.iter().enumerate() {
                text.push_str(&format!(
                    "\n  hand-off {}: {} to {} at {}{}",
                    i + 1,
                    h.from,
                    h.to,
                    h.time,
                    if h.note.is_empty() { String::new() } else { format!(" ({})", h.note) }
                ));
            }
            text
        }
        ImportOutcome::AlreadyImported {
            bundle_id,
            version,
            blobs_restored: 0,
        } => format!("bundle {bundle_id} version {version} is already imported; nothing to do"),
        ImportOutcome::AlreadyImported {
            bundle_id,
            version,
            blobs_restored,
        } => format!("bundle {bundle_id} version {version} is already imported; restored {blobs_restored} missing blobs"),
    })
}

fn plan(context: &Context, args: BundleArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let plan = airlift_bundle::plan(
        &args.bundle,
        &store,
        &import_options(context, args.trust.as_deref(), args.removals.policy()),
        &context.bar(),
    )?;
    context.emit(&plan, || {
        let mut text = format!(
            "bundle {} version {}{}: {} to add, {} to change, {} to remove, {} unchanged; {} new blobs ({} bytes)",
            plan.bundle_id,
            plan.version,
            if plan.already_imported { " (already imported)" } else { "" },
            plan.added.len(),
            plan.changed.len(),
            plan.removed.len(),
            plan.unchanged,
            plan.new_blobs,
            plan.new_bytes
        );
        let note = |change: &airlift_bundle::PlanChange| {
            change.note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
        };
        for change in &plan.added {
            text.push_str(&format!("\n  + {}/{} {}{}", change.ecosystem, change.key, change.size, note(change)));
        }
        for change in &plan.changed {
            text.push_str(&format!("\n  ~ {}/{} {}{}", change.ecosystem, change.key, change.size, note(change)));
        }
        for change in &plan.removed {
            text.push_str(&format!("\n  - {}/{}", change.ecosystem, change.key));
        }
        for (i, h) in plan.handoffs.iter().enumerate() {
            text.push_str(&format!(
                "\n  hand-off {}: {} to {} at {}{}",
                i + 1,
                h.from,
                h.to,
                h.time,
                if plan.handoffs_verified { "" } else { " (signer not verified: no custody policy)" }
            ));
        }
        if let Some(reason) = &plan.removals.refused {
            text.push_str(&format!(
                "\nwarning: this import would be refused: {reason}\nhint: pass --allow-removals to import it anyway"
            ));
        }
        text
    })
}

#[allow(clippy::print_stderr)]
fn serve(context: &Context, args: ServeArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let uploads = context.layout.uploads_dir();
    let apt = airlift_apt::serve::Signer {
        key: apt_signing_key(context)?,
        valid_for: jiff::SignedDuration::from_hours(24 * i64::from(args.apt_valid_days)),
    };
    let log = std::sync::Arc::new(context.audit_log(Some(store.meta.clone())));
    let audit: airlift_oci::serve::AuditHook = std::sync::Arc::new(move |event, detail| {
        log.append(event, detail)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let services = airlift_server::Services {
        audit: Some(audit),
        apt: Some(std::sync::Arc::new(apt)),
        upload_expiry: Some(args.upload_expiry),
    };
    let limits = airlift_server::Limits {
        header_timeout: args.header_timeout,
        idle_timeout: args.idle_timeout,
        body_timeout: args.body_timeout,
        max_connections: args.max_connections as usize,
    };
    let runtime = runtime()?;
    let result = if args.tls {
        let config = airlift_tls::server_config(&context.layout.tls_dir()).map_err(|e| {
            Failure::input(e.to_string()).hint("run `airlift tls init --name <host>` first")
        })?;
        runtime.block_on(airlift_server::serve_tls(
            store,
            uploads,
            services,
            args.listen,
            limits,
            config,
            |address| announce(context.json, &format!("https://{address}")),
        ))
    } else {
        runtime.block_on(airlift_server::serve(
            store,
            uploads,
            services,
            args.listen,
            limits,
            |address| announce(context.json, &format!("http://{address}")),
        ))
    };
    result.map_err(|e| Failure::new(1, e.to_string()))
}

/// Says where the server listens, once it does: on stderr, or with
/// `--json` as one JSON line on stdout (`{"listening": URL}`) for scripts
/// and service managers to read.
#[allow(clippy::print_stderr)]
fn announce(json: bool, url: &str) {
    if json {
        let _ = print_line(&serde_json::json!({ "listening": url }).to_string());
    } else {
        eprintln!("airlift serving on {url}");
    }
}

#[derive(Serialize)]
struct TlsSummary {
    ca_certificate: PathBuf,
    server_certificate: PathBuf,
    names: Vec<String>,
}

fn tls_init(context: &Context, names: &[String]) -> Result<(), Failure> {
    let created = airlift_tls::init(&context.layout.tls_dir(), names, jiff::Timestamp::now())
        .map_err(|e| match e {
            airlift_tls::TlsError::Exists(_) | airlift_tls::TlsError::BadName(_) => {
                Failure::input(e.to_string())
            }
            _ => Failure::new(1, e.to_string()),
        })?;
    let summary = TlsSummary {
        ca_certificate: created.ca_certificate,
        server_certificate: created.server_certificate,
        names: created.names,
    };
    context.audit("tls-init", &summary)?;
    context.emit(&summary, || {
        format!(
            "created a site CA and a server certificate for {}\ndistribute {} to clients (docker: /etc/docker/certs.d/<host:port>/ca.crt), then run `airlift serve --tls`",
            summary.names.join(", "),
            summary.ca_certificate.display()
        )
    })
}

fn fsck(context: &Context, args: FsckArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let report = airlift_store::fsck(&store)?;
    if args.repair {
        for digest in &report.corrupt_blobs {
            store.blobs.remove(digest)?;
        }
    }
    context.emit(&report, || {
        let mut text = format!(
            "checked {} blobs ({} bytes) and {} index entries: {}",
            report.blobs_checked,
            report.bytes_checked,
            report.entries_checked,
            if report.is_clean() {
                "clean"
            } else {
                "PROBLEMS FOUND"
            }
        );
        for digest in &report.corrupt_blobs {
            let action = if args.repair { " (removed)" } else { "" };
            text.push_str(&format!("\n  corrupt blob {digest}{action}"));
        }
        for entry in &report.broken_entries {
            text.push_str(&format!("\n  broken entry {entry}"));
        }
        if report.unreferenced_blobs > 0 {
            text.push_str(&format!(
                "\n  {} unreferenced blobs (harmless)",
                report.unreferenced_blobs
            ));
        }
        text
    })?;
    if report.is_clean() {
        return Ok(());
    }
    let failure = Failure::new(5, "the store is damaged");
    let failure = if args.repair {
        failure.hint("the corrupt blobs were removed")
    } else {
        failure.hint("run `airlift fsck --repair` to remove the corrupt blobs first")
    };
    // A site that imports bundles gets the blobs back in a bundle packed
    // against its receipt: that works after deltas too, where importing the
    // last bundle again would not bring blobs that an earlier one carried
    // (and the earlier one is refused as a rollback).
    let imported = store
        .meta
        .state(airlift_store::state_keys::LAST_BUNDLE_ID)?
        .is_some();
    Err(if imported {
        let site = std::fs::read_to_string(context.layout.trust_dir().join("site-id"))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let destination = site
            .map(|s| format!(" --destination {s}"))
            .unwrap_or_default();
        failure
            .hint("here: `airlift receipt export --out receipt.json`, and carry receipt.json to the connected side")
            .hint(format!(
                "there: `airlift pack --receipt receipt.json{destination} --out repair.tar.zst`: a bundle with every blob this site lacks"
            ))
            .hint("here again: `airlift import repair.tar.zst`, then `airlift fsck`")
    } else {
        failure.hint("collect again: the blobs are downloaded again from their upstreams")
    })
}

#[derive(Serialize)]
struct ImageRow {
    repository: String,
    tag: Option<String>,
    digest: airlift_core::Digest,
    media_type: Option<String>,
    size: u64,
}

fn images(context: &Context) -> Result<(), Failure> {
    let store = context.store()?;
    let mut rows: Vec<ImageRow> = Vec::new();
    if let Some(generation) = store.meta.current()? {
        let entries = store
            .meta
            .entries(generation.id, Some(airlift_oci::ECOSYSTEM))?;
        let mut tagged = std::collections::BTreeSet::new();
        for entry in &entries {
            if let Some(rest) = entry.key.strip_prefix("t:")
                && let Some((repository, tag)) = rest.split_once(':')
            {
                tagged.insert((repository.to_owned(), entry.digest));
                rows.push(ImageRow {
                    repository: repository.to_owned(),
                    tag: Some(tag.to_owned()),
                    digest: entry.digest,
                    media_type: entry.meta["media_type"].as_str().map(str::to_owned),
                    size: entry.size,
                });
            }
        }
        for entry in &entries {
            if let Some(rest) = entry.key.strip_prefix("m:")
                && let Some((repository, _)) = rest.split_once('@')
                && !tagged.contains(&(repository.to_owned(), entry.digest))
            {
                rows.push(ImageRow {
                    repository: repository.to_owned(),
                    tag: None,
                    digest: entry.digest,
                    media_type: entry.meta["media_type"].as_str().map(str::to_owned),
                    size: entry.size,
                });
            }
        }
    }
    rows.sort_by(|a, b| (&a.repository, &a.tag).cmp(&(&b.repository, &b.tag)));
    context.emit(&rows, || {
        if rows.is_empty() {
            return "no container images are served here (collect [[oci]] images, import a bundle that carries some, or push one)".to_owned();
        }
        rows.iter()
            .map(|row| {
                format!(
                    "{}:{} {} {}",
                    row.repository,
                    row.tag.as_deref().unwrap_or("<none>"),
                    row.digest,
                    row.media_type.as_deref().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[derive(Serialize)]
struct ClientConfig {
    tool: &'static str,
    file: &'static str,
    content: String,
    environment: Vec<(String, String)>,
}

fn client_config(context: &Context, args: ClientConfigArgs) -> Result<(), Failure> {
    let url = url::Url::parse(&args.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            Failure::input(format!(
                "--url {:?} is not an http(s) URL such as https://airlift.example.com:8443",
                args.url
            ))
        })?;
    let base = url.as_str().trim_end_matches('/').to_owned();
    let index = format!("{base}/pypi/simple/");
    let ca = context.layout.tls_dir().join("ca.crt");
    let tls = url.scheme() == "https";
    let config = match args.tool {
        ClientTool::Pip => {
            let mut content = format!("[global]\nindex-url = {index}\n");
            if tls {
                content.push_str(&format!("cert = {}\n", ca.display()));
            }
            ClientConfig {
                tool: "pip",
                file: "pip.conf (~/.config/pip/pip.conf, or /etc/pip.conf for every user)",
                content,
                environment: vec![("PIP_INDEX_URL".into(), index.clone())],
            }
        }
        ClientTool::Cargo => {
            let mut content = format!(
                "[source.crates-io]\nreplace-with = \"airlift\"\n\n[source.airlift]\nregistry = \"sparse+{base}/cargo/index/\"\n"
            );
            if tls {
                content.push_str(&format!(
                    "\n[http]\ncainfo = \"{}\"\n",
                    toml_escape(&ca.display().to_string())
                ));
            }
            ClientConfig {
                tool: "cargo",
                file: "config.toml ($CARGO_HOME/config.toml, or .cargo/config.toml in a project)",
                content,
                environment: Vec::new(),
            }
        }
        ClientTool::Npm => {
            let registry = format!("{base}/npm/");
            let mut content = format!(
                "registry={registry}\n# lockfiles that name another registry are fetched from this one\nreplace-registry-host=always\n"
            );
            if tls {
                content.push_str(&format!("cafile={}\n", ca.display()));
            }
            ClientConfig {
                tool: "npm",
                file: ".npmrc (~/.npmrc, or the project's .npmrc)",
                content,
                environment: {
                    let mut env = vec![
                        ("npm_config_registry".into(), registry.clone()),
                        ("npm_config_replace_registry_host".into(), "always".into()),
                    ];
                    if tls {
                        env.push(("npm_config_cafile".into(), ca.display().to_string()));
                    }
                    env
                },
            }
        }
        ClientTool::Apt => {
            let store = context.store()?;
            let mut archives: std::collections::BTreeMap<String, (Vec<String>, Vec<String>)> =
                std::collections::BTreeMap::new();
            if let Some(generation) = store.meta.current()? {
                for entry in store
                    .meta
                    .entries(generation.id, Some(airlift_apt::ECOSYSTEM))?
                {
                    if let Some((archive, suite)) = entry.key.split_once("/dists/") {
                        let slot = archives.entry(archive.to_owned()).or_default();
                        slot.0.push(suite.to_owned());
                        for c in entry
                            .meta
                            .get("components")
                            .and_then(|c| c.as_array())
                            .into_iter()
                            .flatten()
                        {
                            if let Some(c) = c.as_str()
                                && !slot.1.iter().any(|x| x == c)
                            {
                                slot.1.push(c.to_owned());
                            }
                        }
                    }
                }
            }
            if archives.is_empty() {
                return Err(Failure::input(
                    "the current generation carries no apt archive; declare [[apt]] in airlift.toml, collect and import first",
                ));
            }
            let key = apt_signing_key(context)?;
            let signed_by = args.signed_by.display();
            let mut content = format!(
                "# the key: `airlift apt key --out {signed_by}` (fingerprint {})\n",
                key.fingerprint()
            );
            for (archive, (suites, components)) in &archives {
                content.push_str(&format!(
                    "\nTypes: deb\nURIs: {base}/apt/{archive}\nSuites: {}\nComponents: {}\nSigned-By: {signed_by}\n",
                    suites.join(" "),
                    components.join(" ")
                ));
            }
            if tls {
                content.push_str(&format!(
                    "# HTTPS: install {} as a CA (/usr/local/share/ca-certificates/airlift.crt, then update-ca-certificates)\n",
                    ca.display()
                ));
            }
            ClientConfig {
                tool: "apt",
                file: "/etc/apt/sources.list.d/airlift.sources",
                content,
                environment: Vec::new(),
            }
        }
        ClientTool::Uv => ClientConfig {
            tool: "uv",
            file: "uv.toml (~/.config/uv/uv.toml, or /etc/uv/uv.toml for every user)",
            content: format!("[[index]]\nname = \"airlift\"\nurl = \"{index}\"\ndefault = true\n"),
            environment: {
                let mut env = vec![("UV_DEFAULT_INDEX".into(), index.clone())];
                if tls {
                    env.push(("SSL_CERT_FILE".into(), ca.display().to_string()));
                }
                env
            },
        },
    };
    context.emit(&config, || {
        let mut text = format!("# {}\n{}", config.file, config.content);
        if !config.environment.is_empty() {
            text.push_str("# or, for one shell:\n");
        }
        for (key, value) in &config.environment {
            text.push_str(&format!("# export {key}={value}\n"));
        }
        text.trim_end().to_owned()
    })
}

/// A TOML basic-string body: backslash, quote and control characters escaped.
fn toml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `audit reset`: the one way back after an audit log was lost.
fn audit_reset(context: &Context, reason: &str) -> Result<(), Failure> {
    if reason.trim().is_empty() {
        return Err(Failure::input("--acknowledge needs a reason"));
    }
    let store = context.store()?;
    let Some(recorded) = store.meta.audit_head()? else {
        return Err(Failure::input(
            "the index records no audit log here; there is nothing to reset",
        ));
    };
    if context.audit_log(None).verify(&[]).is_ok() {
        return Err(Failure::input(format!(
            "the audit log is intact ({} entries, as the index records); there is nothing to reset",
            recorded.size
        )));
    }
    // The old log is evidence: kept aside, never deleted.
    let dir = context.layout.home().join("audit");
    let kept = context
        .layout
        .home()
        .join(format!("audit.reset-{}", now()?.as_second()));
    let moved = match std::fs::rename(&dir, &kept) {
        Ok(()) => Some(kept),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Failure::new(
                1,
                format!("cannot move {} to {}: {e}", dir.display(), kept.display()),
            ));
        }
    };
    store.meta.clear_audit_head(&recorded)?;
    let detail = serde_json::json!({
        "reason": reason,
        "previous_entries": recorded.size,
        "previous_root": recorded.root,
        "kept": moved,
    });
    context.audit("audit-reset", &detail)?;
    context.emit(&detail, || {
        format!(
            "started a new audit log; the index had recorded {} entries{}; the reset is its first event",
            recorded.size,
            moved
                .as_ref()
                .map(|p| format!(", the old log is kept in {}", p.display()))
                .unwrap_or_default()
        )
    })
}

fn audit(context: &Context, command: AuditCommand) -> Result<(), Failure> {
    let log = context.audit_log(None);
    let tampered = |e: airlift_audit::AuditError| {
        match e {
        // Not tampering: the signed history is intact and the next append
        // repairs the log, so it is not reported with the tampering code.
        airlift_audit::AuditError::Interrupted { .. } => Failure::new(1, e.to_string()).hint(
            "not tampering: an append was cut short (a full disk, a crash); the next recorded event repairs the log after an `audit-recovered` entry",
        ),
        airlift_audit::AuditError::Witness { .. } => Failure::new(1, e.to_string())
            .hint("the index database holds the audit log's head; check <home>/store/index.sqlite"),
        e => Failure::new(3, e.to_string()).hint(
            "the audit log does not match its signed checkpoints or the index's record of it; keep the home as it is for investigation",
        ),
    }
    };
    match command {
        AuditCommand::Verify { checkpoints } => {
            let mut earlier = Vec::new();
            for path in &checkpoints {
                earlier.push(
                    std::fs::read_to_string(path).map_err(|e| {
                        Failure::input(format!("cannot read {}: {e}", path.display()))
                    })?,
                );
            }
            let verified = log.verify(&earlier).map_err(tampered)?;
            context.emit(&verified, || {
                format!(
                    "audit log intact: {} entries, tree head {}{}",
                    verified.entries,
                    verified.root,
                    if verified.earlier_checkpoints > 0 {
                        format!(
                            ", consistent with {} earlier checkpoint(s)",
                            verified.earlier_checkpoints
                        )
                    } else {
                        String::new()
                    }
                )
            })
        }
        AuditCommand::Export => {
            let events = log.events().map_err(tampered)?;
            let checkpoint = log.checkpoint().map_err(tampered)?;
            let key = log.verifier_key().map_err(tampered)?;
            context.emit(
                &serde_json::json!({"entries": events, "checkpoint": checkpoint, "verifier_key": key}),
                || {
                    events
                        .iter()
                        .map(|e| format!("{} {} {} {}", e.index, e.time, e.event, e.detail))
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            )
        }
        AuditCommand::Checkpoint => {
            let checkpoint = log.checkpoint().map_err(tampered)?.ok_or_else(|| {
                Failure::input("the audit log is empty; nothing has been recorded yet")
            })?;
            context.emit(&serde_json::json!({"checkpoint": checkpoint}), || {
                checkpoint.trim_end().to_owned()
            })
        }
        AuditCommand::Reset { acknowledge } => audit_reset(context, &acknowledge),
    }
}

/// The site's apt signing key, made (and audited) on first use.
fn apt_signing_key(context: &Context) -> Result<airlift_pgp::SigningKey, Failure> {
    let trust = context.layout.trust_dir();
    let site = std::fs::read_to_string(trust.join("site-id"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let (key, created) = airlift_apt::key::load_or_create(&trust, site.as_deref())
        .map_err(|e| Failure::new(1, e.to_string()))?;
    if created {
        context.audit(
            "apt-key-created",
            &serde_json::json!({"fingerprint": key.fingerprint()}),
        )?;
    }
    Ok(key)
}

fn apt_key(context: &Context, out: Option<&Path>, binary: bool) -> Result<(), Failure> {
    let key = apt_signing_key(context)?;
    let bytes = if binary {
        key.public_key()
    } else {
        key.public_key_armored().into_bytes()
    };
    match out {
        Some(path) => {
            airlift_core::write_file_durably(path, &bytes)
                .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", path.display())))?;
            context.emit(
                &serde_json::json!({"fingerprint": key.fingerprint(), "out": path}),
                || {
                    format!(
                        "wrote the apt signing key {} to {}",
                        key.fingerprint(),
                        path.display()
                    )
                },
            )
        }
        None if binary => {
            use std::io::Write as _;
            std::io::stdout()
                .write_all(&bytes)
                .map_err(|e| Failure::new(1, format!("cannot write the key: {e}")))
        }
        None => context.emit(
            &serde_json::json!({"fingerprint": key.fingerprint(), "key": key.public_key_armored()}),
            || key.public_key_armored().trim_end().to_owned(),
        ),
    }
}

fn receipt_export(context: &Context, out: &Path) -> Result<(), Failure> {
    let store = context.store()?;
    let blobs: Vec<String> = store
        .blobs
        .list()?
        .iter()
        .map(airlift_core::Digest::hex)
        .collect();
    let payload = serde_json::json!({
        "format": "airlift-receipt/1",
        "created": now()?.to_string(),
        "last_bundle": store.meta.state(airlift_store::state_keys::LAST_BUNDLE_ID)?,
        "last_bundle_version": store.meta.state(airlift_store::state_keys::LAST_BUNDLE_VERSION)?,
        "blobs": blobs,
    });
    let signed = airlift_audit::Log::new(context.layout.home())
        .sign(&payload)
        .map_err(|e| Failure::new(1, e.to_string()))?;
    if out.exists() {
        return Err(Failure::input(format!("{} already exists", out.display())));
    }
    airlift_core::write_file_durably(out, &signed)
        .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", out.display())))?;
    context.audit(
        "receipt-export",
        &serde_json::json!({"out": out, "blobs": blobs.len()}),
    )?;
    context.emit(&serde_json::json!({"receipt": out, "blobs": blobs.len()}), || {
        format!(
            "wrote a receipt of {} blobs to {}; carry it to the connected side for `airlift pack --receipt`",
            blobs.len(),
            out.display()
        )
    })
}

/// Names the isolated site (`init --site`), once its root is trusted.
fn name_site(context: &Context, args: &InitArgs) -> Result<(), Failure> {
    let Some(site) = &args.site else {
        return Ok(());
    };
    let path = context.layout.trust_dir().join("site-id");
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing.trim() == site => return Ok(()),
        Ok(existing) if !args.force => {
            return Err(Failure::input(format!(
                "this site is already named {:?}; use --force to rename it",
                existing.trim()
            )));
        }
        _ => {}
    }
    std::fs::create_dir_all(context.layout.trust_dir()).map_err(|e| {
        Failure::new(
            1,
            format!(
                "cannot create {}: {e}",
                context.layout.trust_dir().display()
            ),
        )
    })?;
    airlift_core::write_file_durably(&path, format!("{site}\n").as_bytes())
        .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", path.display())))?;
    context.audit("site-name", &serde_json::json!({"site": site}))
}

/// Entries and bytes of one ecosystem.
#[derive(Default, Serialize)]
struct EcosystemStatus {
    entries: u64,
    bytes: u64,
}

/// What `airlift status` reports.
#[derive(Serialize)]
struct Status {
    home: PathBuf,
    site: Option<String>,
    generation: Option<airlift_store::Generation>,
    ecosystems: std::collections::BTreeMap<String, EcosystemStatus>,
    last_import: Option<serde_json::Value>,
    trusted_root: Option<serde_json::Value>,
    last_bundle_expires: Option<String>,
    disk: Option<serde_json::Value>,
}

fn status(context: &Context) -> Result<(), Failure> {
    let store = context.store()?;
    let generation = store.meta.current()?;
    let mut ecosystems = std::collections::BTreeMap::<String, EcosystemStatus>::new();
    if let Some(current) = &generation {
        for entry in store.meta.entries(current.id, None)? {
            let counted = ecosystems.entry(entry.ecosystem).or_default();
            counted.entries += 1;
            counted.bytes += entry.size;
        }
    }
    let state = |key: &str| store.meta.state(key);
    let last_import = match state(airlift_store::state_keys::LAST_BUNDLE_ID)? {
        Some(bundle) => Some(serde_json::json!({
            "bundle": bundle,
            "version": state(airlift_store::state_keys::LAST_BUNDLE_VERSION)?
                .and_then(|v| v.parse::<u64>().ok()),
            "at": state(airlift_store::state_keys::LAST_IMPORT_AT)?
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(|s| jiff::Timestamp::from_second(s).ok())
                .map(|t| t.to_string()),
            "sequence": state(airlift_store::state_keys::LAST_SEQUENCE)?
                .and_then(|v| v.parse::<u64>().ok()),
        })),
        None => None,
    };
    let read_json = |path: &Path| -> Option<serde_json::Value> {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
    };
    // The newest root the TUF client holds, else the one `init` trusted.
    let root = read_json(&context.layout.tuf_state_dir().join("root.json"))
        .or_else(|| read_json(&context.layout.trusted_root()));
    let trusted_root = root.map(|r| {
        serde_json::json!({
            "version": r["signed"]["version"],
            "expires": r["signed"]["expires"],
        })
    });
    let last_bundle_expires = read_json(&context.layout.tuf_state_dir().join("timestamp.json"))
        .and_then(|t| t["signed"]["expires"].as_str().map(str::to_owned));
    let site = std::fs::read_to_string(context.layout.trust_dir().join("site-id"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let disk = rustix::fs::statvfs(context.layout.home()).ok().map(|v| {
        serde_json::json!({
            "free_bytes": v.f_bavail.saturating_mul(v.f_frsize),
            "total_bytes": v.f_blocks.saturating_mul(v.f_frsize),
        })
    });
    let report = Status {
        home: context.layout.home().to_path_buf(),
        site,
        generation,
        ecosystems,
        last_import,
        trusted_root,
        last_bundle_expires,
        disk,
    };
    context.emit(&report, || {
        let mut lines = vec![format!("home: {}", report.home.display())];
        if let Some(site) = &report.site {
            lines.push(format!("site: {site}"));
        }
        match &report.generation {
            None => lines.push("generation: none yet (collect or import a bundle first)".into()),
            Some(g) => {
                lines.push(format!(
                    "generation {} ({}), {} entries",
                    g.id, g.source, g.entries
                ));
                for (name, counted) in &report.ecosystems {
                    lines.push(format!(
                        "  {name}: {} entries, {} bytes",
                        counted.entries, counted.bytes
                    ));
                }
            }
        }
        if let Some(last) = &report.last_import {
            lines.push(format!(
                "last import: bundle {} version {} at {}{}",
                last["bundle"].as_str().unwrap_or("?"),
                last["version"],
                last["at"].as_str().unwrap_or("?"),
                last["sequence"]
                    .as_u64()
                    .map(|s| format!(" (sequence {s})"))
                    .unwrap_or_default()
            ));
        }
        if let Some(root) = &report.trusted_root {
            lines.push(format!(
                "trusted root: version {}, expires {}",
                root["version"],
                root["expires"].as_str().unwrap_or("?")
            ));
        }
        if let Some(expires) = &report.last_bundle_expires {
            lines.push(format!("last bundle expires: {expires}"));
        }
        if let Some(disk) = &report.disk {
            lines.push(format!(
                "disk: {} bytes free of {}",
                disk["free_bytes"], disk["total_bytes"]
            ));
        }
        lines.join("\n")
    })
}

/// A commented airlift.toml with every table, for a new connected side.
const TEMPLATE: &str = include_str!("template.toml");

fn template() -> Result<(), Failure> {
    print_line(TEMPLATE.trim_end())
}

#[cfg(test)]
mod tests {
    /// `airlift template` must print a configuration that airlift reads,
    /// with every table in it.
    #[test]
    fn the_template_parses_and_has_every_table() {
        let config =
            airlift_config::Config::parse(std::path::Path::new("airlift.toml"), super::TEMPLATE)
                .unwrap_or_else(|e| panic!("the template does not parse: {e}"));
        assert!(!config.files.is_empty());
        assert!(!config.oci.is_empty());
        assert!(config.pypi.is_some());
        assert!(config.cargo.is_some());
        assert!(config.npm.is_some());
        assert!(!config.apt.is_empty());
    }
}
