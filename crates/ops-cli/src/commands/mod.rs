//! One module per subcommand.

mod metrics;

use crate::ExitStatus;
use crate::cli::{Cli, Command};

/// Runs the parsed command.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Metrics(args) => metrics::run(&args),
    }
}
