//! `ops deploy` (and `promote`, `abort`, `status`), `ops rollback`, `ops history`, `ops lock`.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use ops_deploy::{
    Actor, Decision, DeployConfig, DeployLock, DeployOutcome, DeployStats, Deployer, Event, State,
    Transition,
};

use crate::ExitStatus;
use crate::cli::{
    DeployAction, DeployArgs, GateArgs, HistoryArgs, LockAction, LockArgs, PruneArgs, RollbackArgs,
};
use crate::output::emit;

fn load(path: &std::path::Path) -> anyhow::Result<DeployConfig> {
    DeployConfig::load(path)
        .with_context(|| format!("loading the deploy config {}", path.display()))
}

fn deployer(config: DeployConfig) -> Deployer<Box<dyn ops_deploy::Runtime>> {
    let runtime = config.runtime();
    Deployer::new(config, runtime)
}

/// The change records (`tracing` events with target `audit`) into ops-logging's audit stream:
/// `<state_dir>/logs/audit.log` (0600), beside `ops-deploy.log` with every deploy event.
/// Nothing on the terminal (progress and `--json` are this command's own). Without a usable
/// log directory the deploy goes on: the history keeps the same records.
fn audit_log(config: &DeployConfig) -> Option<ops_logging::LogGuard> {
    ops_logging::Logging::builder("ops-deploy")
        .dir(config.log_dir())
        .level("info")
        .ignore_env()
        .console(false)
        .install()
        .ok()
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
            Event::Analysis {
                release,
                phase,
                steps,
                measurement,
                counts,
                analysis,
            } => {
                let at = match measurement.step {
                    Some(step) => format!("step {step}/{steps}, {} %", measurement.weight),
                    None => format!("verification, {} %", measurement.weight),
                };
                let text = format!(
                    "{release}: {at}: measurement {} {} [{} failed of {} allowed, {} inconclusive of {}, {} errors in a row of {}]",
                    measurement.number,
                    measurement.summary(),
                    counts.failed,
                    analysis.failure_limit,
                    counts.inconclusive,
                    analysis.inconclusive_limit,
                    counts.consecutive_errors,
                    analysis.consecutive_error_limit,
                );
                match self.display {
                    Display::Quiet => {
                        // --json: each measurement as it is made, one object per line.
                        let line = serde_json::json!({
                            "event": "measurement",
                            "release": release,
                            "phase": phase,
                            "steps": steps,
                            "measurement": measurement,
                            "counts": counts,
                        });
                        let _ = writeln!(std::io::stderr().lock(), "{line}");
                    }
                    _ => self.line(&text),
                }
            }
            _ => {}
        }
        if let Event::Transition {
            release,
            transition,
        } = event
            && self.display == Display::Quiet
            && transition.to == State::Paused
        {
            let line = serde_json::json!({
                "event": "paused",
                "release": release,
                "at": humantime::format_rfc3339_millis(transition.at).to_string(),
                "detail": transition.detail,
            });
            let _ = writeln!(std::io::stderr().lock(), "{line}");
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
    analysis: Option<&ops_deploy::analysis::AnalysisRecord>,
) -> anyhow::Result<ExitStatus> {
    progress.finish();
    if json {
        // The outcome's own fields (`outcome`, `release`, `reason`, …), every transition with
        // its release, and the analysis when there was one.
        let mut value = serde_json::to_value(outcome)?;
        if let Some(a) = analysis {
            value["analysis"] = serde_json::to_value(a)?;
        }
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
        if let Some(a) = analysis
            && !json
        {
            emit(&format!("analysis ({}): {}\n", a.kind, a.summary))?;
        }
    }
    Ok(ExitStatus::Code(outcome.exit_code()))
}

pub(crate) fn deploy(args: &DeployArgs) -> anyhow::Result<ExitStatus> {
    if let Some(action) = &args.action {
        return gate(action);
    }
    // Both required by clap unless a subcommand is given.
    let config_path = args
        .config
        .as_deref()
        .context("--config FILE is required")?;
    let command = args
        .command
        .as_deref()
        .context("--command CMD is required")?;
    let mut config = load(config_path)?;
    if let Some(strategy) = args.strategy {
        config.strategy = strategy;
        config
            .validate()
            .with_context(|| format!("--strategy {strategy} with {}", config_path.display()))?;
    }
    let deployer = deployer(config.clone()).ignore_error_budget(args.ignore_error_budget);
    if args.dry_run {
        let plan = deployer.plan(command)?;
        if args.json {
            emit(&format!("{}\n", serde_json::to_string(&plan)?))?;
        } else {
            emit(&plan.to_string())?;
        }
        return Ok(ExitStatus::Success);
    }
    let _audit = audit_log(&config);
    let line = format!("ops deploy --command {command}");
    let mut progress = Progress::new(args.json);
    let outcome = deployer.deploy(command, &line, args.lock_wait, |e| {
        progress.observe(e);
    })?;
    // The release this deploy recorded (the newest), with its analysis.
    let history = deployer.history().ok();
    let analysis = history
        .as_ref()
        .and_then(|h| h.releases.last())
        .and_then(|r| r.analysis.as_ref());
    finish(&outcome, &mut progress, args.json, analysis)
}

/// `ops deploy promote | abort | status`.
fn gate(action: &DeployAction) -> anyhow::Result<ExitStatus> {
    let (DeployAction::Promote(args) | DeployAction::Abort(args) | DeployAction::Status(args)) =
        action;
    let config = load(&args.config.path)?;
    let deployer = deployer(config);
    let decision = match action {
        DeployAction::Promote(_) => Decision::Promote,
        DeployAction::Abort(_) => Decision::Abort,
        DeployAction::Status(_) => return status(&deployer, args),
    };
    let actor = Actor::current();
    let progress = match deployer.decide(decision, &actor) {
        Ok(p) => p,
        Err(ops_deploy::Error::Gate { reason }) => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "ops: nothing to {}: {reason}",
                decision.as_str()
            );
            return Ok(ExitStatus::Failure);
        }
        Err(e) => return Err(e.into()),
    };
    let taken = deployer.decision_taken(Duration::from_secs(10));
    if args.json {
        let mut v = serde_json::to_value(&progress)?;
        v["decision"] = serde_json::Value::from(decision.as_str());
        v["by"] = serde_json::Value::from(actor.to_string());
        v["taken"] = serde_json::Value::from(taken);
        emit(&format!("{v}\n"))?;
    } else {
        emit(&format!(
            "{} by {actor}: {}; {}\n",
            decision.as_str(),
            progress.summary(),
            if taken {
                "the deploy took it"
            } else {
                "handed over; the deploy has not taken it yet"
            }
        ))?;
    }
    Ok(ExitStatus::Success)
}

fn status(
    deployer: &Deployer<Box<dyn ops_deploy::Runtime>>,
    args: &GateArgs,
) -> anyhow::Result<ExitStatus> {
    let progress = deployer.progress()?;
    if args.json {
        emit(&format!("{}\n", serde_json::to_value(&progress)?))?;
    } else {
        match &progress {
            Some(p) => {
                let mut text = format!("{}\n", p.summary());
                if let Some(last) = &p.last {
                    let _ = writeln!(text, "  last measurement: {last}");
                }
                emit(&text)?;
            }
            None => {
                emit("no canary or verification under way\n")?;
            }
        }
    }
    Ok(ExitStatus::Success)
}

pub(crate) fn rollback(args: &RollbackArgs) -> anyhow::Result<ExitStatus> {
    let config = load(&args.config.path)?;
    let _audit = audit_log(&config);
    let mut progress = Progress::new(args.json);
    let outcome = deployer(config).rollback(
        args.release.as_deref(),
        "ops rollback",
        args.lock_wait,
        |e| progress.observe(e),
    )?;
    finish(&outcome, &mut progress, args.json, None)
}

pub(crate) fn prune(args: &PruneArgs) -> anyhow::Result<ExitStatus> {
    let config = load(&args.config.path)?;
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
    let config = load(&args.config.path)?;
    let history = ops_deploy::History::load(&config.history_path(), &config.service)?;
    if args.stats {
        return stats(&history, args);
    }
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
        if let Some(a) = &r.analysis {
            let _ = writeln!(
                text,
                "{:<16}  analysis ({}, {}): {}",
                "",
                a.kind,
                a.verdict.as_str(),
                a.summary
            );
        } else if let Some(reason) = &r.reason {
            let _ = writeln!(text, "{:<16}  reason: {reason}", "");
        }
    }
    emit(&text)?;
    Ok(ExitStatus::Success)
}

/// `ops history --stats`: deployments by outcome, change-failure ratio, time to restore.
fn stats(history: &ops_deploy::History, args: &HistoryArgs) -> anyhow::Result<ExitStatus> {
    let stats = DeployStats::from_history(history);
    if args.prometheus {
        use ops_core::exposition::Exposition as _;
        emit(&stats.to_prometheus())?;
        return Ok(ExitStatus::Success);
    }
    if args.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&stats)?))?;
        return Ok(ExitStatus::Success);
    }
    let mut text = format!(
        "deploys of {}\n{:<12}  {:<12}  {:>5}\n",
        stats.service, "STRATEGY", "OUTCOME", "COUNT"
    );
    for ((strategy, outcome), n) in &stats.deployments {
        let _ = writeln!(text, "{strategy:<12}  {outcome:<12}  {n:>5}");
    }
    let _ = writeln!(
        text,
        "releases that received production traffic: {}",
        stats.live
    );
    let _ = writeln!(
        text,
        "change failures: {}{}",
        stats.change_failures,
        stats
            .change_failure_ratio
            .map_or_else(String::new, |r| format!(" (change-failure ratio {r:.3})"))
    );
    let _ = writeln!(
        text,
        "time to restore: {}",
        stats.time_to_restore.map_or_else(
            || "no restore recorded".to_owned(),
            |t| format!(
                "{} (median of {})",
                humantime::format_duration(Duration::from_millis(
                    u64::try_from(t.as_millis()).unwrap_or(u64::MAX)
                )),
                stats.restores
            )
        )
    );
    if !stats.analyses.is_empty() {
        let analyses: Vec<String> = stats
            .analyses
            .iter()
            .map(|((phase, verdict), n)| format!("{phase} {verdict} {n}"))
            .collect();
        let _ = writeln!(text, "analyses: {}", analyses.join(", "));
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
