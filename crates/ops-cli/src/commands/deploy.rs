//! `ops deploy`, `ops rollback`, `ops history`, `ops lock`.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::time::SystemTime;

use anyhow::Context as _;
use ops_deploy::{DeployConfig, DeployLock, DeployOutcome, Deployer, Event, Transition};

use crate::ExitStatus;
use crate::cli::{DeployArgs, HistoryArgs, LockAction, LockArgs, PruneArgs, RollbackArgs};
use crate::output::emit;

fn load(path: &std::path::Path) -> anyhow::Result<DeployConfig> {
    DeployConfig::load(path)
        .with_context(|| format!("loading the deploy config {}", path.display()))
}

fn deployer(config: DeployConfig) -> Deployer<Box<dyn ops_deploy::Runtime>> {
    let runtime = config.runtime();
    Deployer::new(config, runtime)
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Display {
    /// stdout is a terminal: one live line per health-check wait, rewritten in place.
    Live,
    /// Timestamped lines on stderr (logs, CI).
    Lines,
    /// `--json`: nothing until the result.
    Quiet,
}

/// Shows progress and keeps the transitions for the JSON result.
struct Progress {
    display: Display,
    transitions: Vec<(String, Transition)>,
    /// A live line is on screen and must be ended before the next line.
    live_line: bool,
}

impl Progress {
    fn new(json: bool) -> Progress {
        let display = if json {
            Display::Quiet
        } else if std::io::stdout().is_terminal() {
            Display::Live
        } else {
            Display::Lines
        };
        Progress {
            display,
            transitions: Vec::new(),
            live_line: false,
        }
    }

    fn line(&mut self, text: &str) {
        let stamp = humantime::format_rfc3339_seconds(SystemTime::now());
        match self.display {
            Display::Quiet => {}
            Display::Lines => {
                let _ = writeln!(std::io::stderr().lock(), "{stamp} {text}");
            }
            Display::Live => {
                let mut out = std::io::stdout().lock();
                if self.live_line {
                    let _ = writeln!(out);
                    self.live_line = false;
                }
                let _ = writeln!(out, "{stamp} {text}");
            }
        }
    }

    fn observe(&mut self, event: &Event<'_>) {
        match event {
            Event::Transition {
                release,
                transition,
            } => {
                self.transitions
                    .push(((*release).to_owned(), (*transition).clone()));
                self.line(&format!(
                    "{release}: {} -> {}  {}",
                    transition.from, transition.to, transition.detail
                ));
            }
            Event::Attempt {
                release,
                attempt,
                retries,
            } => {
                let result = match &attempt.result {
                    Ok(code) => format!("healthy (HTTP {code})"),
                    Err(e) => e.to_string(),
                };
                let text = format!(
                    "{release}: health check {} ({} of {retries} failures allowed), {:.1}s: {result}",
                    attempt.number,
                    attempt.counted,
                    attempt.elapsed.as_secs_f64()
                );
                if self.display == Display::Live {
                    let mut out = std::io::stdout().lock();
                    let _ = write!(out, "\r\x1b[2K  {text}");
                    let _ = out.flush();
                    self.live_line = true;
                } else {
                    self.line(&text);
                }
            }
            Event::Note { release, message } => self.line(&format!("{release}: {message}")),
            _ => {}
        }
    }

    fn finish(&mut self) {
        if self.live_line {
            let _ = writeln!(std::io::stdout().lock());
            self.live_line = false;
        }
    }
}

fn finish(
    outcome: &DeployOutcome,
    progress: &mut Progress,
    json: bool,
) -> anyhow::Result<ExitStatus> {
    progress.finish();
    if json {
        // The outcome's own fields (`outcome`, `release`, `reason`, …), and every transition
        // with its release.
        let mut value = serde_json::to_value(outcome)?;
        let transitions = progress
            .transitions
            .iter()
            .map(|(release, transition)| {
                let mut t = serde_json::to_value(transition)?;
                t["release"] = serde_json::Value::from(release.as_str());
                Ok(t)
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        value["transitions"] = serde_json::Value::Array(transitions);
        emit(&format!("{value}\n"))?;
    } else {
        let text = match outcome {
            DeployOutcome::Healthy { release } => format!("{release} is running and healthy\n"),
            DeployOutcome::RolledBack {
                failed,
                restored,
                reason,
            } => format!("{failed} failed ({reason}); {restored} is running and healthy\n"),
            DeployOutcome::Aborted {
                release,
                reason,
                running,
            } => format!(
                "{release} was not deployed ({reason}); {}\n",
                running.as_deref().map_or_else(
                    || "nothing is running".to_owned(),
                    |r| format!("{r} is still running")
                )
            ),
            DeployOutcome::NothingHealthy { reason } => {
                format!("nothing healthy is running: {reason}\n")
            }
            other => format!(
                "{}\n",
                other
                    .reason()
                    .map_or_else(|| "unknown outcome".to_owned(), ToString::to_string)
            ),
        };
        emit(&text)?;
    }
    Ok(ExitStatus::Code(outcome.exit_code()))
}

pub(crate) fn deploy(args: &DeployArgs) -> anyhow::Result<ExitStatus> {
    let mut config = load(&args.config)?;
    if let Some(strategy) = args.strategy {
        config.strategy = strategy;
        config
            .validate()
            .with_context(|| format!("--strategy {strategy} with {}", args.config.display()))?;
    }
    let deployer = deployer(config).ignore_error_budget(args.ignore_error_budget);
    if args.dry_run {
        let plan = deployer.plan(&args.command)?;
        if args.json {
            emit(&format!("{}\n", serde_json::to_string(&plan)?))?;
        } else {
            emit(&plan.to_string())?;
        }
        return Ok(ExitStatus::Success);
    }
    let line = format!("ops deploy --command {}", args.command);
    let mut progress = Progress::new(args.json);
    let outcome = deployer.deploy(&args.command, &line, args.lock_wait, |e| {
        progress.observe(e);
    })?;
    finish(&outcome, &mut progress, args.json)
}

pub(crate) fn rollback(args: &RollbackArgs) -> anyhow::Result<ExitStatus> {
    let config = load(&args.config)?;
    let mut progress = Progress::new(args.json);
    let outcome = deployer(config).rollback(
        args.release.as_deref(),
        "ops rollback",
        args.lock_wait,
        |e| progress.observe(e),
    )?;
    finish(&outcome, &mut progress, args.json)
}

pub(crate) fn prune(args: &PruneArgs) -> anyhow::Result<ExitStatus> {
    let config = load(&args.config)?;
    let mut progress = Progress::new(args.json);
    let pruned = deployer(config).prune(args.lock_wait, |e| progress.observe(e))?;
    progress.finish();
    if args.json {
        emit(&format!("{}\n", serde_json::to_string(&pruned)?))?;
    } else if pruned.is_empty() {
        emit("nothing to prune\n")?;
    } else {
        emit(&format!("pruned {}\n", pruned.join(", ")))?;
    }
    Ok(ExitStatus::Success)
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
