//! `ops slo status` and `ops slo export`: the budgets a monitor keeps in its state file, and
//! the Prometheus rules for the same SLOs.
//!
//! Exit codes: 0 done; 2 a file that cannot be read, a definition or a state file that is
//! unusable.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use ops_slo::{SloSet, SloStatus, StateFile};

use crate::ExitStatus;
use crate::output::{self, emit};

/// `ops slo`.
#[derive(Debug, Args)]
pub(crate) struct SloArgs {
    #[command(subcommand)]
    pub(crate) action: SloAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SloAction {
    /// Each SLO's error budget and burn rates, from the state file a monitor keeps
    /// (`ops monitor --slo-state FILE`, `SloEngineBuilder::state_file`).
    ///
    /// The figures are as of the last minute the monitor computed. With --slos, SLOs of the
    /// definitions file without figures yet are listed too.
    Status(StatusArgs),
    /// Prometheus recording and alerting rules for the SLOs of a definitions file (Sloth's
    /// names and labels): one rule group per SLO.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The state file.
    #[arg(long, value_name = "FILE")]
    pub(crate) state: PathBuf,

    /// The SLO definitions (.toml, .yaml, .yml; `OpenSLO` too).
    #[arg(long, value_name = "FILE")]
    pub(crate) slos: Option<PathBuf>,

    /// One JSON object: `written_at`, `as_of`, and `slos`, each with its budget, windows and
    /// alerts.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The SLO definitions (.toml, .yaml, .yml; `OpenSLO` too).
    #[arg(long, value_name = "FILE")]
    pub(crate) slos: PathBuf,

    /// Write the rules to this file (default: stdout).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

pub(crate) fn run(args: &SloArgs) -> anyhow::Result<ExitStatus> {
    match &args.action {
        SloAction::Status(a) => status(a),
        SloAction::Export(a) => export(a),
    }
}

fn load_slos(path: &std::path::Path) -> anyhow::Result<SloSet> {
    SloSet::load(path).with_context(|| format!("loading the SLOs of {}", path.display()))
}

fn export(args: &ExportArgs) -> anyhow::Result<ExitStatus> {
    let set = load_slos(&args.slos)?;
    let rules = ops_slo::export::prometheus_rules(&set);
    match &args.output {
        Some(path) => std::fs::write(path, rules)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            emit(&rules)?;
        }
    }
    Ok(ExitStatus::Success)
}

fn percent(ratio: f64) -> String {
    let p = ratio * 100.0;
    let text = format!("{p:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

fn window(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else {
        format!("{}m", s / 60)
    }
}

fn span(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else {
        format!("{minutes}m")
    }
}

/// The table: one row per SLO, then the burn rates per window.
fn table(statuses: &[SloStatus], undefined: &[String], missing: &[String]) -> String {
    let mut out = String::new();
    let width = output::column_width(
        "SLO",
        statuses
            .iter()
            .map(|s| s.id.len())
            .chain(missing.iter().map(String::len)),
    );
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}  {:>6}  {:>8}  {:>17}  {:>9}  {:>10}  ALERTS",
        "SLO", "OBJECTIVE", "WINDOW", "SLI", "BUDGET LEFT", "EXHAUSTED", "TIME LEFT"
    );
    for s in statuses {
        let b = &s.budget;
        let left = format!(
            "{} ({:.0} min)",
            percent(b.remaining_ratio),
            b.remaining_minutes
        );
        let time_left = match (b.exhausted, s.time_to_exhaustion) {
            (true, _) => "spent".to_owned(),
            (false, Some(t)) => span(t),
            (false, None)
                if s.burn_window
                    .is_some_and(|w| s.window(w).is_some_and(|x| !x.no_data)) =>
            {
                "never".to_owned()
            }
            (false, None) => "-".to_owned(),
        };
        let burning: Vec<String> = s
            .burning()
            .map(|a| format!("{} {}/{}", a.severity, window(a.long), window(a.short)))
            .collect();
        let mut alerts = if burning.is_empty() {
            "-".to_owned()
        } else {
            burning.join(", ")
        };
        if undefined.contains(&s.id) {
            alerts.push_str(" (not in the definitions)");
        }
        if let Some(e) = &s.error {
            let _ = write!(alerts, " ERROR: {e}");
        }
        let _ = writeln!(
            out,
            "{:<width$}  {:>9}  {:>6}  {:>8}  {:>17}  {:>9}  {:>10}  {alerts}",
            s.id,
            percent(s.objective),
            window(s.window),
            b.sli.map_or_else(|| "-".to_owned(), percent),
            left,
            if b.exhausted { "yes" } else { "no" },
            time_left
        );
    }
    for id in missing {
        let _ = writeln!(
            out,
            "{id:<width$}  {:>9}  {:>6}  {:>8}  {:>17}  {:>9}  {:>10}  no figures yet",
            "-", "-", "-", "-", "-", "-"
        );
    }
    // Burn rates: one column per window any SLO has.
    let mut windows: Vec<Duration> = statuses
        .iter()
        .flat_map(|s| s.windows.iter().map(|w| w.window))
        .collect();
    windows.sort();
    windows.dedup();
    if !statuses.is_empty() && !windows.is_empty() {
        let _ = write!(out, "\n{:<width$}", "BURN RATE");
        for w in &windows {
            let _ = write!(out, "  {:>7}", window(*w));
        }
        out.push('\n');
        for s in statuses {
            let _ = write!(out, "{:<width$}", s.id);
            for w in &windows {
                let cell = s.window(*w).map_or_else(String::new, |x| {
                    x.burn_rate
                        .map_or_else(|| "no data".to_owned(), |b| format!("{b:.2}"))
                });
                let _ = write!(out, "  {cell:>7}");
            }
            out.push('\n');
        }
    }
    out
}

fn status(args: &StatusArgs) -> anyhow::Result<ExitStatus> {
    let set = args.slos.as_deref().map(load_slos).transpose()?;
    let state = StateFile::load(&args.state)
        .with_context(|| format!("reading the SLO state file {}", args.state.display()))?;
    let Some(state) = state else {
        match &set {
            Some(set) => {
                let ids: Vec<String> = set.slos.iter().map(ops_slo::Slo::id).collect();
                if args.json {
                    let value = serde_json::json!({
                        "written_at": null,
                        "as_of": null,
                        "slos": [],
                        "without_figures": ids,
                    });
                    emit(&format!("{value}\n"))?;
                } else {
                    emit(&format!(
                        "no state file at {} yet (a monitor writes it every minute)\n{}",
                        args.state.display(),
                        table(&[], &[], &ids)
                    ))?;
                }
                return Ok(ExitStatus::Success);
            }
            None => anyhow::bail!(
                "no SLO state file at {} (a monitor writes it: ops monitor --slo-state FILE)",
                args.state.display()
            ),
        }
    };
    let statuses = ops_slo::status_of(&state);
    let (undefined, missing): (Vec<String>, Vec<String>) = match &set {
        Some(set) => {
            let defined: Vec<String> = set.slos.iter().map(ops_slo::Slo::id).collect();
            (
                statuses
                    .iter()
                    .filter(|s| !defined.contains(&s.id))
                    .map(|s| s.id.clone())
                    .collect(),
                defined
                    .into_iter()
                    .filter(|id| !statuses.iter().any(|s| &s.id == id))
                    .collect(),
            )
        }
        None => (Vec::new(), Vec::new()),
    };
    if args.json {
        let stamp = |t: SystemTime| humantime::format_rfc3339_seconds(t).to_string();
        let value = serde_json::json!({
            "written_at": stamp(state.written_at),
            "as_of": state.as_of.map(stamp),
            "slos": statuses,
            "without_figures": missing,
        });
        emit(&format!("{value}\n"))?;
        return Ok(ExitStatus::Success);
    }
    let age = SystemTime::now()
        .duration_since(state.written_at)
        .map_or_else(
            |_| "in the future".to_owned(),
            |d| {
                if d < Duration::from_mins(1) {
                    format!("{}s ago", d.as_secs())
                } else {
                    format!("{} ago", span(d))
                }
            },
        );
    let mut text = format!(
        "{} as of {} (state written {age})\n",
        args.state.display(),
        state.as_of.map_or_else(
            || "-".to_owned(),
            |t| humantime::format_rfc3339_seconds(t).to_string()
        )
    );
    text.push_str(&table(&statuses, &undefined, &missing));
    emit(&text)?;
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn figures_read_well() {
        assert_eq!(percent(0.995), "99.5%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.123_456), "12.346%");
        assert_eq!(window(Duration::from_mins(5)), "5m");
        assert_eq!(window(Duration::from_hours(72)), "3d");
        assert_eq!(span(Duration::from_hours(25)), "1d 1h");
        assert_eq!(span(Duration::from_secs(3_700)), "1h 1m");
    }
}
