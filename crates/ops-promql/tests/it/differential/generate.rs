//! Seeded generation of input series (in promtool's expanding notation) and expressions.

use ops_promql::STALE_NAN;

use crate::it::OVER_TIME;

/// splitmix64: small, seeded, reproducible.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }

    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// One piece of a series' values, as promtool writes it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seg {
    /// `start+stepxn`: n+1 values, each the previous plus `step` (Go's repeated addition).
    Run { start: f64, step: f64, n: usize },
    /// `stale`.
    Stale,
    /// `_xn`: n steps without a sample.
    Gap(usize),
}

impl Seg {
    fn len(self) -> usize {
        match self {
            Seg::Run { n, .. } => n + 1,
            Seg::Stale => 1,
            Seg::Gap(n) => n,
        }
    }
}

/// A series: its text and its values.
#[derive(Debug, Clone)]
pub(crate) struct SeriesSpec {
    pub(crate) series: String,
    pub(crate) segs: Vec<Seg>,
}

impl SeriesSpec {
    /// promtool's `values:` text.
    pub(crate) fn values_text(&self) -> String {
        let parts: Vec<String> = self
            .segs
            .iter()
            .map(|s| match *s {
                Seg::Run {
                    start,
                    step: 0.0,
                    n,
                } => format!("{start}x{n}"),
                Seg::Run { start, step, n } => format!("{start}{step:+}x{n}"),
                Seg::Stale => "stale".to_owned(),
                Seg::Gap(1) => "_".to_owned(),
                Seg::Gap(n) => format!("_x{n}"),
            })
            .collect();
        parts.join(" ")
    }

    /// One value per step: `None` without a sample, `Some(STALE_NAN)` for `stale`.
    pub(crate) fn expand(&self) -> Vec<Option<f64>> {
        let mut out = Vec::new();
        for s in &self.segs {
            match *s {
                Seg::Run { start, step, n } => {
                    let mut v = start;
                    for _ in 0..=n {
                        out.push(Some(v));
                        v += step;
                    }
                }
                Seg::Stale => out.push(Some(STALE_NAN)),
                Seg::Gap(n) => out.extend(std::iter::repeat_n(None, n)),
            }
        }
        out
    }
}

/// How samples reach the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// One exposition page per step through `Store::ingest`: a series missing from a page
    /// after being in the previous one gets a staleness marker, so the series text says
    /// `stale` there (and `_` only after `stale` or before the first sample).
    Pages,
    /// `Store::append` per sample: `_` anywhere (no sample), `stale` a staleness marker.
    Append,
}

/// Segments for `steps` steps of a counter (`step` > 0, resets), a gauge (any step) or, with
/// `fixed_step`, a histogram bucket.
pub(crate) fn segments(rng: &mut Rng, steps: usize, mode: Mode, kind: Kind) -> Vec<Seg> {
    let mut segs = Vec::new();
    let mut used = 0;
    if rng.chance(20) {
        let n = 1 + rng.below(steps / 4);
        segs.push(Seg::Gap(n));
        used += n;
    }
    while used + 2 < steps {
        let left = steps - used;
        let n = (1 + rng.below(left.min(30))).min(left - 1);
        let seg = match kind {
            Kind::Counter(step) => Seg::Run {
                start: rng.pick(&[0.0, 0.0, 1.0, 3.0, 120.0]),
                step,
                n,
            },
            Kind::Gauge => Seg::Run {
                start: rng.pick(&[0.0, 2.5, 7.0, -3.0, 10.0, 0.125]),
                step: rng.pick(&[0.0, 0.375, -0.5, 1.0, -2.0, 0.25, 3.0]),
                n,
            },
        };
        segs.push(seg);
        used += seg.len();
        if used + 2 >= steps || rng.chance(50) {
            break;
        }
        // What comes between two runs: a reset (counters), a gap or a staleness marker.
        if rng.chance(30) {
            segs.push(Seg::Stale);
            used += 1;
            if rng.chance(60) && used + 3 < steps {
                let n = 1 + rng.below((steps - used) / 3);
                segs.push(Seg::Gap(n));
                used += n;
            }
        } else if mode == Mode::Append && rng.chance(40) {
            let n = 1 + rng.below(25);
            segs.push(Seg::Gap(n));
            used += n;
        }
    }
    // A page without the series after it was sent is a staleness marker.
    if mode == Mode::Pages && used < steps && !matches!(segs.last(), Some(Seg::Stale)) {
        segs.push(Seg::Stale);
    }
    segs
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Counter(f64),
    Gauge,
}

/// The series of one test group.
pub(crate) fn scenario(rng: &mut Rng, steps: usize, mode: Mode) -> Vec<SeriesSpec> {
    let mut out = Vec::new();
    for route in ["/a", "/b", "/c"] {
        for code in ["200", "500"] {
            let step = rng.pick(&[1.0, 2.0, 5.0, 0.5, 3.75, 10.0]);
            out.push(SeriesSpec {
                series: format!("http_requests_total{{route=\"{route}\",code=\"{code}\"}}"),
                segs: segments(rng, steps, mode, Kind::Counter(step)),
            });
        }
        out.push(SeriesSpec {
            series: format!("inflight{{route=\"{route}\"}}"),
            segs: segments(rng, steps, mode, Kind::Gauge),
        });
    }
    for q in ["a", "b"] {
        out.push(SeriesSpec {
            series: format!("queue_depth{{q=\"{q}\"}}"),
            segs: segments(rng, steps, mode, Kind::Gauge),
        });
    }
    let mut up = vec![
        Seg::Run {
            start: 1.0,
            step: 0.0,
            n: steps / 2,
        },
        Seg::Run {
            start: 0.0,
            step: 0.0,
            n: steps / 4,
        },
    ];
    if mode == Mode::Pages {
        up.push(Seg::Stale);
    }
    out.push(SeriesSpec {
        series: "up{job=\"api\"}".into(),
        segs: up,
    });
    // Histograms: the same segment shape for every bucket, increments growing with `le`.
    for route in ["/a", "/b"] {
        let shape = segments(rng, steps, mode, Kind::Counter(1.0));
        let mut cumulative = 0.0;
        let bounds = ["0.05", "0.1", "0.5", "1", "+Inf"];
        for le in bounds {
            cumulative += rng.pick(&[0.0, 1.0, 2.0, 3.0, 5.0]);
            let inc = cumulative;
            out.push(SeriesSpec {
                series: format!("latency_seconds_bucket{{route=\"{route}\",le=\"{le}\"}}"),
                segs: with_step(&shape, inc),
            });
        }
        out.push(SeriesSpec {
            series: format!("latency_seconds_count{{route=\"{route}\"}}"),
            segs: with_step(&shape, cumulative),
        });
        out.push(SeriesSpec {
            series: format!("latency_seconds_sum{{route=\"{route}\"}}"),
            segs: with_step(&shape, 0.25 * cumulative),
        });
    }
    out
}

fn with_step(shape: &[Seg], step: f64) -> Vec<Seg> {
    shape
        .iter()
        .map(|s| match *s {
            Seg::Run { n, .. } => Seg::Run {
                start: 0.0,
                step,
                n,
            },
            other => other,
        })
        .collect()
}

/// Expressions Prometheus refuses to evaluate on most of the generated data: one-to-one
/// matching with several series per group, duplicates on the "one" side, result labels that
/// collide after the metric name is dropped, grouping labels that do not keep results apart.
pub(crate) const ERRORS: [&str; 5] = [
    "http_requests_total + on(route) inflight",
    "inflight + ignoring(code) http_requests_total",
    "rate({__name__=~\"latency_seconds_sum|latency_seconds_count\"}[5m])",
    "http_requests_total * on(route) group_left sum by (route, code) (http_requests_total)",
    "sum by (route, code) (http_requests_total) * on(route) group_left(code) inflight",
];

/// How many expression templates there are.
pub(crate) const TEMPLATES: usize = 44;

/// Expressions over the scenario's series, instantiated from templates (in turn, with random
/// windows, quantiles, thresholds and operators).
///
/// Gauges and counters move by multiples of 1/8, so sums of their values are exact in any
/// order; sums and averages of values that are not (rates) take two series at most, whose
/// sum does not depend on their order either. promtool creates series in a random order
/// (it loads them from a Go map), and Prometheus adds series in creation order: a sum of
/// three inexact values could differ in the last bit from run to run
/// (`sum_order_is_series_creation_order` proves this).
#[allow(clippy::many_single_char_names, reason = "template parameters")]
pub(crate) fn expressions(rng: &mut Rng, n: usize) -> Vec<String> {
    let windows = ["1m", "2m", "5m", "90s", "3m"];
    let qs = ["0.5", "0.9", "0.99", "0.25", "0", "1"];
    let routes = ["/a", "/b", "/c"];
    let gauge_functions: Vec<&str> = ["delta", "idelta"].into_iter().chain(OVER_TIME).collect();
    let mut out = Vec::new();
    while out.len() < n {
        let w = rng.pick(&windows);
        let q = rng.pick(&qs);
        let route = rng.pick(&routes);
        let f = rng.pick(&["rate", "increase", "irate"]);
        let g = rng.pick(&gauge_functions);
        let agg = rng.pick(&["sum", "avg", "min", "max", "count"]);
        let cmp = rng.pick(&[">", "<", ">=", "<=", "==", "!="]);
        let arith = rng.pick(&["+", "-", "*", "/", "%"]);
        let k = rng.pick(&["1", "2", "3"]);
        let th = rng.pick(&["0", "0.1", "1", "2.5", "5"]);
        let e = match out.len() % TEMPLATES {
            0 => format!("{f}(http_requests_total[{w}])"),
            1 => format!("{f}(http_requests_total{{code=\"500\"}}[{w}] offset 1m)"),
            2 => format!(
                "sum by (route) (increase(http_requests_total{{code=~\"5..\"}}[{w}])) / sum by (route) (increase(http_requests_total[{w}]))"
            ),
            3 => format!("sum(rate(http_requests_total{{route!=\"{route}\"}}[{w}])) by (code)"),
            4 => format!("sum without (code) ({f}(http_requests_total[{w}]))"),
            5 => format!("{g}(queue_depth[{w}])"),
            6 => format!("{g}(inflight{{route!=\"{route}\"}}[{w}])"),
            7 => format!("quantile_over_time({q}, inflight[{w}])"),
            8 => {
                format!("histogram_quantile({q}, sum by (le) (rate(latency_seconds_bucket[{w}])))")
            }
            9 => format!(
                "histogram_quantile({q}, rate(latency_seconds_bucket{{route=\"{route}\"}}[{w}]))"
            ),
            10 => format!(
                "histogram_quantile({q}, sum by (le, route) (increase(latency_seconds_bucket[{w}])))"
            ),
            11 => format!("rate(latency_seconds_sum[{w}]) / rate(latency_seconds_count[{w}])"),
            12 => format!("absent(http_requests_total{{route=\"{route}\",code=\"500\"}})"),
            13 => {
                "absent(nonexistent{job=\"x\",instance=~\"a.*\",env=\"prod\",env=\"dev\"})".into()
            }
            14 => format!("absent_over_time(queue_depth{{q=\"a\"}}[{w}])"),
            15 => format!("absent((inflight{{route=\"{route}\"}}))"),
            16 => format!("{agg}(inflight{{route!=\"{route}\"}})"),
            17 => format!("{agg} by (route) (http_requests_total)"),
            18 => format!("topk({k}, inflight)"),
            19 => format!("bottomk({k}, rate(http_requests_total[{w}]))"),
            20 => format!("quantile({q}, queue_depth)"),
            21 => "count_values(\"value\", up)".into(),
            22 => format!("inflight {cmp} {th}"),
            23 => format!("inflight {cmp} bool {th}"),
            24 => format!("{th} {cmp} queue_depth"),
            25 => format!("rate(http_requests_total[{w}]) > bool {th}"),
            26 => format!(
                "sum by (route) (rate(http_requests_total[{w}])) {cmp} bool on(route) inflight"
            ),
            27 => format!("rate(http_requests_total[{w}]) * on(route) group_left inflight"),
            28 => format!(
                "inflight / on(route) group_right sum by (route, code) (rate(http_requests_total[{w}]))"
            ),
            29 => format!("http_requests_total and on(route) (inflight > {th})"),
            30 => format!("http_requests_total unless on(route) (inflight > {th})"),
            31 => format!("inflight or queue_depth {cmp} {th}"),
            32 => format!("inflight {arith} on(route) sum by (route) (http_requests_total)"),
            33 => format!("-inflight {arith} 3"),
            34 => format!("inflight ^ {}", rng.pick(&["2", "3", "0.5", "1.5", "-1"])),
            35 => format!(
                "{}(rate(http_requests_total[{w}]))",
                rng.pick(&["abs", "ceil", "floor"])
            ),
            36 => format!(
                "round(queue_depth, {})",
                rng.pick(&["1", "0.1", "5", "0.25"])
            ),
            37 => format!("clamp_min(inflight, {th}) + clamp_max(inflight, {th})"),
            38 => rng
                .pick(&[
                    "time() - 60",
                    "vector(time())",
                    "scalar(sum(inflight))",
                    "scalar(inflight)",
                    "vector(1) + 2 * 3 ^ 2",
                ])
                .to_owned(),
            39 => format!(
                "queue_depth ^ {}",
                rng.pick(&["0.3", "1.5", "2.7", "-0.5", "0.5"])
            ),
            40 => format!(
                "avg_over_time(inflight[{w}]) - scalar(avg(inflight{{route!=\"{route}\"}}))"
            ),
            41 => format!("last_over_time(inflight[{w}])"),
            42 => "absent(up{job=\"api\"} offset 10m)".into(),
            _ => format!(
                "min_over_time(queue_depth[{w}]) {cmp} bool max_over_time(queue_depth[{w}] offset 30s)"
            ),
        };
        out.push(e);
    }
    out
}
