//! The `airlift` binary: parses the command line and runs it with the
//! registered ecosystems (see the library half of this crate).

use airlift::cli;
use clap::Parser;

/// Flags people reach for that airlift names otherwise, for the tip on an
/// unknown argument (clap only suggests names that look alike).
const SYNONYMS: &[(&str, &str)] = &[
    ("--server", "--url"),
    ("--host", "--url"),
    ("--registry", "--url"),
    ("--index", "--url"),
    ("--bind", "--listen"),
    ("--address", "--listen"),
    ("--port", "--listen"),
    ("--output", "--out"),
    ("--file", "--config"),
    ("--dir", "--home"),
    ("--root", "--trust"),
    ("--force-removals", "--allow-removals"),
];

/// Parses the command line; an unknown flag that is another tool's name for
/// one of ours gets a tip naming ours.
#[allow(clippy::print_stderr)]
fn parse() -> cli::Cli {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let error = match cli::Cli::try_parse() {
        Ok(cli) => return cli,
        Err(error) => error,
    };
    if error.kind() == ErrorKind::UnknownArgument
        && let Some(ContextValue::String(given)) = error.get(ContextKind::InvalidArg)
    {
        let flag = given.split('=').next().unwrap_or(given);
        if let Some((_, ours)) = SYNONYMS.iter().find(|(theirs, _)| *theirs == flag) {
            let text = error.render().to_string();
            let (head, usage) = text.split_once("\n\nUsage:").unwrap_or((text.as_str(), ""));
            eprintln!("{head}\n\n  tip: airlift calls it '{ours}' (see --help)");
            if !usage.is_empty() {
                eprintln!("\nUsage:{}", usage.trim_end());
            }
            std::process::exit(2);
        }
    }
    error.exit()
}

fn main() -> std::process::ExitCode {
    let cli = parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("AIRLIFT_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if cli.verbose { "info" } else { "warn" })
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        airlift::cli::LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // One object a line: the event's fields at the top level, and the
        // span it happened in (a request's id, method and path).
        airlift::cli::LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    match airlift::run(cli, airlift::ecosystems::all(), None) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
