//! The error-budget policy (`[slo]`): before a deploy changes anything, the SLO state file's
//! budgets are read; a spent one refuses the release, unless the deploy was told to go
//! anyway, which the history records.

use std::time::SystemTime;

use super::{Deployer, FailureReason};
use crate::runtime::Runtime;

impl<R: Runtime> Deployer<R> {
    /// Deploys even while an SLO's error budget is spent (`ops deploy --ignore-error-budget`);
    /// the release's history record says which budgets were spent.
    #[must_use]
    pub fn ignore_error_budget(mut self, ignore: bool) -> Deployer<R> {
        self.ignore_error_budget = ignore;
        self
    }

    /// What the policy says at `now`: `Ok(None)` go, `Ok(Some(note))` go although a budget is
    /// spent (overridden; the note is for the history), `Err` refused.
    pub(crate) fn error_budget_check(
        &self,
        now: SystemTime,
    ) -> Result<Option<String>, FailureReason> {
        let Some(policy) = self.config.slo.as_ref().filter(|p| p.refuse_when_exhausted) else {
            return Ok(None);
        };
        let path = &policy.state;
        let spent = match ops_slo::StateFile::load(path) {
            Ok(None) => return Ok(None),
            Err(e) => format!(
                "the SLO state {} cannot be read, so the error budgets are unknown: {e}",
                path.display()
            ),
            Ok(Some(state)) => {
                let spent: Vec<String> = state
                    .budgets(now)
                    .into_iter()
                    .filter(|(meta, b)| {
                        b.exhausted && (policy.slos.is_empty() || policy.slos.contains(&meta.id))
                    })
                    .map(|(meta, b)| {
                        format!(
                            "{} ({:.0}% of its budget used, {}/{} bad events over {})",
                            meta.id,
                            b.consumed_ratio * 100.0,
                            b.bad_events,
                            b.events,
                            ops_core::duration::format(meta.window)
                        )
                    })
                    .collect();
                if spent.is_empty() {
                    return Ok(None);
                }
                format!(
                    "the error budget is spent: {} (SLO state of {})",
                    spent.join(", "),
                    humantime::format_rfc3339_seconds(state.written_at)
                )
            }
        };
        if self.ignore_error_budget {
            Ok(Some(format!(
                "deployed with --ignore-error-budget: {spent}"
            )))
        } else {
            Err(FailureReason::ErrorBudget(format!(
                "{spent}; releases wait until it recovers (--ignore-error-budget to deploy anyway)"
            )))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use std::time::{Duration, SystemTime};

    use crate::{DeployConfig, DeployOutcome, Deployer, FakeRuntime, Outcome};

    /// A state file of one SLO whose last hour held `bad` bad events of 1,000.
    fn state(bad: u32, at: SystemTime) -> String {
        let hour = at.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() / 3600;
        format!(
            r#"{{"format":"ops-slo-state","version":1,"written_at":"{}","slos":[{{"meta":{{"id":"web-availability","service":"web","slo":"availability","objective":0.995,"error_budget":0.005,"window":"30days","numerator":"bad","terms":[{{"side":"numerator","sign":1,"selector":"e_total"}},{{"side":"total","sign":1,"selector":"t_total"}}],"alerts":[],"min_events_per_minute":1.0}},"cumulative":[{bad},1000],"minutes":{{"first":0,"points":[]}},"hours":{{"newest":{hour},"counts":[[{bad},1000]]}}}}]}}"#,
            humantime::format_rfc3339_seconds(at)
        )
    }

    #[test]
    fn a_spent_budget_refuses_the_release_unless_overridden() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slo-state.json");
        let mut config = DeployConfig::from_toml(
            &format!(
                "service = \"web\"\nport = 8080\n[health]\ninterval = \"1ms\"\nretries = 3\n[slo]\nstate = \"{}\"\n",
                path.display()
            ),
            "web.toml".as_ref(),
        )
        .unwrap();
        config.state_dir = dir.path().join("state");
        let runtime = FakeRuntime::new();
        let deployer = Deployer::new(config.clone(), runtime.clone());
        let now = SystemTime::now();
        // No state yet, then a budget half spent: go.
        assert_eq!(deployer.error_budget_check(now), Ok(None));
        std::fs::write(&path, state(2, now)).unwrap();
        assert_eq!(deployer.error_budget_check(now), Ok(None));
        assert_eq!(
            deployer
                .deploy("web:1", "ci", None, |_| {})
                .unwrap()
                .exit_code(),
            0
        );
        // 10 bad of 1,000 is twice the budget: refused, nothing changed, the history says so.
        std::fs::write(&path, state(10, now)).unwrap();
        let outcome = deployer.deploy("web:2", "ci", None, |_| {}).unwrap();
        let DeployOutcome::Aborted {
            reason, running, ..
        } = &outcome
        else {
            panic!("{outcome:?}");
        };
        assert_eq!(reason.kind(), "error_budget");
        assert_eq!(running.as_deref(), Some("web-1"));
        assert!(
            reason.to_string().starts_with(
                "the error budget is spent: web-availability (200% of its budget used, 10/1000 bad events over 30days)"
            ),
            "{reason}"
        );
        assert_eq!(runtime.running(), ["web-1"]);
        // An hour past the window, the bad hour is gone: go.
        let later = now + Duration::from_hours(721);
        assert_eq!(deployer.error_budget_check(later), Ok(None));
        // Overridden: deployed, and recorded.
        let deployer = Deployer::new(config.clone(), runtime.clone()).ignore_error_budget(true);
        assert_eq!(
            deployer
                .deploy("web:3", "ci", None, |_| {})
                .unwrap()
                .exit_code(),
            0
        );
        let history = deployer.history().unwrap();
        let r = history.get("web-3").unwrap();
        assert_eq!(r.outcome, Outcome::Healthy);
        assert!(
            r.error_budget.as_deref().unwrap().starts_with(
                "deployed with --ignore-error-budget: the error budget is spent: web-availability"
            ),
            "{r:?}"
        );
        assert!(
            history
                .get("web-2")
                .unwrap()
                .reason
                .as_deref()
                .unwrap()
                .starts_with("aborted: the error budget is spent")
        );
        // Only the SLOs named count; refuse_when_exhausted = false turns the policy off.
        let mut only = config.clone();
        only.slo.as_mut().unwrap().slos = vec!["web-latency".into()];
        assert_eq!(
            Deployer::new(only, runtime.clone()).error_budget_check(now),
            Ok(None)
        );
        let mut off = config;
        off.slo.as_mut().unwrap().refuse_when_exhausted = false;
        assert_eq!(
            Deployer::new(off, runtime).error_budget_check(now),
            Ok(None)
        );
    }
}
