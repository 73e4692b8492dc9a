//! `ops deploy`, `ops rollback`, `ops history`, `ops lock`.

use std::fmt::Write as _;
use std::time::SystemTime;

use anyhow::Context as _;
use ops_deploy::health::Attempt;
use ops_deploy::{DeployConfig, DeployLock, DeployOutcome, Deployer};

use crate::ExitStatus;
use crate::cli::{DeployArgs, HistoryArgs, LockAction, LockArgs, RollbackArgs};
use crate::output::emit;

fn load(path: &std::path::Path) -> anyhow::Result<DeployConfig> {
    DeployConfig::load(path)
        .with_context(|| format!("loading the deploy config {}", path.display()))
}

fn deployer(config: DeployConfig) -> Deployer<Box<dyn ops_deploy::Runtime>> {
    let runtime = config.runtime();
    Deployer::new(config, runtime)
}

/// A timestamped progress line on stderr per health-check attempt.
fn progress(total: u32) -> impl FnMut(&str, &Attempt) {
    move |release, a| {
        let stamp = humantime::format_rfc3339_seconds(SystemTime::now());
        let result = match &a.result {
            Ok(code) => format!("healthy (HTTP {code})"),
            Err(e) => e.to_string(),
        };
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "{stamp} {release}: health check {} ({} of {total} counted), {:.1}s: {result}",
                a.number,
                a.counted,
                a.elapsed.as_secs_f64()
            );
        }
    }
}

fn finish(outcome: &DeployOutcome, json: bool) -> anyhow::Result<ExitStatus> {
    let (code, value) = match outcome {
        DeployOutcome::Healthy { release } => (
            0,
            serde_json::json!({"outcome": "healthy", "release": release}),
        ),
        DeployOutcome::RolledBack {
            failed,
            restored,
            reason,
        } => (
            1,
            serde_json::json!({"outcome": "rolled_back", "failed": failed, "restored": restored, "reason": reason}),
        ),
        DeployOutcome::NothingHealthy { reason } => (
            4,
            serde_json::json!({"outcome": "nothing_healthy", "reason": reason}),
        ),
        _ => (4, serde_json::json!({"outcome": "unknown"})),
    };
    let text = if json {
        format!("{value}\n")
    } else {
        match outcome {
            DeployOutcome::Healthy { release } => format!("{release} is running and healthy\n"),
            DeployOutcome::RolledBack {
                failed,
                restored,
                reason,
            } => {
                format!("{failed} failed ({reason}); rolled back to {restored}, which is healthy\n")
            }
            DeployOutcome::NothingHealthy { reason } => {
                format!("nothing healthy is running: {reason}\n")
            }
            _ => "unknown outcome\n".to_owned(),
        }
    };
    emit(&text)?;
    Ok(ExitStatus::Code(code))
}

pub(crate) fn deploy(args: &DeployArgs) -> anyhow::Result<ExitStatus> {
    let config = load(&args.config)?;
    if args.dry_run {
        let history = ops_deploy::History::load(&config.history_path(), &config.service)?;
        let target = history
            .last_healthy()
            .map_or_else(|| "none".to_owned(), |r| r.id.clone());
        emit(&format!(
            "plan for {}: lock {}; stop the running release; start `{}` on 127.0.0.1:{}; health-check GET {} ({} attempts, {:?} apart, {:?} each); on failure stop it and restore {target}\n",
            config.service,
            config.lock_path().display(),
            args.command,
            config.port,
            config.health.path,
            config.health.retries,
            config.health.interval,
            config.health.timeout
        ))?;
        return Ok(ExitStatus::Success);
    }
    let total = config.health.retries;
    let line = format!("ops deploy --command {}", args.command);
    let outcome = deployer(config).deploy(&args.command, &line, args.lock_wait, progress(total))?;
    finish(&outcome, args.json)
}

pub(crate) fn rollback(args: &RollbackArgs) -> anyhow::Result<ExitStatus> {
    let config = load(&args.config)?;
    let total = config.health.retries;
    let outcome = deployer(config).rollback(
        args.release.as_deref(),
        "ops rollback",
        args.lock_wait,
        progress(total),
    )?;
    finish(&outcome, args.json)
}

pub(crate) fn history(args: &HistoryArgs) -> anyhow::Result<ExitStatus> {
    let config = load(&args.config)?;
    let history = ops_deploy::History::load(&config.history_path(), &config.service)?;
    if args.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&history)?))?;
        return Ok(ExitStatus::Success);
    }
    let mut text = format!(
        "{:<16}  {:<12}  {:<24}  {}\n",
        "RELEASE", "OUTCOME", "STARTED", "ARTIFACT"
    );
    for r in history.releases.iter().rev() {
        let outcome = serde_json::to_value(r.outcome)?
            .as_str()
            .unwrap_or("")
            .to_owned();
        let _ = writeln!(
            text,
            "{:<16}  {:<12}  {:<24}  {}",
            r.id,
            outcome,
            humantime::format_rfc3339_seconds(r.started_at).to_string(),
            r.artifact
        );
    }
    emit(&text)?;
    Ok(ExitStatus::Success)
}

pub(crate) fn lock(args: &LockArgs) -> anyhow::Result<ExitStatus> {
    let path = args
        .config
        .as_deref()
        .context("--config FILE is required")?;
    let config = load(path)?;
    match args.action {
        LockAction::Status => match DeployLock::status(config.lock_path())? {
            Some(holder) => emit(&format!("locked: {holder}\n"))?,
            None => emit("unlocked\n")?,
        },
        LockAction::Release { .. } => match DeployLock::force_release(config.lock_path())? {
            Some(holder) => emit(&format!("released the lock held by {holder}\n"))?,
            None => emit("the lock was not held\n")?,
        },
    };
    Ok(ExitStatus::Success)
}
