//! `ops monitor`: the playbook's `start_monitoring`, done right. The work is
//! `ops_thresholds::Monitor`'s; this reads the flags, wires the sinks and waits for a stop.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use ops_core::shutdown::Shutdown;
use ops_slo::{Prober, Sli, Slo, SloEngine, SloSet};
use ops_thresholds::{AlertmanagerSink, Monitor, RuleSet, WebhookSink};

use crate::ExitStatus;
use crate::cli::MonitorArgs;

/// Webhook URLs from `--webhook` and `--webhook-file`.
fn webhook_urls(args: &MonitorArgs) -> anyhow::Result<Vec<String>> {
    let mut urls = args.webhook.clone();
    if let Some(path) = &args.webhook_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        urls.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    Ok(urls)
}

/// The prober of `--probe`, if any URL is given.
fn prober(args: &MonitorArgs) -> anyhow::Result<Option<Prober>> {
    if args.probe.is_empty() {
        return Ok(None);
    }
    let mut builder = Prober::builder()
        .interval(args.probe_interval)
        .timeout(args.probe_timeout);
    for url in &args.probe {
        builder = builder.target(url)?;
    }
    for code in &args.probe_status {
        builder = builder.expect_status(*code);
    }
    Ok(Some(builder.start().context("starting the prober")?))
}

/// The SLO engine of `--slo`, with an availability SLO on the probes when `--probe` is given
/// and no SLO reads them.
fn slo_engine(args: &MonitorArgs) -> anyhow::Result<Option<SloEngine>> {
    let mut set = match &args.slo {
        Some(path) => {
            SloSet::load(path).with_context(|| format!("loading the SLOs of {}", path.display()))?
        }
        None => SloSet::default(),
    };
    if !args.probe.is_empty() && !set.slos.iter().any(|s| matches!(s.sli, Sli::Probe { .. })) {
        set.slos.push(
            Slo::new("ops-monitor", "probe-availability", Sli::probe(None))
                .description("99.5 % of the black-box probes succeed"),
        );
    }
    if set.slos.is_empty() {
        if args.slo_state.is_some() {
            anyhow::bail!("--slo-state needs SLOs: --slo FILE or --probe URL");
        }
        return Ok(None);
    }
    let mut builder = SloEngine::builder(set);
    match &args.slo_state {
        Some(path) => builder = builder.state_file(path),
        None => {
            tracing::warn!("the SLO budgets are not kept across restarts (no --slo-state FILE)");
        }
    }
    let engine = builder.build().context("starting the SLO engine")?;
    match engine.state_load() {
        ops_slo::StateLoad::SetAside { to, reason } => tracing::error!(
            set_aside = %to.display(),
            %reason,
            "the SLO state file was unusable: set aside, the budgets start empty"
        ),
        ops_slo::StateLoad::Loaded { slos, dropped } => {
            tracing::info!(slos, dropped = dropped.len(), "SLO budgets restored");
        }
        _ => {}
    }
    Ok(Some(engine))
}

/// The monitor with the prober's section and the SLO engine as its recording; the prober, to
/// stop it.
fn with_slos(
    args: &MonitorArgs,
    mut builder: ops_thresholds::MonitorBuilder,
) -> anyhow::Result<(ops_thresholds::MonitorBuilder, Option<Prober>)> {
    let prober = prober(args)?;
    if let Some(p) = &prober {
        builder = builder.section(p.section());
    }
    if let Some(e) = slo_engine(args)? {
        builder = builder.recording(e);
    }
    Ok((builder, prober))
}

/// The rule `--deploy-config` adds when a service has `[backup]`: its newest verified backup is
/// older than its `max_age` (`ops_backup_verified_stale`, from the backup figures).
fn backup_rule() -> anyhow::Result<ops_thresholds::Rule> {
    Ok(ops_thresholds::Rule::promql(
        "BackupVerifiedTooOld",
        "max by (service) (ops_backup_verified_stale) == 1",
    )?
    .severity(ops_thresholds::Severity::Critical)
    .summary("no verified backup of {{ labels.service }} younger than its max_age"))
}

/// `--deploy-config`: each service's deploy figures, and its backup figures when it has
/// `[backup]`, read from its state directory at every scrape and evaluation.
fn with_deploys(
    args: &MonitorArgs,
    mut builder: ops_thresholds::MonitorBuilder,
    rules: &mut RuleSet,
) -> anyhow::Result<ops_thresholds::MonitorBuilder> {
    let mut backups = false;
    for path in &args.deploy_config {
        let config = ops_deploy::DeployConfig::load(path)
            .with_context(|| format!("loading the deploy configuration {}", path.display()))?;
        backups |= config.backup.is_some();
        builder = builder.section(ops_core::exposition::section(move |out: &mut String| {
            use ops_core::Exposition as _;
            let deployer = ops_deploy::Deployer::new(config.clone(), config.runtime());
            match deployer.history() {
                Ok(history) => ops_deploy::DeployStats::from_history(&history).encode_prometheus(out),
                Err(e) => tracing::warn!(service = %config.service, error = %e, "cannot read the deploy history"),
            }
            if config.backup.is_some() {
                match deployer.backup_status(std::time::SystemTime::now()) {
                    Ok(status) => status.encode_prometheus(out),
                    Err(e) => tracing::warn!(service = %config.service, error = %e, "cannot read the backup catalogue"),
                }
            }
        }));
    }
    if backups && !rules.rules.iter().any(|r| r.name == "BackupVerifiedTooOld") {
        rules.rules.push(backup_rule()?);
    }
    Ok(builder)
}

pub(crate) fn run(args: &MonitorArgs) -> anyhow::Result<ExitStatus> {
    let _logging = ops_logging::Logging::builder("ops-monitor")
        .files(false)
        .console(true)
        .level("info")
        .build()
        .ok()
        .map(|(dispatch, guard)| {
            let _ = tracing::dispatcher::set_global_default(dispatch);
            guard
        });
    let mut rules = match &args.rules {
        Some(path) => {
            RuleSet::load(path).with_context(|| format!("loading rules from {}", path.display()))?
        }
        None => RuleSet::defaults(),
    };
    let stop = Shutdown::on_signals().context("installing the SIGINT/SIGTERM handlers")?;
    let builder = with_deploys(args, Monitor::builder().stdout(!args.quiet), &mut rules)?;
    let (mut builder, prober) = with_slos(args, builder.rules(rules))?;
    if let Some(interval) = args.interval {
        builder = builder.interval(interval);
    }
    for url in &args.alertmanager {
        builder = builder.sink(AlertmanagerSink::new(url));
    }
    for url in webhook_urls(args)? {
        builder = builder.sink(WebhookSink::new(url));
    }
    let monitor = if args.replay.is_some() {
        builder.build()
    } else {
        builder.start()
    }
    .context("starting the monitor")?;
    let server = match &args.listen {
        Some(addr) => {
            let server = monitor.serve(addr)?;
            tracing::info!(local = %server.local_addr(), "serving /metrics and /health");
            Some(server)
        }
        None => None,
    };
    if let Some(d) = args.duration {
        let timer = stop.clone();
        std::thread::Builder::new()
            .name("ops-monitor-duration".into())
            .spawn(move || {
                if !timer.wait_timeout(d) {
                    timer.request();
                }
            })
            .context("starting the --duration timer")?;
    }
    if let Some(path) = &args.replay {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let stats = monitor
            .replay(file, &stop)
            .with_context(|| format!("replaying {}", path.display()))?;
        if stats.skipped() > 0 {
            tracing::warn!(
                invalid = stats.invalid,
                not_utf8 = stats.not_utf8,
                too_long = stats.too_long,
                "replay: {} of {} lines skipped",
                stats.skipped(),
                stats.lines
            );
        }
    } else {
        stop.wait();
    }
    drop(server);
    if let Some(p) = &prober {
        p.stop();
    }
    // Writes the SLO state a last time.
    let report = monitor.stop(Duration::from_secs(10));
    let mut summary = format!(
        "ops monitor: {} samples, {} notifications",
        report.samples, report.notifications
    );
    for sink in &report.sinks {
        let _ = write!(
            summary,
            "; {}: {} delivered, {} failed, {} dropped",
            sink.name, sink.delivered, sink.failed, sink.dropped
        );
    }
    if !report.late_sinks.is_empty() {
        let _ = write!(summary, "; not finished: {}", report.late_sinks.join(", "));
    }
    if report.sampler.failures > 0 {
        let _ = write!(summary, "; {} samples failed", report.sampler.failures);
    }
    tracing::info!("{summary}");
    Ok(ExitStatus::Success)
}
