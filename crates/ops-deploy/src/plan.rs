//! Strategies and the deploy plan (`ops deploy --dry-run`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::health::HealthCheck;

/// How a new release replaces the running one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The playbook's flow: stop the old release, start the new one on the same port, check
    /// it, roll back on failure. Requests fail while nothing listens.
    #[default]
    StopStart,
    /// Start the new release beside the old one on the other port, check it, move the
    /// traffic through the proxy, check again, drain and stop the old one. The old release
    /// serves until the switch; a failed release never receives traffic.
    BlueGreen,
    /// Start the new release beside the old one, check it, then give it a growing share of
    /// the traffic in steps (`[canary] steps`, nginx weights), analysing its signals at each
    /// step ([`AnalysisConfig`](crate::analysis::AnalysisConfig)); promote it to all the
    /// traffic and stop the old release only when every step passed, or abort: weight back
    /// to 0, the new release stopped.
    Canary,
}

impl Strategy {
    /// `stop-start`, `blue-green` or `canary`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::StopStart => "stop-start",
            Strategy::BlueGreen => "blue-green",
            Strategy::Canary => "canary",
        }
    }

    /// Blue-green and canary: the new release starts beside the old one, on the other port,
    /// behind a traffic switch.
    #[must_use]
    pub fn side_by_side(self) -> bool {
        matches!(self, Strategy::BlueGreen | Strategy::Canary)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A strategy name that is not `stop-start`, `blue-green` or `canary`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown strategy {0:?}: expected \"stop-start\", \"blue-green\" or \"canary\"")]
pub struct UnknownStrategy(pub String);

impl FromStr for Strategy {
    type Err = UnknownStrategy;
    fn from_str(s: &str) -> Result<Strategy, UnknownStrategy> {
        match s {
            "stop-start" => Ok(Strategy::StopStart),
            "blue-green" => Ok(Strategy::BlueGreen),
            "canary" => Ok(Strategy::Canary),
            other => Err(UnknownStrategy(other.to_owned())),
        }
    }
}

/// What a deploy would do, computed from the config, the history and the running release
/// without touching anything. [`fmt::Display`] renders it as numbered steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeployPlan {
    /// The service.
    pub service: String,
    /// The id the new release will get.
    pub release: String,
    /// What it runs.
    pub artifact: String,
    /// How it replaces the running release.
    pub strategy: Strategy,
    /// `process` or `docker`.
    pub runtime: String,
    /// The release running now, if any, and its port.
    pub running: Option<(String, u16)>,
    /// The port the new release will serve on (127.0.0.1).
    pub port: u16,
    /// The health gate.
    pub health: HealthCheck,
    /// The traffic switch, described (`nginx: upstream file …`).
    pub proxy: Option<String>,
    /// How long the old release drains after the switch (blue-green).
    #[serde(with = "ops_core::duration::serde::any")]
    pub drain: Duration,
    /// Where a failed release rolls back to.
    pub rollback_target: Option<String>,
    /// Hooks that will run, `(phase, command)`.
    pub hooks: Vec<(String, String)>,
    /// Releases kept by pruning.
    pub keep: usize,
    /// The analysis (canary, or blue-green with `verify`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<crate::analysis::AnalysisConfig>,
    /// The canary's steps (canary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<crate::analysis::CanaryConfig>,
    /// How long blue-green verifies after the switch.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::config::opt_nonzero::serialize"
    )]
    pub verify: Option<Duration>,
    /// The steps, in order.
    pub steps: Vec<String>,
}

impl fmt::Display for DeployPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "plan for {}: release {} ({}, {} strategy, runtime {})",
            self.service, self.release, self.artifact, self.strategy, self.runtime
        )?;
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "  {}. {step}", i + 1)?;
        }
        Ok(())
    }
}
