//! One module per subcommand.

pub(crate) mod backup;
mod check;
mod deploy;
mod metrics;
mod monitor;
pub(crate) mod rules;
pub(crate) mod slo;

use crate::ExitStatus;
use crate::cli::{Cli, Command};

pub(crate) use self::check::unknown as check_unknown;

/// Runs the parsed command.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Metrics(args) => metrics::run(&args),
        Command::Check(args) => Ok(check::run(&args)),
        Command::Monitor(args) => monitor::run(&args),
        Command::Deploy(args) => deploy::deploy(&args),
        Command::Rollback(args) => deploy::rollback(&args),
        Command::History(args) => deploy::history(&args),
        Command::Lock(args) => deploy::lock(&args),
        Command::Prune(args) => deploy::prune(&args),
        Command::Backup(args) => backup::run(&args),
        Command::Restore(args) => backup::restore(&args),
        Command::Slo(args) => slo::run(&args),
        Command::Rules(args) => rules::run(&args),
    }
}
