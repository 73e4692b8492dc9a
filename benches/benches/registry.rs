//! Application metrics on the hot path, beside what a user would pick instead, in one run:
//! a counter increment and a histogram record (`Buckets::HTTP`, 14 bounds) through a kept
//! handle at 1, 2 and 8 threads — the mean per-thread CPU time per update, so contention
//! (cache-line bouncing, lock waits) shows while the machine's cores being shared by more
//! threads does not — for ops-registry (directly, and through the `metrics` facade with its
//! `MetricsRecorder`), `metrics` with metrics-exporter-prometheus's recorder, and
//! prometheus-client; a counter looked up by label per event (no kept handle); then the
//! exposition of 10,000 counter series and of 1,000 histogram series, time and bytes, beside
//! prometheus-client's text encoder and metrics-exporter-prometheus's render.
//!
//! `cargo bench -p ops-benches --bench registry`

#![allow(missing_docs, clippy::unwrap_used, clippy::print_stderr)]

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use ops_registry::{Buckets, Exposition, MetricsRecorder, Registry};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter as PcCounter;
use prometheus_client::metrics::family::Family as PcFamily;
use prometheus_client::metrics::histogram::Histogram as PcHistogram;
use prometheus_client::registry::Registry as PcRegistry;

const THREADS: [usize; 3] = [1, 2, 8];

/// Observations spread over the HTTP buckets (seconds).
const VALUES: [f64; 16] = [
    0.003, 0.008, 0.012, 0.02, 0.04, 0.06, 0.09, 0.15, 0.3, 0.6, 0.9, 1.5, 3.0, 6.0, 9.0, 12.0,
];

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `threads` threads each call `f` `iters` times at once; the mean per-thread CPU time.
fn per_thread_cost<F: Fn(u64) + Clone + Send + 'static>(
    threads: usize,
    iters: u64,
    f: F,
) -> Duration {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let f = f.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let start = thread_cpu();
                for i in 0..iters {
                    f(black_box(i));
                }
                thread_cpu().saturating_sub(start)
            })
        })
        .collect();
    let total: Duration = handles.into_iter().map(|h| h.join().unwrap()).sum();
    total / u32::try_from(threads).unwrap()
}

fn exporter() -> (
    metrics_exporter_prometheus::PrometheusRecorder,
    PrometheusHandle,
) {
    let recorder = PrometheusBuilder::new()
        .set_buckets(Buckets::HTTP.bounds())
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    (recorder, handle)
}

fn hot_group<'c>(
    c: &'c mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(10);
    g
}

fn counter_increment(c: &mut Criterion) {
    let mut g = hot_group(c, "registry/counter_increment");

    let ops = Registry::new().counter("bench_total", "Bench.").unwrap();
    let ops_recorder = MetricsRecorder::new(&Registry::new());
    let ops_via_metrics =
        metrics::with_local_recorder(&ops_recorder, || metrics::counter!("bench_total"));
    let (recorder, _handle) = exporter();
    let via_metrics = metrics::with_local_recorder(&recorder, || metrics::counter!("bench_total"));
    let pc = PcCounter::<u64>::default();
    let mut pc_registry = PcRegistry::default();
    pc_registry.register("bench", "Bench.", pc.clone());

    for threads in THREADS {
        let id = |subject| BenchmarkId::new(subject, format!("{threads}_threads"));
        let h = ops.clone();
        g.bench_function(id("ops_registry"), |b| {
            b.iter_custom(|iters| {
                per_thread_cost(threads, iters, {
                    let h = h.clone();
                    move |_| h.inc()
                })
            });
        });
        let h = ops_via_metrics.clone();
        g.bench_function(id("ops_registry_via_metrics_facade"), |b| {
            b.iter_custom(|iters| {
                per_thread_cost(threads, iters, {
                    let h = h.clone();
                    move |_| h.increment(1)
                })
            });
        });
        let h = via_metrics.clone();
        g.bench_function(id("metrics_exporter_prometheus"), |b| {
            b.iter_custom(|iters| {
                per_thread_cost(threads, iters, {
                    let h = h.clone();
                    move |_| h.increment(1)
                })
            });
        });
        let h = pc.clone();
        g.bench_function(id("prometheus_client"), |b| {
            b.iter_custom(|iters| {
                per_thread_cost(threads, iters, {
                    let h = h.clone();
                    move |_| {
                        h.inc();
                    }
                })
            });
        });
    }

    // Looked up by label per event, on one thread: what a call site pays without a kept handle.
    let vec = Registry::new()
        .counter_vec("bench_lookup_total", "Bench.", &["route"])
        .unwrap();
    g.bench_function(
        BenchmarkId::new("ops_registry_with_per_event", "1_thread"),
        |b| {
            b.iter(|| vec.with(&[black_box("/orders")]).inc());
        },
    );
    metrics::with_local_recorder(&ops_recorder, || {
        g.bench_function(
            BenchmarkId::new("ops_registry_metrics_counter_macro_per_event", "1_thread"),
            |b| {
                b.iter(|| {
                    metrics::counter!("bench_lookup_total", "route" => black_box("/orders"))
                        .increment(1);
                });
            },
        );
    });
    metrics::with_local_recorder(&recorder, || {
        g.bench_function(
            BenchmarkId::new("metrics_counter_macro_per_event", "1_thread"),
            |b| {
                b.iter(|| {
                    metrics::counter!("bench_lookup_total", "route" => black_box("/orders"))
                        .increment(1);
                });
            },
        );
    });
    let family = PcFamily::<Vec<(String, String)>, PcCounter>::default();
    pc_registry.register("bench_lookup", "Bench.", family.clone());
    let labels = vec![("route".to_owned(), "/orders".to_owned())];
    g.bench_function(
        BenchmarkId::new("prometheus_client_get_or_create_per_event", "1_thread"),
        |b| {
            b.iter(|| {
                family.get_or_create(black_box(&labels)).inc();
            });
        },
    );
    g.finish();
}

fn histogram_record(c: &mut Criterion) {
    let mut g = hot_group(c, "registry/histogram_record");

    let ops = Registry::new()
        .histogram("bench_seconds", "Bench.", Buckets::HTTP)
        .unwrap();
    let ops_recorder = MetricsRecorder::builder(&Registry::new())
        .default_buckets(Buckets::HTTP)
        .build();
    let ops_via_metrics =
        metrics::with_local_recorder(&ops_recorder, || metrics::histogram!("bench_seconds"));
    let (recorder, handle) = exporter();
    let via_metrics =
        metrics::with_local_recorder(&recorder, || metrics::histogram!("bench_seconds"));
    let pc = PcHistogram::new(Buckets::HTTP.bounds().iter().copied());
    let mut pc_registry = PcRegistry::default();
    pc_registry.register("bench_seconds", "Bench.", pc.clone());

    for threads in THREADS {
        let id = |subject| BenchmarkId::new(subject, format!("{threads}_threads"));
        let h = ops.clone();
        g.bench_function(id("ops_registry"), |b| {
            b.iter_custom(|iters| {
                per_thread_cost(threads, iters, {
                    let h = h.clone();
                    move |i| h.record(VALUES[(i & 15) as usize])
                })
            });
        });
        let h = ops_via_metrics.clone();
        g.bench_function(id("ops_registry_via_metrics_facade"), |b| {
            b.iter_custom(|iters| {
                per_thread_cost(threads, iters, {
                    let h = h.clone();
                    move |i| h.record(VALUES[(i & 15) as usize])
                })
            });
        });
        let h = via_metrics.clone();
        g.bench_function(id("metrics_exporter_prometheus"), |b| {
            b.iter_custom(|iters| {
                let cost = per_thread_cost(threads, iters, {
                    let h = h.clone();
                    move |i| h.record(VALUES[(i & 15) as usize])
                });
                // The exporter keeps raw samples until a scrape: drain them (untimed), as a
                // scrape would, so memory stays bounded across samples.
                black_box(handle.render().len());
                cost
            });
        });
        let h = pc.clone();
        g.bench_function(id("prometheus_client"), |b| {
            b.iter_custom(|iters| {
                per_thread_cost(threads, iters, {
                    let h = h.clone();
                    move |i| h.observe(VALUES[(i & 15) as usize])
                })
            });
        });
    }
    g.finish();
}

const FAMILIES: usize = 10;

type PcHistogramFamily = PcFamily<Vec<(String, String)>, PcHistogram, fn() -> PcHistogram>;

fn http_histogram() -> PcHistogram {
    PcHistogram::new(Buckets::HTTP.bounds().iter().copied())
}

fn route(i: usize) -> String {
    format!("/api/v1/items/{i}")
}

fn exposition(c: &mut Criterion) {
    let mut g = c.benchmark_group("registry/exposition");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);

    // 10 counter families × 1,000 series {route, status}.
    let ops = Registry::new();
    let pc_families: Vec<PcFamily<Vec<(String, String)>, PcCounter>> =
        (0..FAMILIES).map(|_| PcFamily::default()).collect();
    let mut pc = PcRegistry::default();
    let (recorder, handle) = exporter();
    for (f, pc_family) in pc_families.iter().enumerate() {
        let name = format!("app_requests_{f}_total");
        let vec = ops
            .counter_vec(&name, "Requests served.", &["route", "status"])
            .unwrap();
        pc.register(
            format!("app_requests_{f}"),
            "Requests served.",
            pc_family.clone(),
        );
        for i in 0..1_000 {
            let labels = [route(i), "200".to_owned()];
            vec.with(&labels).add(i as u64 + 1);
            pc_family
                .get_or_create(&vec![
                    ("route".to_owned(), labels[0].clone()),
                    ("status".to_owned(), labels[1].clone()),
                ])
                .inc_by(i as u64 + 1);
            metrics::with_local_recorder(&recorder, || {
                metrics::counter!(name.clone(), "route" => labels[0].clone(), "status" => "200")
                    .increment(i as u64 + 1);
            });
        }
    }
    bench_pages(&mut g, "10k_counter_series", &ops, &pc, &handle);

    // 10 histogram families × 100 series {route}, HTTP buckets.
    let ops = Registry::new();
    let mut pc = PcRegistry::default();
    let (recorder, handle) = exporter();
    for f in 0..FAMILIES {
        let name = format!("app_request_{f}_duration_seconds");
        let vec = ops
            .histogram_vec(&name, "Request durations.", &["route"], Buckets::HTTP)
            .unwrap();
        let pc_family: PcHistogramFamily = PcFamily::new_with_constructor(http_histogram);
        pc.register(&name, "Request durations.", pc_family.clone());
        for i in 0..100 {
            let r = route(i);
            let pc_h = pc_family
                .get_or_create(&vec![("route".to_owned(), r.clone())])
                .clone();
            let h = vec.with(&[&r]);
            let via_metrics = metrics::with_local_recorder(
                &recorder,
                || metrics::histogram!(name.clone(), "route" => r.clone()),
            );
            for v in VALUES {
                h.record(v);
                pc_h.observe(v);
                via_metrics.record(v);
            }
        }
    }
    bench_pages(&mut g, "1k_histogram_series", &ops, &pc, &handle);
    g.finish();
}

fn bench_pages(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    what: &str,
    ops: &Registry,
    pc: &PcRegistry,
    handle: &PrometheusHandle,
) {
    let mut out = String::new();
    ops.encode_prometheus(&mut out);
    let ops_bytes = out.len();
    g.throughput(Throughput::Bytes(ops_bytes as u64));
    g.bench_function(BenchmarkId::new("ops_registry", what), |b| {
        b.iter(|| {
            out.clear();
            ops.encode_prometheus(&mut out);
            black_box(out.len())
        });
    });
    let mut pc_out = String::new();
    encode(&mut pc_out, pc).unwrap();
    let pc_bytes = pc_out.len();
    g.throughput(Throughput::Bytes(pc_bytes as u64));
    g.bench_function(BenchmarkId::new("prometheus_client", what), |b| {
        b.iter(|| {
            pc_out.clear();
            encode(&mut pc_out, pc).unwrap();
            black_box(pc_out.len())
        });
    });
    let exporter_bytes = handle.render().len();
    g.throughput(Throughput::Bytes(exporter_bytes as u64));
    g.bench_function(BenchmarkId::new("metrics_exporter_prometheus", what), |b| {
        b.iter(|| black_box(handle.render().len()));
    });
    eprintln!(
        "registry/exposition/{what}: page bytes ops_registry={ops_bytes} prometheus_client={pc_bytes} metrics_exporter_prometheus={exporter_bytes}"
    );
}

criterion_group!(benches, counter_increment, histogram_record, exposition);
criterion_main!(benches);
