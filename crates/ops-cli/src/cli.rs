//! Command-line arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ops_core::duration::{self, Bounds};

/// Operations for Rust services: system metrics, alert checks, monitoring and deployments.
#[derive(Debug, Parser)]
#[command(name = "ops", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Sample this machine: CPU, memory, disks, network, processes.
    ///
    /// Prints one sample (CPU usage measured over a short window) as the playbook's JSON object,
    /// a Prometheus text page, or a table. With --watch, one sample per interval until
    /// interrupted: JSON lines (a recording later tools can replay) or table rows.
    Metrics(MetricsArgs),
    /// Run as a Nagios/Icinga plugin: exit 0/1/2/3 and one line with performance data.
    ///
    /// Checks the rules of --rules FILE (default: the playbook's CPU > 80, memory > 85,
    /// disk > 90), or one metric against Monitoring Plugins ranges with --metric, -w and -c.
    /// --sample FILE evaluates a sample saved by `ops metrics --format json` instead of measuring.
    Check(CheckArgs),
    /// Sample this machine, evaluate alert rules and deliver alerts until stopped.
    ///
    /// Alerts go to the log and stdout, and to every --alertmanager and --webhook given. With
    /// --listen, serves GET /metrics (promtool-clean) and GET /health. --replay FILE evaluates
    /// the JSON lines `ops metrics --watch` recorded instead of measuring. SIGINT/SIGTERM stop it
    /// after queued alerts are delivered.
    Monitor(MonitorArgs),
    /// Deploy a release, health-gated, with stop-start, zero-downtime blue-green or a canary,
    /// and roll back to the newest healthy release if it fails.
    ///
    /// stop-start stops the running release, starts the new one on the same port and checks it.
    /// blue-green starts the new release on the other port, checks it, switches nginx to it
    /// (upstream file, `nginx -t`, graceful reload), checks again through nginx, then drains
    /// and stops the old one; a failed release never receives traffic; with `verify` in the
    /// config it analyses the new release after the switch and switches back on failure.
    /// canary gives the new release a growing share of the traffic (nginx weights), analysing
    /// its error ratio, latency or any `PromQL` at each step, and aborts (weight back to 0) on
    /// failure. `ops deploy promote` / `ops deploy abort` decide a paused canary.
    ///
    /// Exit codes: 0 the new release is healthy; 1 it failed (or a pre-deploy hook aborted it)
    /// and a healthy release is running; 2 usage or config error; 4 nothing healthy is running.
    Deploy(DeployArgs),
    /// Go back to a release (default: the newest healthy one other than the running one),
    /// health-checked. Same exit codes as deploy.
    Rollback(RollbackArgs),
    /// Show the release history: each release's outcome and analysis (--json: every change
    /// record too); --stats for deploy figures (DORA).
    History(HistoryArgs),
    /// Show or release the deploy lock.
    Lock(LockArgs),
    /// Prune old releases now: keep the newest `keep`, never an image that a kept healthy
    /// release, the rollback target or a running container uses. A deploy does this after
    /// every healthy release.
    Prune(PruneArgs),
    /// Back up the service's data, verify backups by restoring them, restore them.
    Backup(crate::commands::backup::BackupArgs),
    /// Restore a backup (`ops backup restore`): `ops restore --before-release RELEASE`.
    Restore(crate::commands::backup::RestoreArgs),
    /// SLOs and error budgets: the budgets a monitor keeps, the Prometheus rules for them.
    Slo(crate::commands::slo::SloArgs),
    /// Alert rules: each rule's condition and its `PromQL` equivalent (`show`), the rule set as a
    /// Prometheus rule file (`export`).
    Rules(crate::commands::rules::RulesArgs),
}

/// `--config FILE`, the deploy configuration, of the commands that need it.
#[derive(Debug, Args)]
pub(crate) struct ConfigArg {
    /// The deploy configuration (TOML).
    #[arg(long = "config", id = "config", value_name = "FILE")]
    pub(crate) path: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,

    /// Wait this long for another deploy's lock.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) lock_wait: Option<Duration>,

    /// The pruned releases as a JSON array.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct DeployArgs {
    /// Decide a canary or a verification under way, or show it.
    #[command(subcommand)]
    pub(crate) action: Option<DeployAction>,

    /// The deploy configuration (TOML).
    #[arg(long, value_name = "FILE", required = true)]
    pub(crate) config: Option<PathBuf>,

    /// The release to run: a command line (runtime "process") or an image (runtime "docker").
    /// It is given `PORT` and `OPS_RELEASE` in its environment.
    #[arg(long, value_name = "CMD", visible_alias = "image", required = true)]
    pub(crate) command: Option<String>,

    /// How the release replaces the running one (default: the config's `strategy`).
    #[arg(long, value_name = "STRATEGY", value_parser = parse_strategy)]
    pub(crate) strategy: Option<ops_deploy::Strategy>,

    /// Wait this long for another deploy's lock instead of failing at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) lock_wait: Option<Duration>,

    /// Print the plan and touch nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Deploy even while an SLO's error budget is spent (the config's `[slo]` policy would
    /// refuse); the history records it, with the budgets that were spent.
    #[arg(long)]
    pub(crate) ignore_error_budget: bool,

    /// One JSON object with the outcome, every state transition and the analysis on stdout;
    /// the analysis's measurements also as they are made, one JSON object per line on stderr.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `ops deploy promote | abort | status`.
#[derive(Debug, Subcommand)]
pub(crate) enum DeployAction {
    /// Let a paused canary go on: past its manual gate, or out of a hold on inconclusive
    /// measurements. The deploy that waits takes the decision and records who made it.
    Promote(GateArgs),
    /// Stop a canary or a blue-green verification under way: all the traffic goes back to the
    /// stable release at once and the new one is stopped.
    Abort(GateArgs),
    /// What a canary or verification under way is doing (step, weight, last measurement).
    Status(GateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct GateArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,

    /// The deploy's progress as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

fn parse_strategy(s: &str) -> Result<ops_deploy::Strategy, String> {
    s.parse()
        .map_err(|e: ops_deploy::UnknownStrategy| e.to_string())
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,

    /// The release id to go back to (default: the newest healthy one not running).
    pub(crate) release: Option<String>,

    /// Wait this long for another deploy's lock.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) lock_wait: Option<Duration>,

    /// One JSON object with the outcome on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,

    /// The history document as JSON.
    #[arg(long)]
    pub(crate) json: bool,

    /// Deploy figures instead of the releases: deployments by outcome, change-failure ratio,
    /// time to restore (DORA).
    #[arg(long)]
    pub(crate) stats: bool,

    /// With --stats: the figures as a Prometheus text page (`ops_deploy_*`).
    #[arg(long, requires = "stats", conflicts_with = "json")]
    pub(crate) prometheus: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LockArgs {
    /// The deploy configuration (TOML).
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) config: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) action: LockAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LockAction {
    /// Who holds the lock, if anyone.
    Status,
    /// Remove the lock file so the next deploy can run (for a hung, not a dead, holder: a dead
    /// holder's lock is released by the kernel).
    Release {
        /// Required: this steps over a deploy that may still be running.
        #[arg(long, required = true)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Rule file (.toml, .json, .yaml).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["metric", "warning", "critical", "mount"])]
    pub(crate) rules: Option<PathBuf>,

    /// Check one metric instead of rules: cpu, memory, disk, processes, load1, load5, load15.
    /// Needs -w, -c or both.
    #[arg(long, value_name = "NAME")]
    pub(crate) metric: Option<String>,

    /// Warning range (Monitoring Plugins syntax: 10, 10:, ~:10, 10:20, @10:20).
    #[arg(
        short,
        long,
        value_name = "RANGE",
        allow_hyphen_values = true,
        requires = "metric"
    )]
    pub(crate) warning: Option<String>,

    /// Critical range.
    #[arg(
        short,
        long,
        value_name = "RANGE",
        allow_hyphen_values = true,
        requires = "metric"
    )]
    pub(crate) critical: Option<String>,

    /// Only this mount (with --metric disk).
    #[arg(long, value_name = "MOUNT", requires = "metric")]
    pub(crate) mount: Option<String>,

    /// Evaluate this saved sample (`ops metrics --format json` output) instead of measuring.
    #[arg(long, value_name = "FILE")]
    pub(crate) sample: Option<PathBuf>,

    /// The window CPU usage is measured over.
    #[arg(long, value_name = "DURATION", default_value = "250ms", value_parser = parse_duration)]
    pub(crate) cpu_window: Duration,
}

#[derive(Debug, Args)]
pub(crate) struct MonitorArgs {
    /// Rule file (.toml, .json, .yaml); default: the playbook's rules.
    #[arg(long, value_name = "FILE")]
    pub(crate) rules: Option<PathBuf>,

    /// Sampling interval (default: the rule file's, else 1s; at least 10ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub(crate) interval: Option<Duration>,

    /// Alertmanager base URL (repeatable), e.g. `http://127.0.0.1:9093`.
    #[arg(long, value_name = "URL")]
    pub(crate) alertmanager: Vec<String>,

    /// JSON webhook URL (repeatable; Slack-compatible). The URL holds a token and is visible
    /// to local users in the process list: prefer --webhook-file.
    #[arg(long, value_name = "URL")]
    pub(crate) webhook: Vec<String>,

    /// A file with one webhook URL per line (blank lines and `#` comments ignored), so the
    /// tokens stay out of the process list.
    #[arg(long, value_name = "FILE")]
    pub(crate) webhook_file: Option<PathBuf>,

    /// Serve GET /metrics and GET /health on this address, e.g. 127.0.0.1:9187.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<String>,

    /// Evaluate the JSON lines recorded by `ops metrics --watch` instead of measuring.
    #[arg(long, value_name = "FILE")]
    pub(crate) replay: Option<PathBuf>,

    /// Stop after this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,

    /// Do not print alerts on stdout (they still go to the log and the other sinks).
    #[arg(long)]
    pub(crate) quiet: bool,

    /// Probe this URL from outside (repeatable; `http://` only), as `blackbox_exporter` does:
    /// `probe_success`, `probe_duration_seconds`, `probe_http_status_code` on the page, and
    /// an SLO on them (99.5 % over 30 days) unless --slo defines one.
    #[arg(long, value_name = "URL")]
    pub(crate) probe: Vec<String>,

    /// Time between two probes of each URL.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_interval)]
    pub(crate) probe_interval: Duration,

    /// The longest one probe may take (at most the interval): a server that hangs is one
    /// failed probe.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub(crate) probe_timeout: Duration,

    /// A status that counts as a successful probe (repeatable; default: any 2xx).
    #[arg(long, value_name = "CODE")]
    pub(crate) probe_status: Vec<u16>,

    /// SLO definitions (.toml, .yaml, .yml; `OpenSLO` too): their budgets and burn-rate alerts.
    #[arg(long, value_name = "FILE")]
    pub(crate) slo: Option<PathBuf>,

    /// Keep the SLOs' counts in this file (written every minute and at the end), so budgets
    /// survive restarts; `ops slo status --state FILE` reads it.
    #[arg(long, value_name = "FILE")]
    pub(crate) slo_state: Option<PathBuf>,

    /// A service's deploy configuration (repeatable): its deploy figures (deployments by
    /// outcome, change-failure ratio, time to restore) and, with `[backup]`, its backup figures
    /// on /metrics, and a rule that alerts when its newest verified backup is older than
    /// `max_age`.
    #[arg(long, value_name = "FILE")]
    pub(crate) deploy_config: Vec<PathBuf>,
}

/// How a sample is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The sample as JSON (one compact line per sample with --watch).
    Json,
    /// A Prometheus text exposition page (`node_exporter` names).
    Prometheus,
    /// A readable table (one row per sample with --watch).
    Table,
}

#[derive(Debug, Args)]
pub(crate) struct MetricsArgs {
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Json)]
    pub(crate) format: Format,

    /// Keep sampling at this interval (e.g. 1s, 500ms, 1m; at least 10ms) until interrupted.
    #[arg(long, short, value_name = "DURATION", value_parser = parse_interval)]
    pub(crate) watch: Option<Duration>,

    /// With --watch: stop after this many samples.
    #[arg(long, short = 'n', value_name = "N", requires = "watch")]
    pub(crate) count: Option<u64>,

    /// The window CPU usage is measured over for the first sample.
    #[arg(long, value_name = "DURATION", default_value = "250ms", value_parser = parse_duration)]
    pub(crate) cpu_window: Duration,

    /// Where the proc tree is (a host's /proc mounted into a container, for example).
    #[arg(long, value_name = "PATH", default_value = "/proc")]
    pub(crate) proc_root: PathBuf,

    /// Longest wait for one mount's statvfs before it is reported as hung.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub(crate) mount_timeout: Duration,

    /// Also measure these filesystem types (e.g. tmpfs, nfs4); repeatable.
    #[arg(long = "include-fstype", value_name = "FSTYPE")]
    pub(crate) include_fstypes: Vec<String>,

    /// Use the portable sysinfo source instead of reading /proc directly.
    #[arg(long)]
    pub(crate) sysinfo: bool,
}

/// A duration flag: above zero, at most 366 days (`ops_core::duration`'s rules).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    duration::parse_within(text, Bounds::NONZERO).map_err(|e| e.to_string())
}

/// A sampling interval: at least 10 ms.
pub(crate) fn parse_interval(text: &str) -> Result<Duration, String> {
    duration::parse_within(text, Bounds::INTERVAL).map_err(|e| e.to_string())
}

#[cfg(test)]
mod test {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("500000000000years").is_err());
        assert_eq!(
            parse_interval("1ns"),
            Err("must be at least 10ms".to_owned())
        );
    }
}
