//! The deploy plan: what [`Deployer::deploy`] would do, computed from the config, the history
//! and the running release without touching anything (`ops deploy --dry-run`).

use super::Deployer;
use crate::error::Result;
use crate::hooks::Phase;
use crate::plan::{DeployPlan, Strategy};
use crate::runtime::Runtime;

impl<R: Runtime> Deployer<R> {
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
        Ok(DeployPlan {
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
