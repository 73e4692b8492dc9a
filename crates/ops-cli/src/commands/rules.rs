//! `ops rules show`: every rule of a rule file (or the defaults), its condition and the
//! `PromQL` Prometheus would evaluate for it over the exposition's names.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use ops_thresholds::{Condition, RuleSet};

use crate::ExitStatus;
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
