//! [`FakeSource`]: a signal source that answers from a script.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::analysis::{Figures, SignalSource, SourceError, Target, Wanted};

#[derive(Debug, Default)]
struct Inner {
    /// Per release: its figures, one per measurement; the last repeats.
    scripts: HashMap<String, Vec<Figures>>,
    /// How many measurements each release has had.
    taken: HashMap<String, usize>,
    /// Measurements that fail before the script answers, and why.
    failing: Option<(usize, String)>,
    measurements: usize,
    begins: usize,
}

/// A [`SignalSource`] that answers from a script, per release: the figures of each
/// measurement in turn (the last one repeats), or provider errors. An unscripted release
/// answers 100 requests without an error. Clones share their state: keep one to look at after
/// handing the other to a [`Deployer`](crate::Deployer).
///
/// ```
/// use ops_deploy::analysis::Figures;
/// use ops_deploy::{
///     DeployConfig, DeployOutcome, Deployer, FailureReason, FakeRuntime, FakeSource,
///     FakeTrafficSwitch, Strategy,
/// };
///
/// let dir = tempfile::tempdir()?;
/// let mut config = DeployConfig::from_toml(
///     "service = \"web\"\nport = 9001\nalt_port = 9002\nstrategy = \"canary\"\ndrain = \"0s\"\n\
///      [health]\ninterval = \"1ms\"\n[proxy]\nupstream_file = \"unused\"\n\
///      [analysis]\ninterval = \"10ms\"\n",
///     "web.toml".as_ref(),
/// )?;
/// config.state_dir = dir.path().to_path_buf();
/// // web-2 fails a fifth of its requests at the first step.
/// let source = FakeSource::new().release("web-2", [Figures::requests(200.0, 40.0)]);
/// let switch = FakeTrafficSwitch::new();
/// let deployer = Deployer::new(config, FakeRuntime::new())
///     .with_switch(Box::new(switch.clone()))
///     .with_source(Box::new(source.clone()));
/// assert_eq!(deployer.deploy("web:1", "ci", None, |_| {})?.exit_code(), 0);
/// let outcome = deployer.deploy("web:2", "ci", None, |_| {})?;
/// let reason = outcome.reason().unwrap();
/// assert_eq!(reason.kind(), "analysis");
/// assert!(reason.to_string().starts_with("error ratio 0.2 > 0.01 at step 1, 10 %"), "{reason}");
/// assert_eq!(switch.weights(), [10, 0]); // 10 %, then back to 0
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeSource {
    inner: Arc<Mutex<Inner>>,
}

impl FakeSource {
    /// A source where every release answers 100 requests without an error.
    #[must_use]
    pub fn new() -> FakeSource {
        FakeSource::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Release `id` answers these figures, one per measurement; the last repeats.
    #[must_use]
    pub fn release(
        self,
        id: impl Into<String>,
        figures: impl IntoIterator<Item = Figures>,
    ) -> FakeSource {
        self.lock()
            .scripts
            .insert(id.into(), figures.into_iter().collect());
        self
    }

    /// The first `n` measurements fail with `reason` (a provider error); `usize::MAX`: every
    /// one.
    #[must_use]
    pub fn failing(self, n: usize, reason: impl Into<String>) -> FakeSource {
        self.lock().failing = Some((n, reason.into()));
        self
    }

    /// Measurements asked for so far.
    pub fn measurements(&self) -> usize {
        self.lock().measurements
    }

    /// Analyses begun so far.
    pub fn analyses(&self) -> usize {
        self.lock().begins
    }
}

impl SignalSource for FakeSource {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn describe(&self) -> String {
        "fake: scripted figures".into()
    }

    fn begin(&mut self, _targets: &[Target], _wanted: &Wanted) {
        self.lock().begins += 1;
    }

    fn measure(
        &mut self,
        targets: &[Target],
        _window: Duration,
        _wanted: &Wanted,
    ) -> Result<Vec<Figures>, SourceError> {
        let mut inner = self.lock();
        inner.measurements += 1;
        if let Some((n, reason)) = &mut inner.failing
            && *n > 0
        {
            *n = n.saturating_sub(1);
            return Err(SourceError::new("fake", reason.clone()));
        }
        Ok(targets
            .iter()
            .map(|t| {
                let k = {
                    let taken = inner.taken.entry(t.release.clone()).or_default();
                    *taken += 1;
                    *taken - 1
                };
                inner
                    .scripts
                    .get(&t.release)
                    .and_then(|s| s.get(k.min(s.len().saturating_sub(1))))
                    .cloned()
                    .unwrap_or_else(|| Figures::requests(100.0, 0.0))
            })
            .collect())
    }
}
