//! One function per command: parse inputs, call one operation, render.
#![allow(clippy::print_stdout)]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlift_bundle::{ImportOptions, ImportOutcome, PackOptions};
use airlift_config::Config;
use airlift_ecosystem::Registry;
use airlift_fetch::{FetchOptions, Fetcher};
use airlift_store::layout::Layout;
use airlift_store::{NewGeneration, Store};
use airlift_trust::SiteKeys;
use serde::Serialize;

use crate::cli::{
    ApproveArgs, AptCommand, AuditCommand, BundleArgs, Cli, ClientConfigArgs, CollectArgs, Command,
    CustodyCommand, FsckArgs, GcArgs, ImportArgs, InitArgs, KeysCommand, PackArgs, ReceiptCommand,
    SbomArgs, ServeArgs, TlsCommand, VerifyArgs,
};
use crate::failure::{Exit, Failure};
use crate::progress::Bar;

mod access;
mod admission;
mod apt;
mod audit;
mod client_config;
mod collect;
mod custody;
mod drift;
mod env;
mod fsck;
mod gc;
mod image;
mod images;
mod import_;
mod init;
mod keys;
mod pack;
mod receipt;
mod report;
mod sbom;
mod scan;
mod serve;
mod staleness;
mod status;
mod template;
mod tls;
mod verify;

use self::access::*;
use self::admission::*;
use self::apt::*;
use self::audit::*;
use self::client_config::*;
use self::collect::*;
use self::custody::*;
use self::drift::*;
use self::env::*;
use self::fsck::*;
use self::gc::*;
use self::image::*;
use self::images::*;
use self::import_::*;
use self::init::*;
use self::keys::*;
use self::pack::*;
use self::receipt::*;
use self::report::*;
use self::sbom::*;
use self::scan::*;
use self::serve::*;
use self::staleness::*;
use self::status::*;
use self::template::*;
use self::tls::*;
use self::verify::*;

/// Writes `bytes` to `path` durably, replacing it; a failure names the
/// path.
pub(crate) fn write_output(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    airlift_core::write_file_durably(path, bytes).map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot write {}: {e}", path.display()),
        )
    })
}

/// The generation `store` serves, or the failure that says there is none
/// yet, with `hint` (what to do first).
pub(crate) fn current_generation(
    store: &Store,
    hint: &str,
) -> Result<airlift_store::Generation, Failure> {
    store.meta.current()?.ok_or_else(|| {
        Failure::new(Exit::Failed, "this home has no generation yet").hint(hint.to_owned())
    })
}

/// Where a command's output goes: standard output, or a buffer (tests
/// that run commands in-process).
pub type Output = Option<Arc<std::sync::Mutex<Vec<u8>>>>;

struct Context {
    layout: Layout,
    json: bool,
    ecosystems: Arc<Registry>,
    out: Output,
}

impl Context {
    /// What access rules and token scopes may name: every ecosystem, and
    /// the web UI (ADR 0028).
    fn access_names(&self) -> Vec<&str> {
        self.ecosystems
            .iter()
            .map(|e| e.name())
            .chain([airlift_server::UI_ACCESS_NAME])
            .collect()
    }

    fn store(&self) -> Result<Store, Failure> {
        Store::open_embedded(self.layout.home()).map_err(|e| {
            Failure::new(Exit::Failed, e.to_string()).hint(format!(
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
                .map_err(|e| Failure::new(Exit::Failed, format!("cannot encode JSON: {e}")))?;
            self.print_line(&text)?;
        } else {
            let text = human();
            if !text.is_empty() {
                self.print_line(&text)?;
            }
        }
        Ok(())
    }

    /// Writes one line to standard output. A reader that went away
    /// (`airlift plan … | head`) ends the program quietly, as `cat` would;
    /// other errors are reported.
    fn print_line(&self, text: &str) -> Result<(), Failure> {
        use std::io::Write as _;
        if let Some(buffer) = &self.out {
            let mut buffer = buffer
                .lock()
                .map_err(|_| Failure::new(Exit::Failed, "the output buffer is poisoned"))?;
            buffer.extend_from_slice(text.as_bytes());
            buffer.push(b'\n');
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        match writeln!(out, "{text}").and_then(|()| out.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            Err(e) => Err(Failure::new(
                Exit::Failed,
                format!("cannot write to standard output: {e}"),
            )),
        }
    }
}

impl Context {
    /// The site's access rules file, `<home>/access.toml`, when it exists.
    fn access_file(&self) -> std::path::PathBuf {
        self.layout.home().join("access.toml")
    }

    /// Parses the access rules in `file`.
    fn access_rules(&self, file: &Path) -> Result<airlift_access::Policy, Failure> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Failure::input(format!(
                "cannot read the access rules {}: {e}",
                file.display()
            ))
        })?;
        let names = self.access_names();
        airlift_access::Policy::parse(file, &text, &names)
            .map_err(|e| Failure::input(e.to_string()).hint("see docs/reference/access.md"))
    }

    /// Which entries are hosted content, by the site's `[[hosted]]` rules
    /// (none without an access file or without such rules).
    fn hosted(&self) -> Result<Option<airlift_bundle::Hosted>, Failure> {
        let file = self.access_file();
        if !file.exists() {
            return Ok(None);
        }
        let policy = self.access_rules(&file)?;
        if !policy.has_hosted() {
            return Ok(None);
        }
        let ecosystems = self.ecosystems.clone();
        Ok(Some(airlift_bundle::Hosted(Arc::new(
            move |entry: &airlift_store::Entry| {
                ecosystems
                    .iter()
                    .find(|e| e.name() == entry.ecosystem)
                    .and_then(|e| e.entry_name(entry))
                    .is_some_and(|name| policy.is_hosted(&entry.ecosystem, &name))
            },
        ))))
    }

    /// Appends an event to the home's audit log. The action it records has
    /// already happened; a failure here says so.
    fn audit<T: Serialize>(&self, event: &str, detail: &T) -> Result<(), Failure> {
        let detail = serde_json::to_value(detail).map_err(|e| {
            Failure::new(Exit::Failed, format!("cannot encode the audit entry: {e}"))
        })?;
        self.audit_log(None)
            .append(event, detail)
            .map(|_| ())
            .map_err(|e| {
                Failure::new(
                    Exit::Failed,
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

/// Runs one command with the registered `ecosystems`, printing to
/// standard output, or into `out` when given.
pub fn run(cli: Cli, ecosystems: Arc<Registry>, out: Output) -> Result<(), Failure> {
    let home = match cli.home {
        Some(home) => home,
        None => default_home()?,
    };
    let context = Context {
        layout: Layout::new(&home),
        json: cli.json,
        ecosystems,
        out,
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
        Command::Tls(TlsCommand::ClientCert {
            name,
            user,
            out,
            days,
        }) => tls_client_cert(&context, &name, &user, &out, days),
        Command::Tls(TlsCommand::RevokeClientCert { fingerprint }) => {
            tls_revoke_client_cert(&context, &fingerprint)
        }
        Command::Pack(args) => pack(&context, args),
        Command::Verify(args) => verify(&context, args),
        Command::Init(args) => init(&context, args),
        Command::Import(args) => import(&context, args),
        Command::Plan(args) => plan(&context, args),
        Command::Serve(args) => serve(&context, args),
        Command::Images => images(&context),
        Command::Status => status(&context),
        Command::Template => template(&context),
        Command::Sbom(args) => sbom(&context, args),
        Command::Scan(args) => scan(&context, args),
        Command::Drift(args) => drift(&context, args),
        Command::Report(args) => report(&context, args),
        Command::User(command) => user(&context, command),
        Command::Token(command) => token(&context, command),
        Command::Fsck(args) => fsck(&context, args),
        Command::Gc(args) => gc(&context, args),
        Command::ClientConfig(args) => client_config(&context, args),
        Command::Audit(command) => audit(&context, command),
        Command::Receipt(ReceiptCommand::Export { out }) => receipt_export(&context, &out),
        Command::Wanted(args) => wanted(&context, &args.receipt),
        Command::Apt(AptCommand::Key { out, binary }) => apt_key(&context, out.as_deref(), binary),
        Command::Env(command) => env(&context, command),
        Command::Promote(args) => promote(&context, args),
        Command::Rollback(args) => rollback(&context, args),
    }
}

/// The home's writer lock (`<quarantine>/.lock`, the file `import` and
/// `verify` lock too), taken without waiting: `collect` holds it while it
/// runs and `gc` while it collects garbage, so that neither sweeps blobs
/// the other has stored but not yet committed. `who` names the command in
/// the refusal.
fn home_lock(layout: &Layout, who: &str) -> Result<std::fs::File, Failure> {
    let dir = layout.quarantine_dir();
    std::fs::create_dir_all(&dir).map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot create {}: {e}", dir.display()),
        )
    })?;
    let path = dir.join(".lock");
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot open {}: {e}", path.display())))?;
    file.try_lock().map_err(|_| {
        Failure::new(
            Exit::Failed,
            format!(
                "an import, verify, collect or gc holds {}: {who} cannot run beside it",
                path.display()
            ),
        )
        .hint("run it again when the other command is done")
    })?;
    Ok(file)
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
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot start the async runtime: {e}")))
}
