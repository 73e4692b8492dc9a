//! `ops check`: a Nagios/Icinga plugin.

use std::str::FromStr as _;

use ops_metrics::{MetricsSource, ProcSource, SystemMetrics};
use ops_thresholds::nagios::{CheckResult, PerfData, Range, Status};
use ops_thresholds::{Comparison, Rule, RuleSet};

use crate::ExitStatus;
use crate::cli::CheckArgs;
use crate::output::emit;

/// Prints `OPS UNKNOWN: reason` and exits 3.
fn unknown(reason: &str) -> ExitStatus {
    let r = CheckResult {
        service: "OPS".into(),
        status: Status::Unknown,
        text: reason.to_owned(),
        perfdata: Vec::new(),
    };
    let _ = emit(&format!("{r}\n"));
    ExitStatus::Code(3)
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
    source.collect().map_err(|e| format!("{e:#}"))?;
    std::thread::sleep(args.cpu_window);
    source.collect().map_err(|e| format!("{e:#}"))
}

/// One checked figure: `(label, value, unit, max)`.
type Figure = (String, f64, &'static str, Option<f64>);

/// The values of one metric in a sample.
fn values(metric: &str, m: &SystemMetrics, mount: Option<&str>) -> Result<Vec<Figure>, String> {
    let one = |label: &str, v: Option<f64>, uom, max| {
        v.map(|v| vec![(label.to_owned(), v, uom, max)])
            .ok_or(format!("no {label} figure in the sample"))
    };
    match metric {
        "cpu" => one("cpu", m.cpu_percent, "%", Some(100.0)),
        "memory" => one("memory", Some(m.memory_percent), "%", Some(100.0)),
        "processes" => one("processes", Some(m.process_count as f64), "", None),
        "load1" => one("load1", m.load_average.map(|l| l.one), "", None),
        "load5" => one("load5", m.load_average.map(|l| l.five), "", None),
        "load15" => one("load15", m.load_average.map(|l| l.fifteen), "", None),
        "disk" => {
            let v: Vec<_> = m
                .disk_usage
                .iter()
                .filter(|(k, _)| mount.is_none_or(|want| want == k.as_str()))
                .map(|(k, &p)| (k.clone(), p, "%", Some(100.0)))
                .collect();
            match mount {
                // No mount selected and none measured: nothing to check.
                Some(want) if v.is_empty() => Err(format!("no disk {want} in the sample")),
                _ => Ok(v),
            }
        }
        other => Err(format!(
            "unknown metric {other:?} (cpu, memory, disk, processes, load1, load5, load15)"
        )),
    }
}

fn check_metric(args: &CheckArgs, metric: &str, m: &SystemMetrics) -> Result<CheckResult, String> {
    let parse = |r: &Option<String>| -> Result<Option<Range>, String> {
        r.as_deref()
            .map(Range::from_str)
            .transpose()
            .map_err(|e| e.to_string())
    };
    let warning = parse(&args.warning)?;
    let critical = parse(&args.critical)?;
    let mut status = Status::Ok;
    let mut text = Vec::new();
    let mut perfdata = Vec::new();
    for (label, value, uom, max) in values(metric, m, args.mount.as_deref())? {
        let s = ops_thresholds::nagios::status(value, warning.as_ref(), critical.as_ref());
        status = status.worst(s);
        text.push(format!("{label} {value:.1}{uom}"));
        perfdata.push(PerfData {
            label,
            value,
            uom: uom.to_owned(),
            warning,
            critical,
            min: Some(0.0),
            max,
        });
    }
    Ok(CheckResult {
        service: "OPS".into(),
        status,
        text: text.join(", "),
        perfdata,
    })
}

/// A rule's threshold as a Monitoring Plugins range that alerts exactly when the rule does:
/// `>` t → `~:t` (outside (-∞, t]), `>=` t → `@t:` (inside [t, ∞)), `<` t → `t:`,
/// `<=` t → `@~:t`. Ranges are inclusive, so the `@` forms are what make equality alert.
fn rule_range(rule: &Rule) -> Option<Range> {
    let t = rule.threshold;
    let text = match rule.comparison {
        Comparison::Greater => format!("~:{t}"),
        Comparison::GreaterOrEqual => format!("@{t}:"),
        Comparison::Less => format!("{t}:"),
        Comparison::LessOrEqual => format!("@~:{t}"),
        _ => return None,
    };
    Range::from_str(&text).ok()
}

fn check_rules(rules: &RuleSet, m: &SystemMetrics) -> CheckResult {
    let mut status = Status::Ok;
    let mut alerts = Vec::new();
    let mut perfdata = Vec::new();
    for rule in &rules.rules {
        let metric = rule.metric.name();
        let vals = match values(metric, m, rule.selector.as_deref()) {
            Ok(v) => v,
            // A rule that one sample cannot answer (rates, profiler figures, a missing mount)
            // makes the check UNKNOWN: silence would read as "OK".
            Err(reason) => {
                return CheckResult {
                    service: "OPS".into(),
                    status: Status::Unknown,
                    text: format!("rule {:?} cannot be checked: {reason}", rule.name),
                    perfdata: Vec::new(),
                };
            }
        };
        for (label, value, uom, max) in vals {
            let breached = rule.comparison.breached(value, rule.threshold);
            let critical = rule.severity.eq_ignore_ascii_case("critical");
            if breached {
                status = status.worst(if critical {
                    Status::Critical
                } else {
                    Status::Warning
                });
                let mut one = rules.clone();
                one.rules = vec![rule.clone()];
                let mut eval = ops_thresholds::Evaluator::new(one);
                let mut out = Vec::new();
                eval.evaluate(
                    m.timestamp,
                    ops_thresholds::Observation {
                        metrics: m,
                        profile: None,
                    },
                    &mut out,
                );
                let message = out
                    .iter()
                    .find(|n| n.label("mount").is_none_or(|mnt| mnt == label))
                    .map(|n| n.message().to_owned());
                alerts.push(message.unwrap_or_else(|| format!("{} {label} {value:.1}", rule.name)));
            }
            let range = rule_range(rule);
            let label = if metric == "disk" {
                label
            } else {
                rule.name.clone()
            };
            perfdata.push(PerfData {
                label,
                value,
                uom: uom.to_owned(),
                warning: if critical_rule(rule) { None } else { range },
                critical: if critical_rule(rule) { range } else { None },
                min: Some(0.0),
                max,
            });
        }
    }
    let text = if alerts.is_empty() {
        format!("{} rules checked, none breached", rules.rules.len())
    } else {
        alerts.join("; ")
    };
    CheckResult {
        service: "OPS".into(),
        status,
        text,
        perfdata,
    }
}

fn critical_rule(rule: &Rule) -> bool {
    rule.severity.eq_ignore_ascii_case("critical")
}

pub(crate) fn run(args: &CheckArgs) -> ExitStatus {
    let rules = match (&args.rules, &args.metric) {
        (Some(path), _) => match RuleSet::load(path) {
            Ok(r) => Some(r),
            Err(e) => return unknown(&e.to_string()),
        },
        (None, Some(_)) => None,
        (None, None) => Some(RuleSet::defaults()),
    };
    // Validate ranges before measuring, so a typo answers at once.
    for r in [&args.warning, &args.critical].into_iter().flatten() {
        if let Err(e) = Range::from_str(r) {
            return unknown(&e.to_string());
        }
    }
    let m = match sample(args) {
        Ok(m) => m,
        Err(e) => return unknown(&e),
    };
    let result = match (&rules, &args.metric) {
        (Some(rules), _) => check_rules(rules, &m),
        (None, Some(metric)) => match check_metric(args, metric, &m) {
            Ok(r) => r,
            Err(e) => return unknown(&e),
        },
        (None, None) => return unknown("nothing to check"),
    };
    let _ = emit(&format!("{result}\n"));
    ExitStatus::Code(u8::try_from(result.status.code()).unwrap_or(3))
}
