//! `airlift-tuf-client`: a TUF client over airlift's trust code, which exists
//! only so that the public TUF client conformance suite (`tuf-conformance`)
//! can be run against that code.
//!
//! airlift itself never fetches TUF metadata over the network: `airlift
//! import` verifies a bundle's metadata directory with
//! [`airlift_trust::verify_metadata`]. The suite, however, talks to a client
//! through a small command-line protocol (`init`, `refresh`, `download`)
//! against a repository simulator served over loopback HTTP. This binary
//! implements that protocol and keeps the glue thin, so that what the suite
//! measures is airlift's own verification:
//!
//! 1. `tough` loads the repository over HTTP through [`transport`], which
//!    records the bytes of every metadata file it hands over. That pass
//!    decides what to fetch (the root chain, versioned names under
//!    consistent snapshots) with tough's size limits.
//! 2. The recorded files are written to a local directory and checked again
//!    with [`airlift_trust::verify_metadata`], exactly as `airlift import`
//!    checks a bundle: the same loader settings, expiry enforcement and the
//!    strict threshold re-count. Only when that passes does the client trust
//!    the new metadata as a whole.
//!
//! `tests/tuf-conformance/run.sh` runs the suite against this binary, and
//! `docs/tuf-conformance.md` lists the tests that fail and why. It is not
//! published and not part of the `airlift` binary.

mod client;
mod transport;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use url::Url;

/// The command line of the tuf-conformance client protocol.
#[derive(Debug, Parser)]
#[command(
    name = "airlift-tuf-client",
    about = "TUF client for the tuf-conformance suite"
)]
struct Cli {
    /// Where the client keeps the metadata it trusts (`root.json`, ...).
    #[arg(long)]
    metadata_dir: PathBuf,
    /// The repository's metadata base URL.
    #[arg(long)]
    metadata_url: Option<Url>,
    /// A target path to download; may be repeated, processed in order.
    #[arg(long = "target-name")]
    target_names: Vec<String>,
    /// The repository's targets base URL.
    #[arg(long)]
    target_base_url: Option<Url>,
    /// Where downloaded and verified targets are stored.
    #[arg(long)]
    target_dir: Option<PathBuf>,
    /// Skip airlift's second verification pass (tough only), to tell
    /// apart what airlift adds from what tough and this glue do.
    #[arg(long, env = "AIRLIFT_TUF_CLIENT_TOUGH_ONLY", value_parser = clap::builder::BoolishValueParser::new())]
    tough_only: bool,
    /// Accepted for compatibility with the protocol; errors are always printed.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Trust the given root file.
    Init {
        /// The initial trusted root.
        trusted_root: PathBuf,
    },
    /// Update the trusted metadata from the repository.
    Refresh,
    /// Refresh, then download and verify each `--target-name`.
    Download,
}

fn run(cli: Cli) -> Result<String, client::ClientError> {
    let mode = if cli.tough_only {
        client::Mode::ToughOnly
    } else {
        client::Mode::Airlift
    };
    let missing = |flag: &'static str| client::ClientError::Usage(format!("{flag} is required"));
    match cli.command {
        Command::Init { trusted_root } => {
            client::init(&cli.metadata_dir, &trusted_root)?;
            Ok(format!("initialized {}", cli.metadata_dir.display()))
        }
        Command::Refresh => {
            let url = cli.metadata_url.ok_or_else(|| missing("--metadata-url"))?;
            let refreshed = client::refresh(&cli.metadata_dir, &url, &url, mode)?;
            Ok(format!(
                "trusted root version {}, timestamp version {}",
                refreshed.verified.root_version, refreshed.verified.version
            ))
        }
        Command::Download => {
            let url = cli.metadata_url.ok_or_else(|| missing("--metadata-url"))?;
            let targets_url = cli
                .target_base_url
                .ok_or_else(|| missing("--target-base-url"))?;
            let target_dir = cli.target_dir.ok_or_else(|| missing("--target-dir"))?;
            if cli.target_names.is_empty() {
                return Err(missing("--target-name"));
            }
            let refreshed = client::refresh(&cli.metadata_dir, &url, &targets_url, mode)?;
            for name in &cli.target_names {
                client::download(&refreshed, name, &target_dir)?;
            }
            Ok(format!("downloaded {} target(s)", cli.target_names.len()))
        }
    }
}

/// Prints one line about the outcome. This binary is a test tool, so it
/// prints directly rather than through the `airlift` CLI's reporting.
#[expect(
    clippy::print_stderr,
    reason = "the test client reports its outcome on standard error"
)]
fn report(line: &str) {
    eprintln!("airlift-tuf-client: {line}");
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // The protocol wants exit code 1 for any failure, 0 for help.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(message) => {
            report(&message);
            ExitCode::SUCCESS
        }
        Err(error) => {
            report(&format!("error: {}", client::render_chain(&error)));
            ExitCode::FAILURE
        }
    }
}
