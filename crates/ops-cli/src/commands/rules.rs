//! `ops rules show`: every rule of a rule file (or the defaults), its condition and the
//! `PromQL` Prometheus would evaluate for it over the exposition's names. `ops rules export`:
//! the same rules as a Prometheus rule file (`ops_thresholds::export`), what it cannot hold
//! named on stderr and in the file.
//!
//! Exit codes: 0 done (warnings included); 2 a rule file that cannot be read or is invalid, an
//! output file that cannot be written.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use ops_thresholds::export::{self, Options};
use ops_thresholds::{Condition, RuleSet};

use crate::ExitStatus;
use crate::cli::parse_interval;
use crate::output::emit;

/// `ops rules`.
#[derive(Debug, Args)]
pub(crate) struct RulesArgs {
    #[command(subcommand)]
    pub(crate) action: RulesAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RulesAction {
    /// Every rule with its condition and its `PromQL` equivalent (what the same rule is in
    /// Prometheus, over the names `/metrics` shows).
    Show(ShowArgs),
    /// The rules as a Prometheus rule file: the same names, expressions (threshold rules
    /// through their `PromQL` equivalent), `for`, `keep_firing_for`, labels and annotations
    /// (templates in Prometheus's syntax). Recovery thresholds are exported with the ALERTS
    /// pattern; what a rule file cannot hold (flap detection, `resend_delay`) is named on stderr
    /// and in a comment of the file.
    Export(ExportArgs),
}

/// The rule file formats `ops rules export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// A Prometheus rule file (YAML): `promtool check rules` clean.
    Prometheus,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The format to write.
    #[arg(long, value_enum, default_value = "prometheus")]
    pub(crate) format: ExportFormat,

    /// Rule file (.toml, .json, .yaml); default: the playbook's rules.
    #[arg(long, value_name = "FILE")]
    pub(crate) rules: Option<PathBuf>,

    /// Write the rule file here (default: stdout).
    #[arg(long, short, value_name = "FILE", visible_alias = "output")]
    pub(crate) out: Option<PathBuf>,

    /// The rule group's name.
    #[arg(long, value_name = "NAME", default_value = "ops-thresholds")]
    pub(crate) group: String,

    /// The group's evaluation interval (default: Prometheus's `evaluation_interval`).
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub(crate) interval: Option<Duration>,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Rule file (.toml, .json, .yaml); default: the playbook's rules.
    #[arg(long, value_name = "FILE")]
    pub(crate) rules: Option<PathBuf>,

    /// A JSON array: `name`, `kind` (`threshold` or `promql`), `condition`, `promql`, `for`,
    /// `severity`.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: &RulesArgs) -> anyhow::Result<ExitStatus> {
    match &args.action {
        RulesAction::Show(show) => self::show(show),
        RulesAction::Export(args) => self::export(args),
    }
}

fn load(path: Option<&PathBuf>) -> anyhow::Result<RuleSet> {
    match path {
        Some(p) => RuleSet::load(p).with_context(|| format!("loading rules from {}", p.display())),
        None => Ok(RuleSet::defaults()),
    }
}

fn show(args: &ShowArgs) -> anyhow::Result<ExitStatus> {
    let rules = load(args.rules.as_ref())?;
    let text = if args.json {
        let items: Vec<serde_json::Value> = rules
            .rules
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name,
                    "kind": match r.condition {
                        Condition::Threshold(_) => "threshold",
                        _ => "promql",
                    },
                    "condition": r.describe(),
                    "promql": r.to_promql(),
                    "for": ops_core::duration::format(r.for_duration),
                    "severity": r.severity.as_str(),
                })
            })
            .collect();
        let mut s = serde_json::to_string_pretty(&items)?;
        s.push('\n');
        s
    } else {
        let mut s = String::new();
        for r in &rules.rules {
            let _ = writeln!(
                s,
                "{} ({}, for {})",
                r.name,
                r.severity,
                ops_core::duration::format(r.for_duration)
            );
            let _ = writeln!(s, "  condition: {}", r.describe());
            let _ = writeln!(s, "  promql:    {}", r.to_promql());
        }
        s
    };
    emit(&text)?;
    Ok(ExitStatus::Success)
}

#[allow(clippy::print_stderr)] // the warnings are the command's report, apart from the file
fn export(args: &ExportArgs) -> anyhow::Result<ExitStatus> {
    let rules = load(args.rules.as_ref())?;
    let ExportFormat::Prometheus = args.format;
    let mut options = Options::new().group(args.group.as_str());
    if let Some(interval) = args.interval {
        options = options.interval(interval);
    }
    let (text, warnings) = export::prometheus_rules(&rules, &options)?;
    for w in &warnings {
        eprintln!("ops rules export: not exported: {w}");
    }
    match &args.out {
        Some(path) => std::fs::write(path, &text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            emit(&text)?;
        }
    }
    Ok(ExitStatus::Success)
}
