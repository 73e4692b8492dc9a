//! The evaluator's semantics, step by step with an injected clock.

use std::time::{Duration, SystemTime};

use ops_metrics::SystemMetrics;
use ops_thresholds::{
    AlertState, Comparison, Evaluator, FlapDetection, Metric, Notification, Observation, Rule,
    RuleSet,
};

fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn cpu(v: f64, at: SystemTime) -> SystemMetrics {
    let mut m = SystemMetrics::empty(at);
    m.cpu_percent = Some(v);
    m
}

fn set(rules: Vec<Rule>, interval: u64, resend: u64) -> RuleSet {
    let mut s = RuleSet::defaults();
    s.rules = rules;
    s.interval = Duration::from_secs(interval);
    s.resend_delay = Duration::from_secs(resend);
    s
}

/// One evaluation of a system sample (no profile), notifications appended to `out`.
pub(super) fn observe(
    eval: &mut Evaluator,
    now: SystemTime,
    metrics: &SystemMetrics,
    out: &mut Vec<Notification>,
) {
    eval.evaluate(
        now,
        Observation {
            metrics,
            profile: None,
        },
        out,
    );
}

/// Feeds `values` one per `step` seconds; returns (state per tick, notifications per tick).
pub(super) fn run(
    eval: &mut Evaluator,
    values: &[f64],
    step: u64,
) -> (Vec<AlertState>, Vec<Vec<Notification>>) {
    let mut states = Vec::new();
    let mut sent = Vec::new();
    for (i, &v) in values.iter().enumerate() {
        let now = t(i as u64 * step);
        let m = cpu(v, now);
        let mut out = Vec::new();
        observe(eval, now, &m, &mut out);
        states.push(
            eval.statuses()
                .first()
                .map_or(AlertState::Inactive, |s| s.state),
        );
        sent.push(out);
    }
    (states, sent)
}

use AlertState::{Firing as F, Inactive as I, Pending as P};

#[test]
fn the_playbooks_defaults_and_messages() {
    let mut eval = Evaluator::new(RuleSet::defaults());
    let mut m = cpu(93.24, t(0));
    m.memory_percent = 88.0;
    m.disk_usage.insert("/".into(), 91.5);
    m.disk_usage.insert("/data".into(), 42.0);
    let mut out = Vec::new();
    observe(&mut eval, t(0), &m, &mut out);
    let messages: Vec<&str> = out.iter().map(Notification::message).collect();
    assert_eq!(
        messages,
        [
            "High CPU usage: 93.2%",
            "High memory usage: 88.0%",
            "High disk usage on /: 91.5%"
        ]
    );
    assert_eq!(out[2].label("mount"), Some("/"));
    assert_eq!(out[2].label("alertname"), Some("HighDiskUsage"));
    assert_eq!(out[0].label("severity"), Some("warning"));
    // Exactly at the threshold is not "above".
    let mut eval = Evaluator::new(RuleSet::defaults());
    let mut out = Vec::new();
    observe(&mut eval, t(0), &cpu(80.0, t(0)), &mut out);
    assert!(out.is_empty());
}

/// The promtool-verified scenario of the research notes: interval 1m, for 2m, keep_firing_for 2m,
/// values 50 90 90 90 90 50 50 …: pending at 1m and 2m, firing 3m–6m, resolved at 7m.
#[test]
fn for_and_keep_firing_for_like_prometheus() {
    let rule = Rule::new("HighCpu", Metric::Cpu, Comparison::Greater, 80.0)
        .for_duration(Duration::from_secs(120))
        .keep_firing_for(Duration::from_secs(120));
    let mut eval = Evaluator::new(set(vec![rule], 60, 60));
    let (states, sent) = run(
        &mut eval,
        &[50.0, 90.0, 90.0, 90.0, 90.0, 50.0, 50.0, 50.0, 50.0],
        60,
    );
    assert_eq!(states, [I, P, P, F, F, F, F, I, I]);
    let firing_sends: Vec<usize> = sent
        .iter()
        .enumerate()
        .filter(|(_, s)| s.iter().any(|n| !n.resolved))
        .map(|(i, _)| i)
        .collect();
    // Sent when it fires (3m), then every resend delay (1m): strictly after 60 s → at 5m, 7m...
    assert_eq!(firing_sends[0], 3);
    let resolved_at: Vec<usize> = sent
        .iter()
        .enumerate()
        .filter(|(_, s)| s.iter().any(|n| n.resolved))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(resolved_at[0], 7, "resolution sent at once");
    let n = &sent[3][0];
    assert_eq!(n.starts_at, t(180));
    assert_eq!(
        n.ends_at,
        t(180) + Duration::from_secs(240),
        "endsAt = now + 4 × max(interval, resend)"
    );
    let r = &sent[7][0];
    assert_eq!((r.starts_at, r.ends_at), (t(180), t(420)));
}

#[test]
fn pending_is_dropped_on_the_first_false_sample() {
    let rule = Rule::new("HighCpu", Metric::Cpu, Comparison::Greater, 80.0)
        .for_duration(Duration::from_secs(120));
    let mut eval = Evaluator::new(set(vec![rule], 60, 60));
    let (states, sent) = run(&mut eval, &[90.0, 90.0, 70.0, 90.0, 90.0, 90.0], 60);
    assert_eq!(states, [P, P, I, P, P, F]);
    assert!(
        sent[..5].iter().all(Vec::is_empty),
        "pending alerts are never sent"
    );
}

#[test]
fn keep_firing_for_is_strict_and_reset_by_a_breach() {
    let rule = Rule::new("HighCpu", Metric::Cpu, Comparison::Greater, 80.0)
        .keep_firing_for(Duration::from_secs(120));
    let mut eval = Evaluator::new(set(vec![rule], 60, 3600));
    // Clear at 1m: keeps firing at 1m, 2m (2m−1m < 2m), resolves at 3m (3m−1m = 2m, not < 2m).
    let (states, _) = run(&mut eval, &[90.0, 50.0, 50.0, 50.0], 60);
    assert_eq!(states, [F, F, F, I]);
    let rule = Rule::new("HighCpu", Metric::Cpu, Comparison::Greater, 80.0)
        .keep_firing_for(Duration::from_secs(120));
    let mut eval = Evaluator::new(set(vec![rule], 60, 3600));
    let (states, _) = run(&mut eval, &[90.0, 50.0, 90.0, 50.0, 50.0, 50.0], 60);
    assert_eq!(
        states,
        [F, F, F, F, F, I],
        "a breach restarts keep_firing_for"
    );
}

#[test]
fn resend_and_resolved_retention() {
    let rule = Rule::new("HighCpu", Metric::Cpu, Comparison::Greater, 80.0);
    let mut eval = Evaluator::new(set(vec![rule], 10, 30));
    let mut values = vec![90.0; 10];
    values.extend(vec![50.0; 100]);
    let (_, sent) = run(&mut eval, &values, 10);
    let firing: Vec<usize> = sent
        .iter()
        .enumerate()
        .filter(|(_, s)| s.iter().any(|n| !n.resolved))
        .map(|(i, _)| i)
        .collect();
    // Resend when last + 30 s < now: ticks 0, 4, 8.
    assert_eq!(firing, [0, 4, 8]);
    let resolved: Vec<usize> = sent
        .iter()
        .enumerate()
        .filter(|(_, s)| s.iter().any(|n| n.resolved))
        .map(|(i, _)| i)
        .collect();
    // Resolved at tick 10, re-sent every 40 s while kept (15 min = 90 ticks), then forgotten.
    assert_eq!(resolved[0], 10);
    assert_eq!(resolved[1], 14);
    assert!(*resolved.last().unwrap() <= 100, "{resolved:?}");
    assert!(resolved.len() >= 20);
    assert!(
        sent[105..].iter().all(Vec::is_empty),
        "forgotten after 15 minutes"
    );
}

#[test]
fn hysteresis_fires_above_80_clears_below_75() {
    let rule = Rule::new("HighCpu", Metric::Cpu, Comparison::Greater, 80.0).recovery(75.0);
    let mut eval = Evaluator::new(set(vec![rule], 1, 3600));
    let (states, sent) = run(
        &mut eval,
        &[78.0, 81.0, 79.0, 76.0, 75.0, 74.9, 79.0, 80.5],
        1,
    );
    assert_eq!(states, [I, F, F, F, F, I, I, F]);
    assert_eq!(
        sent.iter().filter(|s| !s.is_empty()).count(),
        3,
        "fire, resolve, fire again"
    );

    // For a lower bound the recovery sits above: fire below 10, clear above 15.
    let rule = Rule::new("LowCpu", Metric::Cpu, Comparison::Less, 10.0).recovery(15.0);
    let mut eval = Evaluator::new(set(vec![rule], 1, 3600));
    let (states, _) = run(&mut eval, &[20.0, 9.0, 14.0, 15.0, 15.1], 1);
    assert_eq!(states, [I, F, F, F, I]);
}

#[test]
fn flapping_holds_notifications_back() {
    let mut rule = Rule::new("Flappy", Metric::Cpu, Comparison::Greater, 80.0);
    rule.flap = Some(FlapDetection {
        low: 20.0,
        high: 30.0,
    });
    let mut eval = Evaluator::new(set(vec![rule], 1, 3600));
    let values: Vec<f64> = (0..40)
        .map(|i| if i % 2 == 0 { 90.0 } else { 50.0 })
        .collect();
    let (_, sent) = run(&mut eval, &values, 1);
    let sends_before_history = sent[..21].iter().filter(|s| !s.is_empty()).count();
    let sends_after = sent[21..].iter().filter(|s| !s.is_empty()).count();
    assert!(sends_before_history > 0, "no history yet: alerts flow");
    assert_eq!(
        sends_after, 0,
        "once 21 states show flapping, notifications wait"
    );
    assert!(eval.statuses().iter().any(|s| s.flapping));
}

#[test]
fn per_mount_instances_and_selectors() {
    let rules = vec![
        Rule::new("DiskAny", Metric::Disk, Comparison::Greater, 90.0),
        Rule::new("DiskData", Metric::Disk, Comparison::Greater, 50.0).select("/data"),
    ];
    let mut eval = Evaluator::new(set(rules, 1, 60));
    let mut m = SystemMetrics::empty(t(0));
    for (mount, p) in [("/", 95.0), ("/data", 60.0), ("/boot", 99.0)] {
        m.disk_usage.insert(mount.into(), p);
    }
    let mut out = Vec::new();
    observe(&mut eval, t(0), &m, &mut out);
    let got: Vec<(String, &str)> = out
        .iter()
        .map(|n| (n.alertname.clone(), n.label("mount").unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("DiskAny".into(), "/"),
            ("DiskAny".into(), "/boot"),
            ("DiskData".into(), "/data")
        ]
    );
}

#[test]
fn network_rates_and_function_percentiles() {
    let rules = vec![
        Rule::new("RxBurst", Metric::NetworkRx, Comparison::Greater, 1000.0).select("eth0"),
        Rule::new("SlowLoad", Metric::FunctionP99, Comparison::Greater, 5.0).select("load_user"),
    ];
    let mut eval = Evaluator::new(set(rules, 1, 60));
    let profiler = ops_profiler::PerformanceProfiler::new();
    profiler.profile_function("app::db::load_user", Duration::from_millis(1));
    let mut out = Vec::new();
    for (i, rx) in [(0u64, 0u64), (2, 10_000)] {
        if i == 2 {
            // Between the two evaluations: the calls the window sees.
            for ms in [1, 2, 3, 50] {
                profiler.profile_function("app::db::load_user", Duration::from_millis(ms));
            }
        }
        let report = profiler.report();
        let mut m = SystemMetrics::empty(t(i));
        m.interfaces.insert(
            "eth0".into(),
            ops_metrics::NetworkIo {
                bytes_recv: rx,
                ..ops_metrics::NetworkIo::default()
            },
        );
        eval.evaluate(
            t(i),
            Observation {
                metrics: &m,
                profile: Some(&report),
            },
            &mut out,
        );
    }
    let rx = out.iter().find(|n| n.alertname == "RxBurst").unwrap();
    assert_eq!(rx.value, 5000.0, "10,000 bytes over 2 s");
    let slow = out.iter().find(|n| n.alertname == "SlowLoad").unwrap();
    assert_eq!(slow.label("function"), Some("app::db::load_user"));
    // The window's p99 is the 50 ms call's, interpolated in its bucket (25, 50] ms as
    // Prometheus's histogram_quantile does.
    assert!(slow.value > 25.0 && slow.value <= 50.0, "{}", slow.value);
}

/// A function's error ratio is the window's, not the total since start: after 200 good calls,
/// 40 failures in a row fire `> 0.2` at once (the cumulative ratio, 0.167, never would), and the
/// alert resolves when the failures leave the window.
#[test]
fn function_error_ratio_is_windowed() {
    let rule = Rule::new(
        "Orders",
        Metric::FunctionErrorRatio,
        Comparison::Greater,
        0.2,
    )
    .select("place_order")
    .window(Duration::from_mins(5));
    let mut eval = Evaluator::new(set(vec![rule], 15, 60));
    let profiler = ops_profiler::PerformanceProfiler::new();
    let name = "shop::place_order";
    let m = SystemMetrics::empty(t(0));
    let step = |at: u64, good: u32, bad: u32, eval: &mut Evaluator| {
        for _ in 0..good {
            profiler.profile_call(name, Duration::from_millis(2), true);
        }
        for _ in 0..bad {
            profiler.profile_call(name, Duration::from_millis(2), false);
        }
        let report = profiler.report();
        let mut out = Vec::new();
        eval.evaluate(
            t(at),
            Observation {
                metrics: &m,
                profile: Some(&report),
            },
            &mut out,
        );
        out
    };
    // 200 good calls spread over the first 10 minutes.
    for i in 0..40u64 {
        assert!(step(i * 15, 5, 0, &mut eval).is_empty());
    }
    // Then 40 failures within a minute: the window's ratio is far above 0.2.
    let mut fired = Vec::new();
    for i in 40..44u64 {
        fired.extend(step(i * 15, 0, 10, &mut eval));
    }
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(!fired[0].resolved);
    assert!(fired[0].value > 0.2, "{}", fired[0].value);
    let cumulative = 40.0 / 240.0;
    assert!(
        cumulative < 0.2,
        "the old cumulative figure would never fire"
    );
    // Good calls again: it resolves once the window's ratio is back under 0.2 (the failures,
    // at 600–645 s, weigh less as good calls arrive) and well before they leave the window.
    let first_resolution = (44..80u64)
        .find(|&i| step(i * 15, 5, 0, &mut eval).iter().any(|n| n.resolved))
        .expect("the alert resolves");
    // 40 failures against the good calls of the window: under 0.2 once about 160 good calls
    // (32 steps of 5) are in it, or once the failures leave it at 945 s (step 63).
    assert!((44..=64).contains(&first_resolution), "{first_resolution}");
}

#[test]
fn steady_state_evaluation_allocates_nothing() {
    let mut rules: Vec<Rule> = (0..50)
        .map(|i| {
            Rule::new(
                format!("Cpu{i}"),
                Metric::Cpu,
                Comparison::Greater,
                10.0 + f64::from(i),
            )
        })
        .collect();
    rules.push(Rule::new("Disk", Metric::Disk, Comparison::Greater, 50.0));
    let mut eval = Evaluator::new(set(rules, 1, 3600));
    let mut m = cpu(30.0, t(0));
    m.disk_usage.insert("/".into(), 70.0);
    m.disk_usage.insert("/data".into(), 20.0);
    let mut out = Vec::with_capacity(256);
    observe(&mut eval, t(0), &m, &mut out);
    out.clear();
    observe(&mut eval, t(1), &m, &mut out);
    out.clear();
    let before = crate::counting::allocations();
    for i in 2..200 {
        m.timestamp = t(i);
        observe(&mut eval, t(i), &m, &mut out);
    }
    let allocated = crate::counting::allocations() - before;
    assert!(out.is_empty(), "nothing to send in steady state");
    assert_eq!(
        allocated, 0,
        "steady-state evaluation allocated {allocated} times"
    );
}

/// Regression: with flap detection, a resolved alert was re-sent every resend delay forever once
/// its 15-minute retention ran out.
#[test]
fn flap_rules_stop_resending_after_retention() {
    let mut rule = Rule::new("Flappy", Metric::Cpu, Comparison::Greater, 80.0);
    rule.flap = Some(FlapDetection {
        low: 20.0,
        high: 30.0,
    });
    let mut eval = Evaluator::new(set(vec![rule], 60, 60));
    let mut values = vec![90.0];
    values.extend(vec![50.0; 60]);
    let (_, sent) = run(&mut eval, &values, 60);
    let last_send = sent.iter().rposition(|s| !s.is_empty()).unwrap();
    assert!(last_send <= 17, "resolved re-sent until minute {last_send}");
}

/// Regression: the recovery threshold applied to pending alerts, so one that never breached
/// again after the first sample could still fire.
#[test]
fn recovery_applies_to_firing_alerts_only() {
    let rule = Rule::new("HighCpu", Metric::Cpu, Comparison::Greater, 80.0)
        .recovery(75.0)
        .for_duration(Duration::from_secs(120));
    let mut eval = Evaluator::new(set(vec![rule], 60, 60));
    let (states, _) = run(&mut eval, &[81.0, 78.0, 78.0, 78.0, 78.0], 60);
    assert_eq!(states, [P, I, I, I, I]);
}

#[test]
fn huge_durations_are_refused_not_overflowed() {
    let err = RuleSet::parse(
        "resend_delay = \"200000000000y\"\n",
        ops_thresholds::Format::Toml,
        std::path::Path::new("r.toml"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("resend_delay"), "{err}");
}
