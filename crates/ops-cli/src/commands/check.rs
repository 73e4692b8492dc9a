//! `ops check`: a Nagios/Icinga plugin. The checking is `ops_thresholds::nagios`'s; this reads
//! the flags, takes the sample and prints the line.

use std::str::FromStr as _;

use ops_metrics::{MetricsSource, ProcSource, SystemMetrics};
use ops_thresholds::nagios::{self, CheckResult, Range, Status};
use ops_thresholds::{Metric, RuleSet};

use crate::ExitStatus;
use crate::cli::CheckArgs;
use crate::output::emit;

/// Prints `OPS UNKNOWN: reason` and exits 3 (the Monitoring Plugins' state for "the plugin
/// could not check": usage errors included, never 2, which Nagios reads as CRITICAL).
pub(crate) fn unknown(reason: &str) -> ExitStatus {
    let r = CheckResult {
        service: "OPS".into(),
        status: Status::Unknown,
        text: reason.to_owned(),
        perfdata: Vec::new(),
    };
    let _ = emit(&format!("{r}\n"));
    ExitStatus::Code(3)
}

/// An error and its causes, one after the other (`cannot read rule file x: No such file…`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn sample(args: &CheckArgs) -> Result<SystemMetrics, String> {
    if let Some(path) = &args.sample {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read sample {}: {e}", path.display()))?;
        return serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: not a sample saved by `ops metrics --format json`: {e}",
                path.display()
            )
        });
    }
    let mut source = ProcSource::new();
    source.collect().map_err(|e| chain(&e))?;
    std::thread::sleep(args.cpu_window);
    source.collect().map_err(|e| chain(&e))
}

fn range(text: Option<&String>) -> Result<Option<Range>, String> {
    text.map(|t| Range::from_str(t))
        .transpose()
        .map_err(|e| e.to_string())
}

fn check(args: &CheckArgs) -> Result<CheckResult, String> {
    // Everything that can be refused is refused before measuring.
    let warning = range(args.warning.as_ref())?;
    let critical = range(args.critical.as_ref())?;
    let metric = args
        .metric
        .as_deref()
        .map(Metric::from_str)
        .transpose()
        .map_err(|e| e.to_string())?;
    let rules = match (&args.rules, &metric) {
        (Some(path), _) => Some(RuleSet::load(path).map_err(|e| chain(&e))?),
        (None, Some(_)) => None,
        (None, None) => Some(RuleSet::defaults()),
    };
    if args.mount.is_some() && metric != Some(Metric::Disk) {
        return Err("--mount selects a mount of --metric disk only".into());
    }
    if metric.is_some() && warning.is_none() && critical.is_none() {
        return Err(
            "no threshold given: set a warning range (-w), a critical range (-c) or both".into(),
        );
    }
    let m = sample(args)?;
    match (rules, metric) {
        (Some(rules), _) => Ok(nagios::check(&rules, &m)),
        (None, Some(metric)) => {
            nagios::check_metric(&metric, args.mount.as_deref(), &m, warning, critical)
        }
        (None, None) => Err("nothing to check".into()),
    }
}

pub(crate) fn run(args: &CheckArgs) -> ExitStatus {
    match check(args) {
        Ok(result) => {
            let _ = emit(&format!("{result}\n"));
            ExitStatus::Code(u8::try_from(result.status.code()).unwrap_or(3))
        }
        Err(reason) => unknown(&reason),
    }
}
