//! Rule evaluation cost (1 and 1,000 rules, steady state: nothing to send), the cost of
//! handing a batch to the sinks, and loading rule files of 1,000, 10,000 and 100,000 rules
//! (linear: the time per rule stays flat).
//!
//! `cargo bench -p ops-benches --bench rules`

#![allow(missing_docs, clippy::unwrap_used)]

use std::fmt::Write as _;
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

/// A TOML rule file of `n` rules, each with a summary template and a label.
fn rule_file(n: usize) -> String {
    let mut text = String::from("interval = \"1s\"\n");
    for i in 0..n {
        let _ = write!(
            text,
            "\n[[rules]]\nname = \"Rule{i}\"\nmetric = \"disk\"\nthreshold = 90\nfor = \"1m\"\nlabels = {{ team = \"t{i}\" }}\nannotations = {{ summary = \"disk {{{{ labels.mount }}}} at {{{{ value }}}}%\" }}\n"
        );
    }
    text
}

fn bench_load(c: &mut Criterion) {
    let mut g = c.benchmark_group("rules/load");
    g.sample_size(10);
    for n in [1_000usize, 10_000, 100_000] {
        let text = rule_file(n);
        g.throughput(criterion::Throughput::Elements(n as u64));
        g.bench_function(format!("{n}_rules"), |b| {
            b.iter(|| {
                let set = RuleSet::parse(
                    black_box(&text),
                    ops_thresholds::Format::Toml,
                    std::path::Path::new("rules.toml"),
                )
                .unwrap();
                assert_eq!(set.rules.len(), n);
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench_evaluate, bench_dispatch, bench_load);
criterion_main!(benches);
