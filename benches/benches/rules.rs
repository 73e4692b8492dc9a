//! Rule evaluation cost (1 and 1,000 rules, steady state: nothing to send) and the cost of
//! handing a batch to the sinks.
//!
//! `cargo bench -p ops-benches --bench rules`

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ops_metrics::SystemMetrics;
use ops_thresholds::{
    AlertSink, Comparison, Dispatcher, Evaluator, Metric, Notification, Observation, Rule, RuleSet,
    SinkError,
};

fn rules(n: usize) -> RuleSet {
    let metrics = [
        Metric::Cpu,
        Metric::Memory,
        Metric::Disk,
        Metric::Load1,
        Metric::Processes,
    ];
    let mut set = RuleSet::defaults();
    set.rules = (0..n)
        .map(|i| {
            Rule::new(
                format!("Rule{i}"),
                metrics[i % metrics.len()].clone(),
                Comparison::Greater,
                1e9 + i as f64,
            )
            .for_duration(Duration::from_mins(1))
        })
        .collect();
    set
}

fn sample() -> SystemMetrics {
    let mut m = SystemMetrics::empty(SystemTime::now());
    m.cpu_percent = Some(42.0);
    m.memory_percent = 60.0;
    m.disk_usage.insert("/".into(), 70.0);
    m.disk_usage.insert("/data".into(), 30.0);
    m.process_count = 200;
    m
}

fn bench_evaluate(c: &mut Criterion) {
    let mut g = c.benchmark_group("rules/evaluate");
    for n in [1usize, 1000] {
        let mut eval = Evaluator::new(rules(n));
        let m = sample();
        let mut out = Vec::new();
        let mut t = SystemTime::now();
        g.bench_function(format!("{n}_rules"), |b| {
            b.iter(|| {
                t += Duration::from_secs(1);
                eval.evaluate(
                    t,
                    Observation {
                        metrics: black_box(&m),
                        profile: None,
                    },
                    &mut out,
                );
                out.clear();
            });
        });
    }
    g.finish();
}

struct Discard;

impl AlertSink for Discard {
    fn name(&self) -> &'static str {
        "discard"
    }
    fn send(&self, alerts: &[Notification]) -> Result<(), SinkError> {
        black_box(alerts);
        Ok(())
    }
}

fn bench_dispatch(c: &mut Criterion) {
    let dispatcher = Dispatcher::new(vec![Box::new(Discard)]).unwrap();
    let mut eval = Evaluator::new(RuleSet::defaults());
    let mut m = sample();
    m.cpu_percent = Some(95.0);
    let mut out = Vec::new();
    eval.evaluate(
        SystemTime::now(),
        Observation {
            metrics: &m,
            profile: None,
        },
        &mut out,
    );
    let batch = out;
    c.bench_function("rules/dispatch_one_alert", |b| {
        b.iter_batched(
            || batch.clone(),
            |v| dispatcher.dispatch(v),
            BatchSize::SmallInput,
        );
    });
}

criterion_group!(benches, bench_evaluate, bench_dispatch);
criterion_main!(benches);
