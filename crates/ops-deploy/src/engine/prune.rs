//! Pruning: keep the newest `keep` releases; an older one loses its runtime artifacts (image
//! tag, logs) unless something still needs them.

use std::collections::HashSet;
use std::time::Duration;

use super::{Deployer, Event};
use crate::error::Result;
use crate::history::{History, Outcome, ReleaseRecord};
use crate::runtime::Runtime;

impl<R: Runtime> Deployer<R> {
    /// Prunes old releases now, under the deploy lock (a deploy does it after every healthy
    /// release). Returns the releases pruned.
    ///
    /// # Errors
    /// The lock is held or the history cannot be written.
    pub fn prune(
        &self,
        lock_wait: Option<Duration>,
        mut observe: impl FnMut(&Event<'_>),
    ) -> Result<Vec<String>> {
        let (_lock, mut history) = self.locked_history("ops prune", lock_wait)?;
        self.prune_history(&mut history, &mut |release, message| {
            observe(&Event::Note { release, message });
        })
    }

    /// Keeps the newest `keep` releases; an older one loses its runtime artifacts (image tag,
    /// logs) unless its image is used by a kept healthy release, the rollback target or a
    /// running container, or it is the rollback target or running itself.
    pub(super) fn prune_history(
        &self,
        history: &mut History,
        note: &mut dyn FnMut(&str, &str),
    ) -> Result<Vec<String>> {
        let n = history.releases.len();
        let keep = self.config.keep.max(1);
        if n <= keep {
            return Ok(Vec::new());
        }
        let (old, kept) = history.releases.split_at(n - keep);
        let target = history.last_healthy().map(|r| r.id.clone());
        let current = self.current().map(|c| c.release);
        let mut protected: HashSet<String> = kept
            .iter()
            .filter(|r| r.outcome == Outcome::Healthy)
            .filter_map(|r| r.image_id.clone())
            .collect();
        // The rollback targets: the newest healthy release, and the newest other than the one
        // running (what `ops rollback` picks).
        let rollback_target = history
            .newest_healthy_except(current.as_deref())
            .map(|r| (r.id.clone(), r.image_id.clone()));
        protected.extend(history.last_healthy().and_then(|r| r.image_id.clone()));
        protected.extend(rollback_target.as_ref().and_then(|(_, i)| i.clone()));
        protected.extend(self.runtime.artifacts_in_use());
        let candidates: Vec<ReleaseRecord> = old
            .iter()
            .filter(|r| !r.pruned && r.outcome != Outcome::InProgress)
            .cloned()
            .collect();
        let mut pruned = Vec::new();
        for mut r in candidates {
            if Some(&r.id) == target.as_ref()
                || Some(&r.id) == current.as_ref()
                || rollback_target.as_ref().is_some_and(|(id, _)| *id == r.id)
            {
                continue;
            }
            if r.image_id.as_ref().is_some_and(|i| protected.contains(i)) {
                note(&r.id, "kept by pruning: its image is still in use");
                continue;
            }
            match self.runtime.prune(&r.id) {
                Ok(_) => {
                    r.pruned = true;
                    pruned.push(r.id.clone());
                    tracing::info!(target: "ops_deploy", release = %r.id, "pruned");
                    note(&r.id, "pruned");
                    history.upsert(r);
                }
                Err(e) => note(&r.id, &format!("not pruned: {e}")),
            }
        }
        if !pruned.is_empty() {
            history.save(&self.config.history_path())?;
        }
        Ok(pruned)
    }
}
