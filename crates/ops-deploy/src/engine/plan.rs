//! The deploy plan: what [`Deployer::deploy`] would do, computed from the config, the history
//! and the running release without touching anything (`ops deploy --dry-run`).

use super::Deployer;
use crate::error::Result;
use crate::hooks::Phase;
use crate::plan::{DeployPlan, Strategy};
use crate::runtime::Runtime;

impl<R: Runtime> Deployer<R> {
    /// The analysis in words: `analyse its signals (metrics: …): error ratio ≤ 0.01, one
    /// measurement of 30s, …`.
    fn analysis_text(&self, verify: Option<std::time::Duration>) -> String {
        let a = self.config.analysis();
        let source = self.using_source(|s| s.describe());
        let conditions: Vec<String> = a.conditions.iter().map(ToString::to_string).collect();
        let (n, window) = match verify {
            Some(v) => a.verify_plan(v),
            None => (a.measurements, a.interval),
        };
        format!(
            "analyse its signals ({source}): {}; {n} measurement{} of {} (fewer than {} requests: inconclusive; failure limit {}, inconclusive limit {} then hold, {} source errors in a row tolerated)",
            conditions.join(", "),
            if n == 1 { "" } else { "s" },
            ops_core::duration::format(window),
            a.min_requests,
            a.failure_limit,
            a.inconclusive_limit,
            a.consecutive_error_limit
        )
    }

    /// What [`Deployer::deploy`] would do with `artifact`, touching nothing.
    ///
    /// # Errors
    /// The history cannot be read.
    #[allow(clippy::too_many_lines)] // one step after the other
    pub fn plan(&self, artifact: &str) -> Result<DeployPlan> {
        let history = self.history()?;
        let running_instance = self.current().filter(|c| self.runtime.is_running(c));
        let port = self.next_port(running_instance.as_ref());
        let running = running_instance.map(|c| (c.release, c.port));
        let release = format!("{}-{}", self.config.service, history.releases.len() + 1);
        let h = &self.config.health;
        let rollback_target = history.last_healthy().map(|r| r.id.clone());
        let mut steps = vec![format!(
            "take the deploy lock {}",
            self.config.lock_path().display()
        )];
        let hooks: Vec<(String, String)> = [Phase::PreDeploy, Phase::PostDeploy, Phase::OnRollback]
            .into_iter()
            .filter_map(|p| {
                self.config
                    .hooks
                    .command(p)
                    .map(|c| (p.as_str().to_owned(), c.to_owned()))
            })
            .collect();
        if let Some(b) = self
            .config
            .backup
            .as_ref()
            .filter(|b| b.when == crate::backup::BackupWhen::BeforeDeploy)
        {
            let sources: Vec<String> = b
                .sources(&self.config.volumes)
                .iter()
                .map(|s| s.name().to_owned())
                .collect();
            steps.push(format!(
                "back up {} ({} engine) and verify it by a restore (a failure aborts)",
                sources.join(", "),
                b.engine.as_str()
            ));
        }
        if let Some(c) = self.config.hooks.command(Phase::PreDeploy) {
            steps.push(format!("run the pre_deploy hook `{c}` (a failure aborts)"));
        }
        let check = format!(
            "health-check GET {} on 127.0.0.1:{port} (up to {} failed attempts, {} apart, {} each, start period {}), then the container's own HEALTHCHECK if the image has one",
            h.path,
            h.retries,
            humantime::format_duration(h.interval),
            humantime::format_duration(h.timeout),
            humantime::format_duration(h.start_period),
        );
        let old = running
            .as_ref()
            .map_or_else(|| "nothing".to_owned(), |(r, p)| format!("{r} (port {p})"));
        match self.config.strategy {
            Strategy::StopStart => {
                if let Some(s) = &self.switch {
                    steps.push(format!("make sure {} routes to port {port}", s.name()));
                }
                steps.push(format!("stop {old}"));
                steps.push(format!(
                    "start `{artifact}` as {release} on 127.0.0.1:{port}"
                ));
                steps.push(check);
            }
            Strategy::BlueGreen => {
                steps.push(format!(
                    "start `{artifact}` as {release} on 127.0.0.1:{port}, beside {old}, which keeps the traffic"
                ));
                steps.push(check);
                if let Some(s) = &self.switch {
                    steps.push(format!("switch the traffic: {}", s.describe()));
                    if let Some(p) = s.public() {
                        steps.push(format!("health-check GET {} through {p}", h.path));
                    }
                }
                if let (Some(v), true) = (self.config.verify, running.is_some()) {
                    steps.push(format!(
                        "verify {release} for {}: {}; on failure switch the traffic back to {old} at once",
                        ops_core::duration::format(v),
                        self.analysis_text(Some(v))
                    ));
                }
                steps.push(format!(
                    "let {old} drain for {}, then stop it",
                    humantime::format_duration(self.config.drain)
                ));
            }
            Strategy::Canary if running.is_none() => {
                steps.push(format!(
                    "start `{artifact}` as {release} on 127.0.0.1:{port}; nothing runs, so it takes all the traffic at once (no canary)"
                ));
                steps.push(check);
                if let Some(s) = &self.switch {
                    steps.push(format!("switch the traffic: {}", s.describe()));
                }
            }
            Strategy::Canary => {
                steps.push(format!(
                    "start `{artifact}` as {release} on 127.0.0.1:{port}, beside {old}, which keeps the traffic"
                ));
                steps.push(check);
                let canary = self.config.canary();
                let n = canary.steps.len();
                for (i, w) in canary.steps.iter().enumerate() {
                    let gate = if canary.pause.contains(w) {
                        "; then wait for `ops deploy promote` or `ops deploy abort`"
                    } else {
                        ""
                    };
                    steps.push(format!(
                        "step {}/{n}: {w} % of the traffic to {release} ({}), then {}{gate}",
                        i + 1,
                        self.switch.as_ref().map_or_else(
                            || "no traffic switch".to_owned(),
                            |s| s.name().to_owned()
                        ),
                        self.analysis_text(None)
                    ));
                }
                if canary.steps.last().is_some_and(|w| *w < 100) {
                    steps.push(format!("promotion: all the traffic to {release}"));
                }
                steps.push(format!(
                    "on an abort: all the traffic back to {old} at once, {release} stopped"
                ));
                steps.push(format!(
                    "let {old} drain for {}, then stop it",
                    humantime::format_duration(self.config.drain)
                ));
            }
        }
        steps.push(format!(
            "record the outcome in {}",
            self.config.history_path().display()
        ));
        if let Some(c) = self.config.hooks.command(Phase::PostDeploy) {
            steps.push(format!("run the post_deploy hook `{c}`"));
        }
        steps.push(format!(
            "prune: keep the newest {} releases, never an image a kept healthy release, the rollback target or a running container uses",
            self.config.keep
        ));
        steps.push(match &rollback_target {
            Some(t) => format!("on failure: stop {release} and bring back {t} (newest healthy)"),
            None => format!("on failure: stop {release}; no healthy release to bring back"),
        });
        let analysis = matches!(self.config.strategy, Strategy::Canary)
            || (self.config.strategy == Strategy::BlueGreen && self.config.verify.is_some());
        Ok(DeployPlan {
            analysis: analysis.then(|| self.config.analysis()),
            canary: (self.config.strategy == Strategy::Canary).then(|| self.config.canary()),
            verify: self
                .config
                .verify
                .filter(|_| self.config.strategy == Strategy::BlueGreen),
            service: self.config.service.clone(),
            release,
            artifact: artifact.to_owned(),
            strategy: self.config.strategy,
            runtime: self.runtime.name().to_owned(),
            running,
            port,
            health: h.clone(),
            proxy: self.switch.as_ref().map(|s| s.describe()),
            drain: self.config.drain,
            rollback_target,
            hooks,
            keep: self.config.keep,
            steps,
        })
    }
}
