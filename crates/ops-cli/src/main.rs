//! The `ops` command: system metrics, checks, monitoring and deployments.
//!
//! `main` only parses the arguments and maps the outcome to an exit code; each subcommand lives
//! in its own module over the library crates.

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser as _;

/// How `ops` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    /// Everything worked.
    Success,
    /// The command ran, and what it checked failed (used by checks and deploys).
    #[allow(dead_code)]
    Failure,
    /// The command could not do its job.
    Error,
    /// A plugin exit code (Nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
    Code(u8),
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
            ExitStatus::Code(code) => ExitCode::from(code),
        }
    }
}

/// Whether the command line asks for `ops check`: its usage errors are a plugin's, exit 3.
fn is_check(args: &[std::ffi::OsString]) -> bool {
    args.iter()
        .skip(1)
        .find(|a| !a.to_string_lossy().starts_with('-'))
        .is_some_and(|a| a == "check")
}

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let args = match cli::Cli::try_parse_from(&argv) {
        Ok(args) => args,
        Err(e) if is_check(&argv) && e.use_stderr() => {
            // A plugin's usage error is UNKNOWN (3) with a status line, as the Monitoring
            // Plugins guidelines ask; 2 would read as CRITICAL.
            let first = e.to_string();
            let reason = first
                .lines()
                .next()
                .unwrap_or("usage error")
                .trim_start_matches("error: ");
            return commands::check_unknown(&format!("usage: {reason} (see ops check --help)"))
                .into();
        }
        Err(e) => e.exit(),
    };
    match commands::run(args) {
        Ok(status) => status.into(),
        Err(error) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("ops: error: {error:#}");
            }
            ExitStatus::Error.into()
        }
    }
}
