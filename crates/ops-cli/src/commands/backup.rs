//! `ops backup run | list | verify | restore | prune | status`, and `ops restore` (the same
//! as `ops backup restore`).
//!
//! Exit codes: 0 done; 1 the backup or the verification failed (`run`, `verify`), the data
//! is restored but the release did not come back (`restore`); 2 usage, config or an error
//! that left nothing changed. `status` is a Nagios-style check: 0 OK, 2 CRITICAL (no
//! verified backup younger than `max_age`), 3 UNKNOWN.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use ops_core::Exposition as _;
use ops_deploy::backup::{BackupKind, BackupRecord, RestoreRequest};
use ops_deploy::{DeployConfig, Deployer, Error, Event};

use crate::ExitStatus;
use crate::cli::parse_duration;
use crate::output::{bytes, emit};

/// `ops backup`.
#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// The deploy configuration (TOML) with its `[backup]` section.
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) config: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) action: BackupAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BackupAction {
    /// Take a backup now (the `pre_backup` hook, the copy, the store), verify it by a restore
    /// unless the config says `verify = false`, then apply retention.
    Run(RunArgs),
    /// List the complete backups, newest first.
    List(ListArgs),
    /// Restore a backup (default: the newest) into a scratch directory and compare every
    /// file with its manifest; restic also runs `check --read-data-subset`. Exit 1 names
    /// what differs.
    Verify(VerifyArgs),
    /// Restore a backup over the live data: the release is stopped, the current data backed
    /// up, the backup restored and compared, the release started again, health-checked.
    Restore(RestoreArgs),
    /// Apply retention now (`keep_last`, `keep_days`; never the newest verified backup).
    Prune(ListArgs),
    /// Whether the newest verified backup is younger than `max_age` (a Nagios-style check),
    /// or the backup figures as a Prometheus page section.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Do not verify the new backup (the config's `verify` otherwise).
    #[arg(long)]
    pub(crate) no_verify: bool,

    /// Wait this long for a deploy's lock instead of failing at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) lock_wait: Option<Duration>,

    /// The backup's record as JSON on stdout, no progress.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Wait this long for a deploy's lock (prune).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) lock_wait: Option<Duration>,

    /// JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The backup (default: the newest).
    pub(crate) id: Option<String>,

    /// Wait this long for a deploy's lock.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) lock_wait: Option<Duration>,

    /// The record with its verification as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `ops backup restore`, and `ops restore`.
#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The deploy configuration (TOML) with its `[backup]` section.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// The backup to restore.
    #[arg(
        required_unless_present = "before_release",
        conflicts_with = "before_release"
    )]
    pub(crate) id: Option<String>,

    /// Restore the backup taken before this release was deployed, and bring back the release
    /// that ran with that data.
    #[arg(long, value_name = "RELEASE")]
    pub(crate) before_release: Option<String>,

    /// With --before-release: keep the running release (only the data goes back).
    #[arg(long)]
    pub(crate) keep_release: bool,

    /// Wait this long for a deploy's lock.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) lock_wait: Option<Duration>,

    /// The outcome as JSON on stdout, no progress.
    #[arg(long)]
    pub(crate) json: bool,
}

/// How `status` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatusFormat {
    /// One Nagios status line with performance data; exit 0, 2 or 3.
    Nagios,
    /// The backup figures as a Prometheus text page; exit 0.
    Prometheus,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Output.
    #[arg(long, value_enum, default_value_t = StatusFormat::Nagios)]
    pub(crate) format: StatusFormat,
}

fn load(path: Option<&std::path::Path>) -> anyhow::Result<DeployConfig> {
    let path = path.context("--config FILE is required")?;
    DeployConfig::load(path)
        .with_context(|| format!("loading the deploy config {}", path.display()))
}

fn deployer(config: DeployConfig) -> Deployer<Box<dyn ops_deploy::Runtime>> {
    let runtime = config.runtime();
    Deployer::new(config, runtime)
}

/// Progress lines on stderr (none with --json).
fn progress(json: bool) -> impl FnMut(&Event<'_>) {
    move |e| {
        if json {
            return;
        }
        if let Event::Note { release, message } = e {
            let stamp = humantime::format_rfc3339_seconds(SystemTime::now());
            let _ = writeln!(std::io::stderr().lock(), "{stamp} {release}: {message}");
        }
    }
}

/// `ops backup …`.
pub(crate) fn run(args: &BackupArgs) -> anyhow::Result<ExitStatus> {
    let config = args.config.as_deref();
    match &args.action {
        BackupAction::Run(a) => backup_run(config, a),
        BackupAction::List(a) => list(config, a),
        BackupAction::Verify(a) => verify(config, a),
        BackupAction::Restore(a) => {
            let config = a.config.as_deref().or(config);
            restore_with(config, a)
        }
        BackupAction::Prune(a) => prune(config, a),
        BackupAction::Status(a) => status(config, a),
    }
}

/// `ops restore …`.
pub(crate) fn restore(args: &RestoreArgs) -> anyhow::Result<ExitStatus> {
    restore_with(args.config.as_deref(), args)
}

fn summary(r: &BackupRecord) -> String {
    let verified = match &r.verification {
        Some(v) if v.ok => format!("verified in {:.1}s", v.duration.as_secs_f64()),
        Some(v) => format!("VERIFICATION FAILED: {}", v.error.as_deref().unwrap_or("")),
        None => "not verified".to_owned(),
    };
    format!(
        "{}: {} files, {} ({} engine, {} stored), taken in {:.1}s, {verified}\n",
        r.id,
        r.files,
        bytes(r.bytes),
        r.engine,
        bytes(r.stored_bytes),
        r.duration.as_secs_f64()
    )
}

fn backup_run(config: Option<&std::path::Path>, args: &RunArgs) -> anyhow::Result<ExitStatus> {
    let mut config = load(config)?;
    if args.no_verify
        && let Some(b) = config.backup.as_mut()
    {
        b.verify = false;
    }
    let d = deployer(config);
    match d.backup(BackupKind::Manual, args.lock_wait, progress(args.json)) {
        Ok(record) => {
            if args.json {
                emit(&format!("{}\n", serde_json::to_string(&record)?))?;
            } else {
                emit(&summary(&record))?;
            }
            Ok(ExitStatus::Success)
        }
        Err(Error::VerifyFailed { id, reason }) => failed_verification(&d, &id, &reason, args.json),
        Err(e) => Err(e.into()),
    }
}

fn failed_verification(
    d: &Deployer<Box<dyn ops_deploy::Runtime>>,
    id: &str,
    reason: &str,
    json: bool,
) -> anyhow::Result<ExitStatus> {
    if json && let Some(r) = d.backups()?.get(id) {
        emit(&format!("{}\n", serde_json::to_string(r)?))?;
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "ops: verification of backup {id} failed: {reason}"
    );
    Ok(ExitStatus::Failure)
}

fn list(config: Option<&std::path::Path>, args: &ListArgs) -> anyhow::Result<ExitStatus> {
    let d = deployer(load(config)?);
    let catalog = d.backups()?;
    for u in &catalog.unreadable {
        let _ = writeln!(
            std::io::stderr().lock(),
            "ops: unreadable backup record {u}"
        );
    }
    if args.json {
        emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&catalog.records)?
        ))?;
        return Ok(ExitStatus::Success);
    }
    let mut text = format!(
        "{:<20}  {:<13}  {:<20}  {:>6}  {:>10}  {:<7}  {:<9}  {}\n",
        "BACKUP", "KIND", "TAKEN", "FILES", "SIZE", "ENGINE", "VERIFIED", "RELEASE"
    );
    for r in catalog.records.iter().rev() {
        let verified = match &r.verification {
            Some(v) if v.ok => "ok",
            Some(_) => "FAILED",
            None => "never",
        };
        let release = match (&r.release, &r.before_release) {
            (Some(a), Some(b)) => format!("{a}, before {b}"),
            (Some(a), None) => a.clone(),
            (None, Some(b)) => format!("before {b}"),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            text,
            "{:<20}  {:<13}  {:<20}  {:>6}  {:>10}  {:<7}  {:<9}  {release}",
            r.id,
            r.kind.as_str(),
            humantime::format_rfc3339_seconds(r.finished_at).to_string(),
            r.files,
            bytes(r.bytes),
            r.engine,
            verified,
        );
    }
    emit(&text)?;
    Ok(ExitStatus::Success)
}

fn verify(config: Option<&std::path::Path>, args: &VerifyArgs) -> anyhow::Result<ExitStatus> {
    let d = deployer(load(config)?);
    match d.verify_backup(args.id.as_deref(), args.lock_wait, progress(args.json)) {
        Ok(record) => {
            if args.json {
                emit(&format!("{}\n", serde_json::to_string(&record)?))?;
            } else {
                let v = record.verification.as_ref();
                emit(&format!(
                    "{} verified: restored and compared {} files ({}) in {:.1}s{}\n",
                    record.id,
                    v.map_or(0, |v| v.files),
                    bytes(v.map_or(0, |v| v.bytes)),
                    v.map_or(0.0, |v| v.duration.as_secs_f64()),
                    v.and_then(|v| v.engine_check.as_deref())
                        .map_or_else(String::new, |c| format!("; {c}"))
                ))?;
            }
            Ok(ExitStatus::Success)
        }
        Err(Error::VerifyFailed { id, reason }) => failed_verification(&d, &id, &reason, args.json),
        Err(e) => Err(e.into()),
    }
}

fn restore_with(
    config: Option<&std::path::Path>,
    args: &RestoreArgs,
) -> anyhow::Result<ExitStatus> {
    let d = deployer(load(config)?);
    let request = match (&args.id, &args.before_release) {
        (Some(id), _) => RestoreRequest::backup(id.clone()),
        (None, Some(release)) => RestoreRequest::before_release(release.clone()),
        (None, None) => anyhow::bail!("give a backup id or --before-release RELEASE"),
    }
    .keep_release(args.keep_release);
    let outcome = d.restore(&request, args.lock_wait, progress(args.json))?;
    if args.json {
        emit(&format!("{}\n", serde_json::to_string(&outcome)?))?;
    } else {
        let release = match (&outcome.release, &outcome.release_error) {
            (Some(r), _) => format!("; {r} is running and healthy"),
            (None, Some(e)) => format!("; the release did not come back: {e}"),
            (None, None) => "; no release was running".to_owned(),
        };
        emit(&format!(
            "restored {}: {} files ({}) in {:.1}s{release}; the data it replaced is backup {}\n",
            outcome.backup,
            outcome.files,
            bytes(outcome.bytes),
            outcome.duration.as_secs_f64(),
            outcome.safety_backup
        ))?;
    }
    Ok(if outcome.exit_code() == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn prune(config: Option<&std::path::Path>, args: &ListArgs) -> anyhow::Result<ExitStatus> {
    let d = deployer(load(config)?);
    let deleted = d.prune_backups(args.lock_wait, progress(args.json))?;
    if args.json {
        emit(&format!("{}\n", serde_json::to_string(&deleted)?))?;
    } else if deleted.is_empty() {
        emit("no backup to delete\n")?;
    } else {
        emit(&format!("deleted {}\n", deleted.join(", ")))?;
    }
    Ok(ExitStatus::Success)
}

fn status(config: Option<&std::path::Path>, args: &StatusArgs) -> anyhow::Result<ExitStatus> {
    let d = match load(config) {
        Ok(c) => deployer(c),
        Err(e) if args.format == StatusFormat::Nagios => {
            emit(&format!("UNKNOWN: {e:#}\n"))?;
            return Ok(ExitStatus::Code(3));
        }
        Err(e) => return Err(e),
    };
    let status = match d.backup_status(SystemTime::now()) {
        Ok(s) => s,
        Err(e) if args.format == StatusFormat::Nagios => {
            emit(&format!("UNKNOWN: {e}\n"))?;
            return Ok(ExitStatus::Code(3));
        }
        Err(e) => return Err(e.into()),
    };
    if args.format == StatusFormat::Prometheus {
        emit(&status.to_prometheus())?;
        return Ok(ExitStatus::Success);
    }
    let age = status
        .verified_age()
        .map_or_else(String::new, |a| format!("{}s", a.as_secs()));
    emit(&format!(
        "{}|verified_age={age};;{} backups={}\n",
        status.summary(),
        status.max_age.as_secs(),
        status.backups
    ))?;
    Ok(ExitStatus::Code(if status.stale() { 2 } else { 0 }))
}
