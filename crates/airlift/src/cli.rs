//! Command-line definition.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Carry software across an air gap and serve it on the other side.
#[derive(Debug, Parser)]
#[command(name = "airlift", version, about, propagate_version = true)]
pub struct Cli {
    /// Directory holding all state (store, keys, trust). Default: $XDG_DATA_HOME/airlift.
    #[arg(long, global = true, env = "AIRLIFT_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Print results as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log progress details to stderr.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// How logs on stderr are written: `text` for people, `json` (one
    /// object a line, with the request's id and fields) for Loki or ELK.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "AIRLIFT_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// The formats of the logs on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object a line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch everything declared in airlift.toml into the store (connected side).
    Collect(CollectArgs),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the site's TLS certificate authority and server certificate.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Write a signed bundle of the store's current generation (connected side).
    Pack(PackArgs),
    /// Run every check an import does, without importing (or check parts
    /// of a split bundle on their own, as soon as each is copied).
    Verify(VerifyArgs),
    /// Trust a root of signing keys (isolated side, once).
    Init(InitArgs),
    /// Verify a bundle and, only if everything checks out, import it (isolated side).
    Import(ImportArgs),
    /// Show what importing a bundle would add, change and remove.
    Plan(BundleArgs),
    /// Serve the current generation over HTTP.
    Serve(ServeArgs),
    /// List container image repositories, tags and manifest digests being served.
    Images,
    /// What this home holds and serves: generation, last import, entries and
    /// bytes per ecosystem, trust expiry dates, disk free.
    Status,
    /// Print a commented airlift.toml that shows every table (connected side).
    Template,
    /// Write a software bill of materials (CycloneDX or SPDX JSON) of every
    /// package in the current generation.
    Sbom(SbomArgs),
    /// Match every package of the current generation, or of host
    /// inventories, against the advisory database the generation carries.
    Scan(ScanArgs),
    /// Does what this site serves still match what was signed and carried
    /// in? Integrity against the last bundle's signed metadata, and what no
    /// imported bundle accounts for (provenance).
    Drift(DriftArgs),
    /// Write an auditor's report: one self-contained HTML page and the same
    /// data as JSON (bundles and custody, the audit log, packages, findings,
    /// drift).
    Report(ReportArgs),
    /// The server's users (isolated side): who may log in, and their groups.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens for the server's users: scoped, expiring, revocable.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Re-hash every blob and check every entry of the current generation.
    Fsck(FsckArgs),
    /// Remove old generations from the index, the blobs no kept generation
    /// references, and expired upload sessions.
    Gc(GcArgs),
    /// Print the configuration that points a client tool at this server.
    ClientConfig(ClientConfigArgs),
    /// Verify or export the tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Inventories for delta bundles (isolated side).
    #[command(subcommand)]
    Receipt(ReceiptCommand),
    /// What the isolated side asked for and did not carry, from its signed
    /// receipt (`airlift receipt export`), as `airlift.toml` lines to
    /// review (connected side).
    Wanted(WantedArgs),
    /// The apt repositories this server publishes.
    #[command(subcommand)]
    Apt(AptCommand),
    /// Sign an approval request or a pending root with one approver's key.
    Approve(ApproveArgs),
    /// The chain of custody: signed hand-off statements next to a bundle,
    /// and the isolated side's policy for them.
    #[command(subcommand)]
    Custody(CustodyCommand),
    /// Environments: names pinned to generations, served under
    /// `/env/<name>/` (isolated side).
    #[command(subcommand)]
    Env(EnvCommand),
    /// Show what moving an environment to another's generation changes,
    /// then move it (with approvals when the environment needs them).
    Promote(PromoteArgs),
    /// Move an environment back to the generation it served before, or to
    /// any retained one.
    Rollback(RollbackArgs),
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Create an environment pinned to the current generation (or `--at`).
    Create {
        /// Its name: lowercase letters, digits, '-' and '_'.
        name: String,
        /// Pin it to this retained generation instead of the current one.
        #[arg(long, value_name = "GENERATION")]
        at: Option<u64>,
        /// Promotions into it need this many approvals, signed with
        /// `airlift approve` by keys of the trusted root's targets role.
        #[arg(long, default_value_t = 0, value_name = "K")]
        approvals: u32,
    },
    /// List the environments: generation, when and by whom moved, history.
    List,
    /// Delete an environment (its generations are no longer kept for it).
    Delete {
        /// The environment.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment whose generation to promote; `default` is the
    /// current generation, which every import moves.
    #[arg(long, default_value = "default", value_name = "ENV")]
    pub from: String,
    /// The environment to move.
    #[arg(long, value_name = "ENV", required_unless_present = "approved")]
    pub to: Option<String>,
    /// Show the preview only; move nothing.
    #[arg(long, conflicts_with_all = ["request", "approved"])]
    pub dry_run: bool,
    /// Write a promotion request to FILE for approvers (`airlift approve
    /// FILE --key …`) instead of moving.
    #[arg(long, value_name = "FILE", conflicts_with = "approved")]
    pub request: Option<PathBuf>,
    /// Move as an approved request says, once it carries enough
    /// approvals.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["from", "to"])]
    pub approved: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The environment.
    pub name: String,
    /// Move it to this retained generation instead of the one before.
    #[arg(long, value_name = "GENERATION")]
    pub to: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. Without `--password-stdin` it has no password and logs
    /// in only with tokens (`airlift token create`).
    Add {
        /// Its name: letters, digits, '.', '_' or '-'.
        name: String,
        /// A group it belongs to (`@group` in access rules); repeatable.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// Read its password (at least 12 characters) from the first line
        /// of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password from the first line of standard input, or
    /// remove it with `--none`.
    Password {
        /// The user.
        name: String,
        /// Remove the password: the user logs in only with tokens.
        #[arg(long)]
        none: bool,
    },
    /// Remove a user and revoke its tokens.
    Remove {
        /// The user.
        name: String,
    },
    /// List the users.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it once; only its hash is kept.
    Create {
        /// Its name, for listing and revoking.
        name: String,
        /// The user it acts as.
        #[arg(long, value_name = "USER")]
        user: String,
        /// What it is limited to, `ECOSYSTEM:NAMES:ACTIONS` (such as
        /// `oci:team/*:read,write` or `*:*:read`); repeatable. Without
        /// one it may do everything its user may.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// When it stops working: an age with `h` or `d` (`90d`), or `never`.
        #[arg(long, value_name = "AGE", default_value = "90d", value_parser = parse_token_expiry)]
        expires: TokenExpiry,
    },
    /// Revoke a token: it stops working within a second on every server.
    Revoke {
        /// The token's name.
        name: String,
    },
    /// List the tokens (never their secrets).
    List,
}

/// A token's lifetime; `None` for one that never expires.
#[derive(Clone, Copy, Debug)]
pub struct TokenExpiry(pub Option<std::time::Duration>);

/// Parses a token lifetime: `never`, or a whole number of hours or days
/// up to ten years.
fn parse_token_expiry(text: &str) -> Result<TokenExpiry, String> {
    if text == "never" {
        return Ok(TokenExpiry(None));
    }
    let units = [("h", 3_600_000), ("d", 86_400_000)];
    match duration_millis(text, &units) {
        Ok(millis @ 3_600_000..=315_360_000_000) => {
            Ok(TokenExpiry(Some(std::time::Duration::from_millis(millis))))
        }
        Err(DurationError::NoNumber) => {
            Err(format!("{text:?} is neither `never` nor a whole number"))
        }
        Err(DurationError::Unit(other)) => Err(format!("unknown unit {other:?} (use h or d)")),
        Ok(_) | Err(DurationError::TooLarge) => {
            Err(format!("{text:?} is not between 1h and 3650d"))
        }
    }
}

#[derive(Debug, Args)]
pub struct SbomArgs {
    /// The document format.
    #[arg(long, value_enum, default_value_t = SbomFormat::Cyclonedx)]
    pub format: SbomFormat,
    /// Write it to this file (and print a summary) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The packages installed inside this image instead of the generation:
    /// `repo:tag`, `repo@sha256:…` or `repo` (`:latest`) of the current
    /// generation, or an OCI image layout directory, `oci-layout:DIR[:TAG]`.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// The platform to pick from a multi-platform image (default linux/amd64).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", requires = "image")]
    pub platform: Option<String>,
    /// The packages a bundle would serve, before it is imported (verified
    /// first, as `plan` does).
    #[arg(long, value_name = "BUNDLE", conflicts_with = "image")]
    pub bundle: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The directory to write report.html and report.json into (created
    /// if needed; the two files are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Do not re-hash the served blobs for the drift section.
    #[arg(long)]
    pub no_rehash: bool,
    /// Compare what a host runs with what the site serves, for the hosts
    /// section (the formats of `drift --inventory`); repeatable.
    #[arg(long = "inventory", value_name = "FILE")]
    pub inventory: Vec<PathBuf>,
    /// The distribution a dpkg status file or apk database of
    /// `--inventory` comes from (debian:12, alpine:3.20).
    #[arg(long, value_name = "ID:VERSION", requires = "inventory")]
    pub distro: Option<String>,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Do not re-hash the blobs the current generation serves (the
    /// comparison with the signed metadata still runs).
    #[arg(long)]
    pub no_rehash: bool,
    /// Also compare what a host runs with what the site serves (the
    /// formats of `scan --inventory`); repeatable.
    #[arg(long = "inventory", value_name = "FILE")]
    pub inventory: Vec<PathBuf>,
    /// The distribution a dpkg status file or apk database of
    /// `--inventory` comes from (debian:12, alpine:3.20).
    #[arg(long, value_name = "ID:VERSION", requires = "inventory")]
    pub distro: Option<String>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Scan a bundle before it is imported: its packages, against the
    /// advisory database it carries (or, when it carries none, the
    /// site's). The bundle is verified first, as `plan` does.
    #[arg(long, value_name = "BUNDLE", conflicts_with_all = ["inventory", "image"])]
    pub bundle: Option<PathBuf>,
    /// Scan what a host runs instead of the generation: a dpkg status
    /// file, an apk database, `pip inspect` or `pip freeze` output (or a
    /// requirements.txt pinned with ==), `npm ls --json`, a
    /// package-lock.json, a Cargo.lock, a go.mod or a CycloneDX JSON SBOM;
    /// repeatable.
    #[arg(long = "inventory", value_name = "FILE")]
    pub inventory: Vec<PathBuf>,
    /// The distribution a dpkg status file or apk database of
    /// `--inventory` comes from, as ID:VERSION (debian:12, ubuntu:24.04,
    /// alpine:3.20); without it their packages are not matched.
    #[arg(long, value_name = "ID:VERSION", requires = "inventory")]
    pub distro: Option<String>,
    /// Scan the packages installed inside this image instead: `repo:tag`,
    /// `repo@sha256:…` or `repo` (`:latest`) of the current generation, or
    /// an OCI image layout directory, `oci-layout:DIR[:TAG]`.
    #[arg(long, value_name = "REF", conflicts_with = "inventory")]
    pub image: Option<String>,
    /// The platform to pick from a multi-platform image (default linux/amd64).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", requires = "image")]
    pub platform: Option<String>,
    /// Also write the findings as SARIF 2.1.0 (for CI).
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
    /// Exit with status 7 when a finding is at or above this severity
    /// (low, medium, high, critical).
    #[arg(long, value_name = "LEVEL")]
    pub fail_on: Option<airlift_advisory::Level>,
    /// Refuse (exit 3) when the advisory database was built more than
    /// this many days ago.
    #[arg(long, value_name = "DAYS")]
    pub max_age: Option<u32>,
}

/// The formats `airlift sbom` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SbomFormat {
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

#[derive(Debug, Subcommand)]
pub enum CustodyCommand {
    /// Append a signed hand-off statement (DSSE over an in-toto Statement)
    /// to `<bundle>.custody.jsonl`; the bundle itself is not touched.
    Sign {
        /// The bundle (directory, .tar, .tar.zst or .toc.json).
        bundle: PathBuf,
        /// Who hands it over (the key's holder, as the policy names them).
        #[arg(long = "as", value_name = "NAME")]
        name: String,
        /// Who receives it.
        #[arg(long, value_name = "NAME")]
        to: String,
        /// The signer's private key (`airlift keys new`).
        #[arg(long, value_name = "PK8")]
        key: PathBuf,
        /// Free text: seal numbers, media serials.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Set this site's custody policy (isolated side): who may sign
    /// hand-offs, who must, how many, continuity. Imports then refuse a
    /// bundle whose chain does not satisfy it.
    Policy {
        /// The policy (TOML: [signers] name = "key.pub.json", required,
        /// min-handoffs, continuity).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AptCommand {
    /// Print (or write) the OpenPGP public key that signs this site's apt
    /// repositories, for `Signed-By:`; the key is made on first use.
    Key {
        /// Write it to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Binary (a `.gpg` keyring) instead of ASCII armor (`.asc`).
        #[arg(long)]
        binary: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Prove the log is intact: recompute its Merkle tree, check the signed
    /// checkpoint, and check earlier checkpoints are prefixes of it.
    Verify {
        /// A checkpoint exported earlier (repeatable).
        #[arg(long = "checkpoint", value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
    },
    /// Print every entry (with --json: entries, checkpoint and verifier key, for a SIEM).
    Export,
    /// Print the current signed checkpoint, to keep elsewhere.
    Checkpoint,
    /// Start a new log after the old one was really lost or damaged (it is
    /// kept aside as `audit.reset-<time>/`, never deleted); the reset is the
    /// new log's first event. Refused while the log is intact.
    Reset {
        /// Why, as the operator states it; recorded in the new log.
        #[arg(long, value_name = "REASON")]
        acknowledge: String,
    },
}

/// The help of `client-config`'s tool: every registered ecosystem's
/// clients.
fn client_tools_help() -> String {
    let ecosystems = crate::ecosystems::all();
    let tools: Vec<String> = ecosystems
        .iter()
        .flat_map(|e| e.clients().iter())
        .map(|c| {
            format!(
                "  {}: {}",
                c.name,
                c.about.split_once(": ").map_or(c.about, |(_, a)| a)
            )
        })
        .collect();
    format!("The client tool:\n{}", tools.join("\n"))
}

#[derive(Debug, Args)]
pub struct ClientConfigArgs {
    #[arg(long_help = client_tools_help(), help = "The client tool (pip, uv, cargo, npm, apt, …; see --help)")]
    pub tool: String,
    /// The server's base URL as clients reach it.
    #[arg(long, default_value = "http://127.0.0.1:8080", value_name = "URL")]
    pub url: String,
    /// Log in as this user (with --token-file): the configuration carries
    /// the credentials in the form the client reads them.
    #[arg(long, value_name = "USER", requires = "token_file")]
    pub user: Option<String>,
    /// A file whose first line is the user's token (from `airlift token
    /// create`), so that the token never appears on a command line.
    #[arg(long, value_name = "FILE", requires = "user")]
    pub token_file: Option<PathBuf>,
    /// Print a configuration with credentials even to a terminal (by
    /// default it is only written to a pipe or a file).
    #[arg(long)]
    pub show_secrets: bool,
    /// Point the client at this environment (`/env/NAME/` of the server)
    /// instead of the default one.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// apt: where the client keeps airlift's signing key (`Signed-By`).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/etc/apt/keyrings/airlift.asc"
    )]
    pub signed_by: PathBuf,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The declaration file.
    #[arg(long, short, default_value = "airlift.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// Downloads in flight at once (overrides [collect] concurrency).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: Option<u16>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate the site's Ed25519 key and TUF root (one key for every role).
    Init {
        /// Days until the root expires.
        #[arg(long, default_value_t = 365)]
        root_expires_days: i64,
    },
    /// Make a named Ed25519 key: NAME.pk8 (private, 0600) and NAME.pub.json
    /// (the public key to hand to whoever rotates the root).
    New {
        /// The key's name (an approver, a courier, an offline root key).
        name: String,
        /// Where to write the two files. Default: this home's key directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Keep the key in a PKCS#11 token instead (made there if absent):
        /// `pkcs11:token=T;object=NAME?module-path=LIB&pin-source=file:P`
        /// (or pin-value=, or AIRLIFT_PKCS11_PIN). Writes NAME.pkcs11 (the
        /// URI, without a PIN value) instead of NAME.pk8.
        #[arg(long, value_name = "URI")]
        pkcs11: Option<String>,
    },
    /// List the roles of the newest root: keys, names, thresholds, and which
    /// private keys this machine holds.
    List,
    /// Write the next root version with the roles of a policy file; it is
    /// installed once the old and the new root thresholds have signed.
    Rotate {
        /// The role policy (TOML: expires-days, and [roles.<role>] with
        /// threshold and keys, paths of .pub.json files).
        #[arg(long, value_name = "FILE", required_unless_present = "finish")]
        policy: Option<PathBuf>,
        /// A private key to sign the new root with besides this home's
        /// (repeatable).
        #[arg(long = "key", value_name = "PK8")]
        keys: Vec<PathBuf>,
        /// Install the pending root once `airlift approve` has added enough
        /// signatures.
        #[arg(long)]
        finish: bool,
    },
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// An approval request (`<bundle>.approval.json` from pack) or a pending
    /// root (`N.root.pending.json` from keys rotate).
    pub file: PathBuf,
    /// The approver's private key (`airlift keys new` on their machine).
    #[arg(long, value_name = "PK8")]
    pub key: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Create a site CA and a server certificate (localhost, 127.0.0.1 and ::1 are always included).
    Init {
        /// A host name or IP address clients use to reach the server (repeatable).
        #[arg(long = "name", value_name = "HOST")]
        names: Vec<String>,
    },
    /// Issue a client certificate from the site CA that logs in as a user
    /// over `serve --tls` (mutual TLS), without a password or token.
    ClientCert {
        /// Its name (the certificate's common name, and the file names).
        name: String,
        /// The user it logs in as.
        #[arg(long, value_name = "USER")]
        user: String,
        /// Where to write NAME.crt and NAME.key (created; never overwritten).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Days it stays valid.
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
    },
    /// Revoke a client certificate by its SHA-256 fingerprint (as
    /// `client-cert` printed it): the server refuses it within a second.
    RevokeClientCert {
        /// The fingerprint, lowercase hex.
        fingerprint: String,
    },
}

#[derive(Debug, Args)]
pub struct PackArgs {
    /// Output: a directory, or a file ending in .tar or .tar.zst.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Carry the site's hosted content too (names its `[[hosted]]` rules
    /// cover, published inside it), which a site packs only when asked; the
    /// receiving site imports it as imported content.
    #[arg(long)]
    pub hosted: bool,
    /// Split the archive into parts of at most this size (e.g. 4G, 700M, 4480MiB).
    #[arg(long, value_name = "SIZE")]
    pub max_part_size: Option<String>,
    /// How long the bundle stays importable (e.g. 30d, 12h).
    #[arg(long, default_value = "30d", value_name = "DURATION")]
    pub valid_for: String,
    /// Metadata version (default: the creation time in Unix seconds).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub bundle_version: Option<u64>,
    /// zstd compression level for .tar.zst (1 to 19).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=19))]
    pub zstd_level: i32,
    /// Plan parts to fit the media: dvd (4.7 GB), bd (25 GB), usb-4g (FAT32's
    /// 4 GiB - 1 file limit) or a size (e.g. 700M).
    #[arg(long, value_name = "MEDIA", conflicts_with = "max_part_size")]
    pub media: Option<String>,
    /// The destination site: what earlier bundles shipped to it (its
    /// ledger) is not carried again, and this bundle's blobs are added.
    #[arg(long, value_name = "NAME")]
    pub destination: Option<String>,
    /// A receipt from the destination (`airlift receipt export`): carry
    /// only the blobs it lacks. Used instead of the ledger.
    #[arg(long, value_name = "FILE")]
    pub receipt: Option<PathBuf>,
    /// Carry every blob, even those the ledger or a receipt says are there.
    #[arg(long, conflicts_with = "receipt")]
    pub full: bool,
    /// Pack sequence number N for the destination again, following the
    /// bundle that was number N-1: the way out when bundle N never imported
    /// (lost, or refused). Carries every blob unless --receipt is given.
    #[arg(long, value_name = "N", requires = "destination",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub sequence: Option<u64>,
    /// An approval request signed by approvers (`airlift approve`;
    /// repeatable, their signatures combine). Without it, when the targets
    /// role needs more signatures than this machine's keys give, pack writes
    /// `<out>.approval.json` for the approvers and stops.
    #[arg(long, value_name = "FILE")]
    pub approved: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle: a directory, a .tar, a .tar.zst, or a split bundle's .toc.json.
    #[arg(required_unless_present = "parts")]
    pub bundle: Option<PathBuf>,
    /// Verify against this root instead of the home's trusted root.
    #[arg(long, value_name = "ROOT_JSON")]
    pub trust: Option<PathBuf>,
    /// Check one part file (`<name>.part-0003`) against its table of contents
    /// alone (repeatable); the whole bundle is verified on import.
    #[arg(long = "part", value_name = "PART", id = "parts")]
    pub parts: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Write a signed inventory of the blobs this home holds, for
    /// `airlift pack --receipt` on the connected side.
    Export {
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct WantedArgs {
    /// A receipt from the isolated side (`airlift receipt export`); its
    /// signature is checked.
    pub receipt: PathBuf,
}

#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The bundle: a directory, a .tar, a .tar.zst, or a split bundle's .toc.json.
    pub bundle: PathBuf,
    /// Verify against this root instead of the home's trusted root.
    #[arg(long, value_name = "ROOT_JSON")]
    pub trust: Option<PathBuf>,
    #[command(flatten)]
    pub removals: RemovalArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The bundle: a directory, a .tar, a .tar.zst, or a split bundle's .toc.json.
    pub bundle: PathBuf,
    #[command(flatten)]
    pub removals: RemovalArgs,
}

/// How much an import may remove.
#[derive(Debug, Args)]
pub struct RemovalArgs {
    /// Remove whatever the bundle leaves out, however much that is, including
    /// what was pushed to this server since the last import.
    #[arg(long)]
    pub allow_removals: bool,
    /// Refuse an import that would remove more than this share of the
    /// entries served now, in percent.
    #[arg(long, value_name = "PERCENT", default_value_t = airlift_bundle::DEFAULT_MAX_REMOVAL_PERCENT,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub max_removals: u8,
}

impl RemovalArgs {
    /// The policy these flags ask for.
    pub fn policy(&self) -> airlift_bundle::RemovalPolicy {
        airlift_bundle::RemovalPolicy {
            allow: self.allow_removals,
            max_percent: self.max_removals,
        }
    }
}

#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Remove corrupt blobs, so that importing a bundle that carries them restores them.
    #[arg(long)]
    pub repair: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Report what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the newest N generations. The current generation, the newest
    /// one an import made, and every generation an environment serves or
    /// can roll back to are always kept (and with them every newer one).
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: u32,
    /// Keep blobs nothing references if they were stored more recently than
    /// this: a push or an import may not have committed its entry yet. A
    /// whole number with `ms`, `s`, `m`, `h` or `d`, e.g. `1h`; `0s` keeps
    /// none (safe only when nothing writes to the home meanwhile).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_grace)]
    pub grace: std::time::Duration,
    /// Remove OCI upload sessions opened this long ago or earlier, as
    /// `serve --upload-expiry` does. A whole number with `s`, `m`, `h` or `d`.
    #[arg(long, value_name = "AGE", default_value = "24h", value_parser = parse_upload_expiry)]
    pub upload_expiry: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The root.json to trust (from `airlift keys init` on the connected side).
    #[arg(long, value_name = "ROOT_JSON")]
    pub trust: PathBuf,
    /// Replace an existing, different trusted root.
    #[arg(long)]
    pub force: bool,
    /// This site's name: bundles packed with `--destination` for another
    /// site are refused, and their sequence numbers must follow on.
    #[arg(long, value_name = "NAME")]
    pub site: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve HTTPS with the certificate from `airlift tls init`.
    #[arg(long)]
    pub tls: bool,
    /// Serve environment NAME at the root of host HOST (repeatable): a
    /// request whose `Host` is HOST (any port) is answered from NAME, so
    /// images keep their names (`docker pull HOST/team/app:1.0`). The
    /// certificate of `--tls` must name HOST.
    #[arg(long = "env-host", value_name = "NAME=HOST", value_parser = parse_env_host)]
    pub env_hosts: Vec<(String, String)>,
    /// The access rules (default: the home's `access.toml`, if any).
    /// Without rules, users may read, write and delete, and anonymous
    /// callers may read only when the server listens on loopback.
    #[arg(long, value_name = "FILE")]
    pub access: Option<PathBuf>,
    /// Collect garbage this often while serving (`airlift gc` with
    /// `--gc-keep` and `--gc-grace`), skipping a round when an import,
    /// collect or gc holds the home: an age with `m`, `h` or `d`. Off by
    /// default; `/metrics` shows reclaimable bytes either way.
    #[arg(long, value_name = "AGE", value_parser = parse_upload_expiry)]
    pub gc_every: Option<std::time::Duration>,
    /// Generations the scheduled garbage collection keeps.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub gc_keep: u32,
    /// How old an unreferenced blob must be before the scheduled garbage
    /// collection removes it.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_grace)]
    pub gc_grace: std::time::Duration,
    /// Let anonymous callers read everything, whatever the rules say
    /// (needed to serve on a non-loopback address without rules).
    /// Anonymous callers never write.
    #[arg(long)]
    pub anonymous_read: bool,
    /// Days a signed apt Release stays valid (`Valid-Until`); the server
    /// re-signs when half of it has passed.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub apt_valid_days: u32,
    /// Age at which an unfinished OCI upload session expires: it is refused
    /// from then on and its partial data removed (swept at start-up and
    /// hourly). A whole number with `s`, `m`, `h` or `d`, e.g. `24h`.
    #[arg(long, value_name = "AGE", default_value = "24h", value_parser = parse_upload_expiry)]
    pub upload_expiry: std::time::Duration,
    /// Time allowed from a request's first byte to the end of its headers
    /// (and for a TLS handshake), e.g. `30s`, `500ms`, `2m`.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub header_timeout: std::time::Duration,
    /// How long a connection may wait for a request (new, or after a
    /// keep-alive response) before it is closed.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_timeout)]
    pub idle_timeout: std::time::Duration,
    /// How long a request body may send nothing while it is read, or a
    /// client take nothing of a response, before the connection is closed.
    /// Transfers that keep moving are never cut off.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_timeout)]
    pub body_timeout: std::time::Duration,
    /// Connections open at once (more wait to be accepted); lowered at
    /// start-up to what the open-files limit allows.
    #[arg(long, value_name = "N", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
}

/// Why a duration did not read.
pub enum DurationError {
    /// It does not start with a whole number.
    NoNumber,
    /// Its unit is not in the table (the text after the number).
    Unit(String),
    /// The number times its unit does not fit.
    TooLarge,
}

/// Reads a duration written as a whole number and a unit, in milliseconds:
/// `units` maps each accepted unit (`""` for none) to its length in
/// milliseconds. Each option then says its own range and messages.
pub fn duration_millis(text: &str, units: &[(&str, u64)]) -> Result<u64, DurationError> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| DurationError::NoNumber)?;
    let (_, millis) = units
        .iter()
        .find(|(name, _)| *name == unit)
        .ok_or_else(|| DurationError::Unit(unit.to_owned()))?;
    number.checked_mul(*millis).ok_or(DurationError::TooLarge)
}

/// Parses `--upload-expiry`: a whole number with `s`, `m`, `h` or `d`,
/// from one second to a year.
fn parse_upload_expiry(text: &str) -> Result<std::time::Duration, String> {
    let units = [
        ("s", 1000),
        ("m", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
    ];
    match duration_millis(text, &units) {
        Ok(millis @ 1000..=31_536_000_000) => Ok(std::time::Duration::from_millis(millis)),
        Err(DurationError::NoNumber) => Err(format!("{text:?} does not start with a whole number")),
        Err(DurationError::Unit(unit)) if unit.is_empty() => {
            Err(format!("{text:?} needs a unit (s, m, h or d)"))
        }
        Err(DurationError::Unit(other)) => {
            Err(format!("unknown unit {other:?} (use s, m, h or d)"))
        }
        Ok(_) | Err(DurationError::TooLarge) => Err(format!("{text:?} is not between 1s and 365d")),
    }
}

/// Parses `gc --grace`: a whole number with `ms`, `s`, `m`, `h` or `d`,
/// from zero to a year.
fn parse_env_host(text: &str) -> Result<(String, String), String> {
    let (name, host) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=HOST"))?;
    if !airlift_store::environment::valid_name(name) {
        return Err(format!("{name:?} is not an environment name"));
    }
    let host = host.trim().to_ascii_lowercase();
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
    {
        return Err(format!("{host:?} is not a host name"));
    }
    Ok((name.to_owned(), host))
}

fn parse_grace(text: &str) -> Result<std::time::Duration, String> {
    let units = [
        ("ms", 1),
        ("s", 1000),
        ("m", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
    ];
    match duration_millis(text, &units) {
        Ok(millis @ 0..=31_536_000_000) => Ok(std::time::Duration::from_millis(millis)),
        Err(DurationError::NoNumber) => Err(format!("{text:?} does not start with a whole number")),
        Err(DurationError::Unit(unit)) if unit.is_empty() => {
            Err(format!("{text:?} needs a unit (ms, s, m, h or d)"))
        }
        Err(DurationError::Unit(other)) => {
            Err(format!("unknown unit {other:?} (use ms, s, m, h or d)"))
        }
        Ok(_) | Err(DurationError::TooLarge) => Err(format!("{text:?} is not between 0s and 365d")),
    }
}

/// Parses a `serve` timeout: a whole number with `ms`, `s` (the default) or
/// `m`, from 1 ms to 1 day.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let units = [("ms", 1), ("s", 1000), ("", 1000), ("m", 60_000)];
    match duration_millis(text, &units) {
        Ok(millis @ 1..=86_400_000) => Ok(std::time::Duration::from_millis(millis)),
        Err(DurationError::NoNumber) => Err(format!("{text:?} does not start with a whole number")),
        Err(DurationError::Unit(other)) => Err(format!("unknown unit {other:?} (use ms, s or m)")),
        Ok(_) | Err(DurationError::TooLarge) => {
            Err(format!("{text:?} is not between 1ms and 1440m"))
        }
    }
}
