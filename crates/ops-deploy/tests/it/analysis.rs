//! The canary and blue-green's verification on the fakes: the analysis semantics (Argo's
//! limits, holds, errors, gates), what the switch saw, what the history and the audit trail
//! record — no process, no socket, no nginx.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ops_deploy::analysis::{Condition, Figures, MeasurementStatus, Verdict};
use ops_deploy::{
    Actor, Decision, DeployConfig, DeployOutcome, DeployStats, Deployer, Error, Event,
    FailureReason, FakeRuntime, FakeSource, FakeTrafficSwitch, History, Outcome, State, Strategy,
    TrafficSwitch as _,
};

const PORT: u16 = 9101;
const ALT: u16 = 9102;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A canary config on the fakes: measurements of 20 ms.
fn config(dir: &std::path::Path, extra: &str) -> DeployConfig {
    let mut config = DeployConfig::from_toml(
        &format!(
            "service = \"web\"\nport = {PORT}\nalt_port = {ALT}\nstrategy = \"canary\"\ndrain = \"0s\"\n[health]\ninterval = \"1ms\"\ntimeout = \"1s\"\nretries = 3\n[proxy]\nupstream_file = \"unused\"\n{extra}"
        ),
        "fake.toml".as_ref(),
    )
    .unwrap();
    config.state_dir = dir.join("state");
    config
}

const FAST: &str = "[analysis]\ninterval = \"20ms\"\n";

struct Setup {
    _dir: tempfile::TempDir,
    config: DeployConfig,
    runtime: FakeRuntime,
    switch: FakeTrafficSwitch,
    source: FakeSource,
}

impl Setup {
    fn new(extra: &str, source: FakeSource) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), extra);
        Setup {
            _dir: dir,
            config,
            runtime: FakeRuntime::new(),
            switch: FakeTrafficSwitch::new(),
            source,
        }
    }

    fn deployer(&self) -> Deployer<FakeRuntime> {
        Deployer::new(self.config.clone(), self.runtime.clone())
            .with_switch(Box::new(self.switch.clone()))
            .with_source(Box::new(self.source.clone()))
            .actor(Actor::new("ci", "build-1"))
    }

    /// web-1, deployed healthy (no canary: nothing ran before it).
    fn first(&self) -> Deployer<FakeRuntime> {
        let d = self.deployer();
        assert_eq!(
            d.deploy("web:1", "test", None, |_| {}).unwrap(),
            DeployOutcome::Healthy {
                release: "web-1".into()
            }
        );
        d
    }

    fn history(&self) -> History {
        History::load(&self.config.history_path(), "web").unwrap()
    }
}

/// What a deploy's observer saw: transitions (to) and measurements.
#[derive(Default)]
struct Seen {
    states: Vec<State>,
    measurements: Vec<(Option<u32>, u8, MeasurementStatus, String)>,
}

fn deploy_seen(d: &Deployer<FakeRuntime>, artifact: &str) -> (DeployOutcome, Seen) {
    let mut seen = Seen::default();
    let outcome = d
        .deploy(artifact, "test", None, |e| match e {
            Event::Transition { transition, .. } => seen.states.push(transition.to),
            Event::Analysis { measurement, .. } => seen.measurements.push((
                measurement.step,
                measurement.weight,
                measurement.status,
                measurement.summary(),
            )),
            _ => {}
        })
        .unwrap();
    (outcome, seen)
}

fn bad() -> Figures {
    Figures::requests(200.0, 40.0)
}

fn good() -> Figures {
    Figures::requests(200.0, 0.0)
}

#[test]
fn a_good_canary_is_promoted_through_every_step() {
    let s = Setup::new(FAST, FakeSource::new().release("web-2", [good()]));
    let d = s.first();
    let (outcome, seen) = deploy_seen(&d, "web:2");
    assert_eq!(
        outcome,
        DeployOutcome::Healthy {
            release: "web-2".into()
        }
    );
    assert_eq!(s.switch.weights(), [10, 25, 50, 100]);
    assert_eq!(s.runtime.running(), ["web-2"]);
    assert_eq!(d.current().unwrap().port, ALT);
    assert_eq!(
        seen.states,
        [
            State::Starting,
            State::Checking,
            State::Switching,
            State::Analysing,
            State::Switching,
            State::Analysing,
            State::Switching,
            State::Analysing,
            State::Switching,
            State::Analysing,
            State::Draining,
            State::Done
        ]
    );
    let steps: Vec<(Option<u32>, u8)> = seen.measurements.iter().map(|m| (m.0, m.1)).collect();
    assert_eq!(
        steps,
        [(Some(1), 10), (Some(2), 25), (Some(3), 50), (Some(4), 100)]
    );
    assert_eq!(
        seen.measurements[0].3,
        "successful: error ratio 0 ≤ 0.01 (200 requests)"
    );
    let history = s.history();
    let r = history.get("web-2").unwrap();
    assert_eq!(r.outcome, Outcome::Healthy);
    assert!(r.live_at.is_some());
    let a = r.analysis.as_ref().unwrap();
    assert_eq!((a.kind.as_str(), a.verdict), ("canary", Verdict::Passed));
    assert_eq!(a.steps, [10, 25, 50, 100]);
    assert_eq!(a.measurements.len(), 4);
    assert_eq!(
        a.summary,
        "promoted after 4 steps (10 %, 25 %, 50 %, 100 %): 4 measurements, 0 failed, 0 inconclusive, 0 errors"
    );
    let changes: Vec<(&str, &str, &str)> = r
        .changes
        .iter()
        .map(|c| (c.action.as_str(), c.outcome.as_str(), c.user.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("deploy", "started", "ci"),
            ("promote", "promoted", "ci"),
            ("deploy", "healthy", "ci")
        ]
    );
    assert_eq!(r.changes[0].host, "build-1");
}

#[test]
fn a_failing_canary_is_aborted_at_its_first_step_and_the_failing_value_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let hook_log = dir.path().join("rollback.txt");
    let extra = format!(
        "{FAST}[hooks]\non_rollback = \"echo $OPS_RELEASE failed=$OPS_FAILED_RELEASE >> '{}'\"\n",
        hook_log.display()
    );
    let s = Setup::new(&extra, FakeSource::new().release("web-2", [bad()]));
    let d = s.first();
    let (outcome, seen) = deploy_seen(&d, "web:2");
    let DeployOutcome::RolledBack {
        failed,
        restored,
        reason,
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!((failed.as_str(), restored.as_str()), ("web-2", "web-1"));
    assert_eq!(reason.kind(), "analysis");
    assert_eq!(
        reason.to_string(),
        "error ratio 0.2 > 0.01 at step 1, 10 % (1 failed measurement > failure limit 0)"
    );
    match reason {
        FailureReason::Analysis {
            phase,
            verdict,
            step,
            weight,
            ..
        } => assert_eq!(
            (phase.as_str(), *verdict, *step, *weight),
            ("canary", Verdict::Failed, Some(1), 10)
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(outcome.exit_code(), 1);
    // Weight back to 0, the canary stopped, the stable release serving.
    assert_eq!(s.switch.weights(), [10, 0]);
    assert_eq!(s.switch.target(), Some(addr(PORT)));
    assert_eq!(s.runtime.running(), ["web-1"]);
    assert_eq!(d.current().unwrap().release, "web-1");
    assert_eq!(seen.measurements.len(), 1);
    assert_eq!(
        seen.states.last(),
        Some(&State::RolledBack),
        "{:?}",
        seen.states
    );
    assert_eq!(
        std::fs::read_to_string(&hook_log).unwrap(),
        "web-1 failed=web-2\n"
    );
    let r = s.history().get("web-2").cloned().unwrap();
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.reason.as_deref(), Some(reason.to_string().as_str()));
    let a = r.analysis.unwrap();
    assert_eq!(a.verdict, Verdict::Failed);
    assert_eq!(a.measurements[0].results[0].text, "error ratio 0.2 > 0.01");
    assert_eq!(a.measurements[0].results[0].value, Some(0.2));
    let changes: Vec<(&str, &str)> = r
        .changes
        .iter()
        .map(|c| (c.action.as_str(), c.outcome.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("deploy", "started"),
            ("abort", "analysis failed"),
            ("rollback", "rolled_back"),
            ("deploy", "rolled_back")
        ]
    );
}

#[test]
fn a_failure_at_a_later_step_says_which_step_and_limits_count_cumulatively() {
    // Fails at the third step.
    let s = Setup::new(
        FAST,
        FakeSource::new().release("web-2", [good(), good(), bad()]),
    );
    let d = s.first();
    let outcome = d.deploy("web:2", "test", None, |_| {}).unwrap();
    let reason = outcome.reason().unwrap().to_string();
    assert!(
        reason.starts_with("error ratio 0.2 > 0.01 at step 3, 50 %"),
        "{reason}"
    );
    assert_eq!(s.switch.weights(), [10, 25, 50, 0]);

    // failure_limit = 1: one failed measurement is tolerated (and counts for its step), the
    // second one, two steps later, is not.
    let s = Setup::new(
        "[analysis]\ninterval = \"20ms\"\nfailure_limit = 1\n",
        FakeSource::new().release("web-2", [bad(), good(), bad()]),
    );
    let d = s.first();
    let outcome = d.deploy("web:2", "test", None, |_| {}).unwrap();
    assert_eq!(
        outcome.reason().unwrap().to_string(),
        "error ratio 0.2 > 0.01 at step 3, 50 % (2 failed measurements > failure limit 1)"
    );
    assert_eq!(s.switch.weights(), [10, 25, 50, 0]);
}

#[test]
fn relative_conditions_compare_with_the_stable_release() {
    let extra = "[analysis]\ninterval = \"20ms\"\n[[analysis.conditions]]\nsignal = \"error_ratio\"\nmax_over_stable = 0.01\n";
    // The stable release fails 2 %: 2.5 % passes, 5 % does not.
    let ok = FakeSource::new()
        .release("web-1", [Figures::requests(1000.0, 20.0)])
        .release("web-2", [Figures::requests(200.0, 5.0)]);
    let s = Setup::new(extra, ok);
    let d = s.first();
    assert_eq!(
        d.deploy("web:2", "test", None, |_| {}).unwrap().exit_code(),
        0
    );
    let bad = FakeSource::new()
        .release("web-2", [Figures::requests(1000.0, 20.0)])
        .release("web-3", [Figures::requests(200.0, 10.0)]);
    let s2 = Setup { source: bad, ..s };
    let d = s2.deployer();
    let outcome = d.deploy("web:3", "test", None, |_| {}).unwrap();
    assert_eq!(
        outcome.reason().unwrap().to_string(),
        "error ratio 0.05 > 0.03 (stable 0.02 + 0.01) at step 1, 10 % (1 failed measurement > failure limit 0)"
    );
}

/// Runs a deploy on another thread; the test decides at the gate through the state
/// directory, as `ops deploy promote` / `abort` do.
fn deploy_in_background(
    s: &Setup,
    artifact: &'static str,
) -> (
    std::thread::JoinHandle<DeployOutcome>,
    Arc<Mutex<Vec<String>>>,
) {
    let d = s.deployer();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let handle = std::thread::spawn(move || {
        d.deploy(artifact, "test", None, |e| {
            if let Event::Transition { transition, .. } = e {
                log.lock()
                    .unwrap()
                    .push(format!("{}: {}", transition.to, transition.detail));
            }
        })
        .unwrap()
    });
    (handle, seen)
}

/// Waits until the deploy is paused; its progress.
fn paused(d: &Deployer<FakeRuntime>) -> ops_deploy::Progress {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(p) = d.progress().unwrap().filter(|p| p.paused.is_some()) {
            return p;
        }
        assert!(std::time::Instant::now() < deadline, "never paused");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn no_traffic_holds_the_canary_as_inconclusive_and_never_promotes_it() {
    // The canary gets no request: 0 < 20 is no decision, neither a pass nor a failure.
    let s = Setup::new(
        FAST,
        FakeSource::new().release("web-2", [Figures::requests(0.0, 0.0)]),
    );
    let d = s.first();
    let (handle, seen) = deploy_in_background(&s, "web:2");
    let progress = paused(&d);
    assert_eq!(
        (progress.release.as_str(), progress.step, progress.weight),
        ("web-2", Some(1), 10)
    );
    assert_eq!(
        progress.paused.as_deref(),
        Some(
            "held: error ratio: 0 requests < 20 (1 inconclusive measurement > inconclusive limit 0); nothing is promoted on no data"
        )
    );
    // Held, not promoted: the weight stays at the first step.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(s.switch.weights(), [10]);
    // A promote needs a pause, and names what it found; this one is paused: abort it.
    let alice = Actor::new("alice", "laptop");
    d.decide(Decision::Abort, &alice).unwrap();
    let outcome = handle.join().unwrap();
    assert_eq!(
        outcome.reason().unwrap().to_string(),
        "inconclusive at step 1, 10 %: error ratio: 0 requests < 20 (1 inconclusive measurement > inconclusive limit 0); aborted by alice@laptop during the hold"
    );
    assert!(d.decision_taken(Duration::from_secs(1)));
    assert_eq!(s.switch.weights(), [10, 0]);
    assert_eq!(s.runtime.running(), ["web-1"]);
    let states = seen.lock().unwrap().clone();
    assert!(
        states.iter().any(|t| t.starts_with("paused: held: ")),
        "{states:?}"
    );
    let r = s.history().get("web-2").cloned().unwrap();
    assert_eq!(r.analysis.unwrap().verdict, Verdict::Inconclusive);
    let abort = r.changes.iter().find(|c| c.action == "abort").unwrap();
    assert_eq!(
        (
            abort.user.as_str(),
            abort.host.as_str(),
            abort.outcome.as_str()
        ),
        ("alice", "laptop", "aborted")
    );
    // Nothing under way any more.
    assert!(matches!(
        d.decide(Decision::Promote, &alice),
        Err(Error::Gate { .. })
    ));
}

#[test]
fn a_promote_ends_a_hold_and_a_hold_timeout_aborts() {
    // Thin traffic at the first step, enough afterwards: a person promotes the hold.
    let s = Setup::new(
        FAST,
        FakeSource::new().release("web-2", [Figures::requests(3.0, 0.0), good()]),
    );
    let d = s.first();
    let (handle, _) = deploy_in_background(&s, "web:2");
    paused(&d);
    d.decide(Decision::Promote, &Actor::new("bob", "desk"))
        .unwrap();
    let outcome = handle.join().unwrap();
    assert_eq!(outcome.exit_code(), 0, "{outcome:?}");
    assert_eq!(s.switch.weights(), [10, 25, 50, 100]);
    let r = s.history().get("web-2").cloned().unwrap();
    let promote = r
        .changes
        .iter()
        .find(|c| c.action == "promote" && c.user == "bob")
        .unwrap();
    assert!(
        promote.detail.starts_with("out of a hold at step 1, 10 %"),
        "{promote:?}"
    );

    let s = Setup::new(
        "[analysis]\ninterval = \"20ms\"\nhold_timeout = \"50ms\"\n",
        FakeSource::new().release("web-2", [Figures::requests(0.0, 0.0)]),
    );
    let d = s.first();
    let outcome = d.deploy("web:2", "test", None, |_| {}).unwrap();
    let reason = outcome.reason().unwrap().to_string();
    assert!(
        reason.ends_with("no decision within the hold_timeout of 50ms: aborted, as nothing is promoted on no data"),
        "{reason}"
    );
    assert_eq!(s.switch.weights(), [10, 0]);
}

#[test]
fn source_errors_are_tolerated_up_to_the_limit_then_abort() {
    // Always down: 4 errors in a row tolerated, the fifth aborts.
    let source = FakeSource::new().failing(usize::MAX, "connection refused");
    let s = Setup::new(FAST, source.clone());
    let d = s.first();
    let outcome = d.deploy("web:2", "test", None, |_| {}).unwrap();
    assert_eq!(
        outcome.reason().unwrap().to_string(),
        "the analysis could not measure at step 1, 10 %: 5 source errors in a row > limit 4; last: fake: connection refused"
    );
    assert_eq!(source.measurements(), 5);
    assert_eq!(s.switch.weights(), [10, 0]);
    let a = s.history().get("web-2").cloned().unwrap().analysis.unwrap();
    assert_eq!((a.verdict, a.counts.errors), (Verdict::Error, 5));

    // Three errors, then data: promoted; the errors never count as a pass.
    let source = FakeSource::new().failing(3, "timeout");
    let s = Setup::new(FAST, source.clone());
    let d = s.first();
    assert_eq!(
        d.deploy("web:2", "test", None, |_| {}).unwrap().exit_code(),
        0
    );
    assert_eq!(source.measurements(), 3 + 4);
    let a = s.history().get("web-2").cloned().unwrap().analysis.unwrap();
    assert_eq!((a.counts.errors, a.counts.successful), (3, 4));

    // A limit of 0: the first error aborts.
    let source = FakeSource::new().failing(usize::MAX, "down");
    let s = Setup::new(
        "[analysis]\ninterval = \"20ms\"\nconsecutive_error_limit = 0\n",
        source.clone(),
    );
    let d = s.first();
    let outcome = d.deploy("web:2", "test", None, |_| {}).unwrap();
    assert!(
        outcome
            .reason()
            .unwrap()
            .to_string()
            .contains("1 source errors in a row > limit 0")
    );
    assert_eq!(source.measurements(), 1);
}

#[test]
fn a_manual_gate_waits_for_promote_or_abort() {
    let extra = "[canary]\nsteps = [10, 50, 100]\npause = [50]\n[analysis]\ninterval = \"20ms\"\n";
    let s = Setup::new(extra, FakeSource::new());
    let d = s.first();
    let (handle, _) = deploy_in_background(&s, "web:2");
    let p = paused(&d);
    assert_eq!((p.step, p.steps, p.weight), (Some(2), 3, 50));
    assert_eq!(
        p.summary(),
        "web-2: canary step 2/3 at 50 %, paused: step 2/3 (50 %) passed its analysis: a manual gate"
    );
    assert_eq!(s.switch.weights(), [10, 50]);
    d.decide(Decision::Promote, &Actor::new("carol", "ops-1"))
        .unwrap();
    assert_eq!(handle.join().unwrap().exit_code(), 0);
    assert_eq!(s.switch.weights(), [10, 50, 100]);

    // The same gate, aborted.
    let (handle, _) = deploy_in_background(&s, "web:3");
    paused(&d);
    d.decide(Decision::Abort, &Actor::new("carol", "ops-1"))
        .unwrap();
    let outcome = handle.join().unwrap();
    assert_eq!(
        outcome.reason().unwrap().to_string(),
        "aborted by carol@ops-1 at the gate after step 2, 50 %"
    );
    assert_eq!(s.runtime.running(), ["web-2"]);
    let a = s.history().get("web-3").cloned().unwrap().analysis.unwrap();
    assert_eq!(a.verdict, Verdict::Aborted);
}

#[test]
fn an_abort_is_taken_while_the_analysis_measures() {
    let s = Setup::new("[analysis]\ninterval = \"5s\"\n", FakeSource::new());
    let d = s.first();
    let (handle, _) = deploy_in_background(&s, "web:2");
    // A promote needs a pause; an abort does not.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let progress = loop {
        if let Some(p) = d.progress().unwrap() {
            break p;
        }
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(progress.state, "analysing");
    let err = d
        .decide(Decision::Promote, &Actor::new("dan", "h"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("web-2 is not paused"), "{err}");
    d.decide(Decision::Abort, &Actor::new("dan", "h")).unwrap();
    let started = std::time::Instant::now();
    let outcome = handle.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "taken within a poll"
    );
    assert_eq!(
        outcome.reason().unwrap().to_string(),
        "aborted by dan@h at step 1, 10 %"
    );
}

#[test]
fn blue_green_verify_switches_back_at_once_on_failure() {
    let s = Setup::new(FAST, FakeSource::new().release("web-2", [good(), bad()]));
    let mut config = s.config.clone();
    config.strategy = Strategy::BlueGreen;
    config.verify = Some(Duration::from_millis(60));
    config.validate().unwrap();
    let d = Deployer::new(config.clone(), s.runtime.clone())
        .with_switch(Box::new(s.switch.clone()))
        .with_source(Box::new(s.source.clone()));
    assert_eq!(
        d.deploy("web:1", "test", None, |_| {}).unwrap().exit_code(),
        0
    );
    let mut states = Vec::new();
    let outcome = d
        .deploy("web:2", "test", None, |e| {
            if let Event::Transition { transition, .. } = e {
                states.push(transition.to);
            }
        })
        .unwrap();
    let reason = outcome.reason().unwrap();
    let text = reason.to_string();
    assert!(
        text.starts_with("error ratio 0.2 > 0.01 in the verification, ")
            && text.ends_with(" s after the switch (1 failed measurement > failure limit 0)"),
        "{text}"
    );
    assert!(
        matches!(reason, FailureReason::Analysis { phase, step: None, .. } if phase == "verify")
    );
    // Switched to web-2, then back to web-1 at once; web-2 stopped.
    let routed: Vec<String> = s
        .switch
        .calls()
        .iter()
        .filter(|c| c.accepted)
        .map(|c| c.release.clone())
        .collect();
    assert_eq!(routed, ["web-1", "web-2", "web-1"]);
    assert_eq!(s.runtime.running(), ["web-1"]);
    assert_eq!(d.current().unwrap().release, "web-1");
    assert_eq!(
        states,
        [
            State::Starting,
            State::Checking,
            State::Switching,
            State::Analysing,
            State::RollingBack,
            State::RolledBack
        ]
    );
    let r = History::load(&config.history_path(), "web")
        .unwrap()
        .get("web-2")
        .cloned()
        .unwrap();
    assert_eq!(r.outcome, Outcome::Failed);
    assert!(r.live_at.is_some(), "it had the traffic: a change failure");
    assert_eq!(r.analysis.unwrap().kind, "verify");

    // A good release is verified (three measurements of 20 ms), then the old one drains.
    let s2 = FakeSource::new();
    let d = Deployer::new(config, s.runtime.clone())
        .with_switch(Box::new(s.switch.clone()))
        .with_source(Box::new(s2.clone()));
    assert_eq!(
        d.deploy("web:3", "test", None, |_| {}).unwrap().exit_code(),
        0
    );
    assert_eq!(s2.measurements(), 3);
    assert_eq!(s.runtime.running(), ["web-3"]);
}

#[test]
fn latency_and_query_conditions() {
    let extra = "[analysis]\ninterval = \"20ms\"\n[[analysis.conditions]]\nsignal = \"latency\"\nquantile = 0.99\nmax = 0.5\n[[analysis.conditions]]\nsignal = \"query\"\nname = \"checkouts per second\"\nquery = \"sum(rate(shop_checkout_visits_total[1m]))\"\nmin = 1\n";
    let mut slow = good();
    slow.quantiles = vec![Some(0.75)];
    slow.queries = vec![Some(3.0)];
    let s = Setup::new(extra, FakeSource::new().release("web-2", [slow]));
    let d = s.first();
    let outcome = d.deploy("web:2", "test", None, |_| {}).unwrap();
    assert_eq!(
        outcome.reason().unwrap().to_string(),
        "p99 latency 0.75 s > 0.5 s at step 1, 10 % (1 failed measurement > failure limit 0)"
    );
    let a = s.history().get("web-2").cloned().unwrap().analysis.unwrap();
    assert_eq!(
        a.conditions,
        ["p99 latency ≤ 0.5", "checkouts per second ≥ 1"]
    );
    assert_eq!(
        a.measurements[0].results[1].text,
        "checkouts per second 3 ≥ 1"
    );
}

#[test]
fn an_interrupted_canary_leaves_a_split_that_the_next_deploy_undoes() {
    let s = Setup::new(FAST, FakeSource::new());
    let d = s.first();
    // A canary killed at its first step: the traffic is split, the canary runs.
    s.switch
        .split(("web-1", addr(PORT)), ("web-9", addr(ALT)), 10)
        .unwrap();
    let mut notes = Vec::new();
    let outcome = d
        .deploy("web:2", "test", None, |e| {
            if let Event::Note { message, .. } = e {
                notes.push((*message).to_owned());
            }
        })
        .unwrap();
    assert_eq!(outcome.exit_code(), 0);
    assert!(
        notes
            .iter()
            .any(|n| n
                == "the traffic was split (an interrupted canary): all of it goes back to web-1"),
        "{notes:?}"
    );
}

#[test]
fn dora_figures_from_the_history() {
    let s = Setup::new(FAST, FakeSource::new().release("web-3", [bad()]));
    let d = s.first();
    assert_eq!(
        d.deploy("web:2", "test", None, |_| {}).unwrap().exit_code(),
        0
    );
    assert_eq!(
        d.deploy("web:3", "test", None, |_| {}).unwrap().exit_code(),
        1
    );
    // A release whose checks fail never gets traffic: a failed deploy, not a change failure.
    let runtime = s
        .runtime
        .clone()
        .artifact("web:4", ops_deploy::FakeBehavior::UnhealthyAfter(0));
    let d4 = Deployer::new(s.config.clone(), runtime)
        .with_switch(Box::new(s.switch.clone()))
        .with_source(Box::new(s.source.clone()));
    assert_eq!(
        d4.deploy("web:4", "test", None, |_| {})
            .unwrap()
            .exit_code(),
        1
    );
    // Rolled back on request: web-2 replaced by web-1.
    assert_eq!(
        d.rollback(None, "test", None, |_| {}).unwrap().exit_code(),
        0
    );
    let history = s.history();
    let stats = DeployStats::from_history(&history);
    let by: Vec<(String, String, u64)> = stats
        .deployments
        .iter()
        .map(|((s, o), n)| (s.clone(), o.clone(), *n))
        .collect();
    assert_eq!(
        by,
        [
            ("canary".to_owned(), "failed".to_owned(), 2),
            ("canary".to_owned(), "healthy".to_owned(), 1),
            ("canary".to_owned(), "rolled_back".to_owned(), 1),
        ]
    );
    // web-1, web-2 (rolled back) and web-3 (aborted at 10 %) had traffic; web-4 never did.
    assert_eq!((stats.live, stats.change_failures), (3, 2));
    assert_eq!(stats.change_failure_ratio, Some(2.0 / 3.0));
    assert_eq!(stats.restores, 2);
    let web2 = history.get("web-2").unwrap();
    assert_eq!(web2.outcome, Outcome::RolledBack);
    assert!(web2.restored_at.is_some());
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["deployments"][0]["outcome"], "failed");
    assert_eq!(json["analyses"][0]["verdict"], "failed");
}

/// A minimal subscriber keeping the events with target `audit` (what ops-logging routes to
/// its audit stream).
mod capture {
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// One event's fields, name and value.
    pub(super) type Fields = Vec<(String, String)>;

    #[derive(Clone, Default)]
    pub(super) struct Audit(pub(super) Arc<Mutex<Vec<Fields>>>);

    struct Visitor(Fields);

    impl Visit for Visitor {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push((field.name().to_owned(), format!("{value:?}")));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push((field.name().to_owned(), value.to_owned()));
        }
    }

    impl Subscriber for Audit {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            if event.metadata().target() == "audit" {
                let mut f = Visitor(Vec::new());
                event.record(&mut f);
                self.0.lock().unwrap().push(f.0);
            }
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

#[test]
fn every_change_is_an_audit_event() {
    let s = Setup::new(FAST, FakeSource::new().release("web-3", [bad()]));
    let audit = capture::Audit::default();
    tracing::subscriber::with_default(audit.clone(), || {
        let d = s.first();
        assert_eq!(
            d.deploy("web:2", "test", None, |_| {}).unwrap().exit_code(),
            0
        );
        assert_eq!(
            d.deploy("web:3", "test", None, |_| {}).unwrap().exit_code(),
            1
        );
        assert_eq!(
            d.rollback(None, "test", None, |_| {}).unwrap().exit_code(),
            0
        );
    });
    let events = audit.0.lock().unwrap().clone();
    let field = |e: &Vec<(String, String)>, k: &str| {
        e.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let summary: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{} {} {} by {}@{}",
                field(e, "release"),
                field(e, "action"),
                field(e, "outcome"),
                field(e, "actor"),
                field(e, "host")
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "web-1 deploy started by ci@build-1",
            "web-1 deploy healthy by ci@build-1",
            "web-2 deploy started by ci@build-1",
            "web-2 promote promoted by ci@build-1",
            "web-2 deploy healthy by ci@build-1",
            "web-3 deploy started by ci@build-1",
            "web-3 abort analysis failed by ci@build-1",
            "web-3 rollback rolled_back by ci@build-1",
            "web-3 deploy rolled_back by ci@build-1",
            "web-2 rollback rolled_back by ci@build-1",
            "web-1 rollback healthy by ci@build-1",
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| field(e, "service") == "web" && !field(e, "at").is_empty())
    );
}

#[test]
fn canary_configs_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, needle) in [
        ("[canary]\nsteps = [50, 10]\n", "strictly increasing"),
        ("[canary]\nsteps = [0, 10]\n", "1 to 100"),
        ("[canary]\npause = [30]\n", "canary.pause 30"),
        ("[analysis]\ninterval = \"0s\"\n", "interval"),
        ("[analysis]\nsource = \"access-log\"\n", "needs access_log"),
        (
            "[analysis]\nsource = \"prometheus\"\n",
            "needs prometheus_url",
        ),
        (
            "[[analysis.conditions]]\nsignal = \"latency\"\nmax = 1\n",
            "needs quantile",
        ),
        (
            "[[analysis.conditions]]\nsignal = \"query\"\nquery = \"sum(\"\nmax = 1\n",
            "analysis.conditions[0].query",
        ),
        (
            "[[analysis.conditions]]\nsignal = \"error_ratio\"\n",
            "needs max, min",
        ),
        (
            "[analysis]\nsource = \"access-log\"\naccess_log = \"/x\"\n[[analysis.conditions]]\nsignal = \"query\"\nquery = \"up\"\nmax = 1\n",
            "an access log has no PromQL",
        ),
    ] {
        let text = format!(
            "service = \"web\"\nport = 1\nalt_port = 2\nstrategy = \"canary\"\n[proxy]\nupstream_file = \"u\"\n{extra}"
        );
        let err = DeployConfig::from_toml(&text, dir.path().join("c.toml").as_ref())
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{needle}: {err}");
    }
    let err = DeployConfig::from_toml(
        "service = \"web\"\nport = 1\nverify = \"1m\"\n",
        "c.toml".as_ref(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("verify: needs strategy \"blue-green\""),
        "{err}"
    );
    // Defaults: Argo's limits, the error ratio at 1 %.
    let c = DeployConfig::from_toml(
        "service = \"web\"\nport = 1\nalt_port = 2\nstrategy = \"canary\"\n[proxy]\nupstream_file = \"u\"\n",
        "c.toml".as_ref(),
    )
    .unwrap();
    let a = c.analysis();
    assert_eq!(
        (
            a.failure_limit,
            a.inconclusive_limit,
            a.consecutive_error_limit,
            a.min_requests
        ),
        (0, 0, 4, 20)
    );
    assert_eq!(a.conditions, [Condition::error_ratio(0.01)]);
    assert_eq!(c.canary().steps, [10, 25, 50, 100]);
}
