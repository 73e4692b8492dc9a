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

fn main() -> ExitCode {
    let args = cli::Cli::parse();
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
