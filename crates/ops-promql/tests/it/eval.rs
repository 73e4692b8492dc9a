//! Evaluation cases with exact values: lookback and staleness, range windows, the functions'
//! edge cases, label handling and the errors Prometheus reports.

use std::time::Duration;

use ops_promql::{EvalError, Expr, Labels, ParseError, Sample, Store, Value};

use super::at;

fn eval(store: &Store, text: &str, t: f64) -> Result<Value, EvalError> {
    Expr::parse(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .eval(store, at(t))
}

fn samples(store: &Store, text: &str, t: f64) -> Vec<(String, f64)> {
    eval(store, text, t)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .into_samples()
        .into_iter()
        .map(|s| (s.labels.to_string(), s.value))
        .collect()
}

fn store_with(series: &[(&str, &[(f64, f64)])]) -> Store {
    let mut store = Store::new(Duration::from_hours(1));
    for (text, points) in series {
        let labels: Labels = text.parse().unwrap();
        for &(t, v) in *points {
            store.append(&labels, at(t), v).unwrap();
        }
    }
    store
}

#[test]
fn instant_selectors_look_back_five_minutes_and_stop_at_a_staleness_marker() {
    let mut store = store_with(&[("x{a=\"1\"}", &[(0.0, 1.0)]), ("x{a=\"2\"}", &[(0.0, 2.0)])]);
    assert_eq!(samples(&store, "x", 300.0).len(), 2);
    assert_eq!(samples(&store, "x", 300.001).len(), 0);
    assert_eq!(samples(&store, "x offset 1m", 360.0).len(), 2);
    assert_eq!(samples(&store, "x", -0.001).len(), 0);
    store
        .mark_stale(&"x{a=\"2\"}".parse().unwrap(), at(10.0))
        .unwrap();
    assert_eq!(samples(&store, "x", 9.0).len(), 2);
    assert_eq!(samples(&store, "x", 10.0), [("x{a=\"1\"}".to_owned(), 1.0)]);
    // Range selectors skip the marker.
    assert_eq!(samples(&store, "count_over_time(x[1m])", 60.0).len(), 2);
}

#[test]
fn range_windows_are_closed_at_both_ends() {
    let points: Vec<(f64, f64)> = (0..=10)
        .map(|i| (f64::from(i) * 60.0, f64::from(i)))
        .collect();
    let store = store_with(&[("g", &points)]);
    // [240 s, 300 s] holds the points at 240 and 300.
    assert_eq!(
        samples(&store, "count_over_time(g[1m])", 300.0),
        [("{}".to_owned(), 2.0)]
    );
    assert_eq!(
        samples(&store, "sum_over_time(g[1m] offset 1m)", 300.0),
        [("{}".to_owned(), 7.0)]
    );
    assert_eq!(
        samples(&store, "last_over_time(g[1m])", 299.0),
        [("g".to_owned(), 4.0)]
    );
    assert_eq!(
        samples(&store, "quantile_over_time(0.5, g[10m])", 600.0),
        [("{}".to_owned(), 5.0)]
    );
}

#[test]
fn rate_increase_and_delta_extrapolate_as_prometheus() {
    // A counter scraped every 15 s from 30 s to 300 s: +1.5 per scrape, a reset at 150 s.
    let mut points = Vec::new();
    let mut v = 0.0;
    for i in 2..=20 {
        if i == 10 {
            v = 0.0;
        }
        points.push((f64::from(i) * 15.0, v));
        v += 1.5;
    }
    let store = store_with(&[("c_total", &points)]);
    // Window [0, 300]: 0→10.5 before the reset, 0→15 after. The first point is 30 s from
    // the start (more than 1.1 × 15 s) but its value is 0: the zero point is the first
    // sample, so no extrapolation at the start; the last point is at the end.
    let expected = (10.5 + 15.0) * (270.0 / 270.0);
    assert_eq!(
        samples(&store, "increase(c_total[5m])", 300.0),
        [("{}".to_owned(), expected)]
    );
    assert_eq!(
        samples(&store, "rate(c_total[5m])", 300.0),
        [("{}".to_owned(), expected / 300.0)]
    );
    // delta: no reset handling, extrapolated by half an interval at the start.
    let delta = 15.0 - 0.0;
    assert_eq!(
        samples(&store, "delta(c_total[5m])", 300.0),
        [("{}".to_owned(), delta * ((270.0 + 7.5) / 270.0))]
    );
    assert_eq!(
        samples(&store, "irate(c_total[1m])", 300.0),
        [("{}".to_owned(), 0.1)]
    );
    assert_eq!(
        samples(&store, "idelta(c_total[1m])", 300.0),
        [("{}".to_owned(), 1.5)]
    );
    // One point: nothing.
    assert!(samples(&store, "rate(c_total[10s])", 300.0).is_empty());
}

#[test]
fn histogram_quantile_over_rates() {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (le, per_scrape) in [("0.1", 1.0), ("0.5", 3.0), ("1", 4.0), ("+Inf", 4.0)] {
        let points = (0..=20)
            .map(|i| (f64::from(i) * 15.0, f64::from(i) * per_scrape))
            .collect();
        series.push((format!("lat_bucket{{le=\"{le}\",route=\"/a\"}}"), points));
    }
    let refs: Vec<(&str, &[(f64, f64)])> = series
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_slice()))
        .collect();
    let store = store_with(&refs);
    let got = samples(
        &store,
        "histogram_quantile(0.5, sum by (le, route) (rate(lat_bucket[5m])))",
        300.0,
    );
    // Per second: 1/15, 3/15, 4/15, 4/15; rank 2/15 falls in (0.1, 0.5].
    let r = |n: f64| n * 20.0 / 300.0;
    let expected = 0.1 + (0.5 - 0.1) * ((0.5 * r(4.0) - r(1.0)) / (r(3.0) - r(1.0)));
    assert_eq!(got, [("{route=\"/a\"}".to_owned(), expected)]);
    // Without +Inf: NaN. q out of range: ±Inf.
    let no_inf = samples(
        &store,
        "histogram_quantile(0.5, lat_bucket{le!=\"+Inf\"})",
        300.0,
    );
    assert!(no_inf[0].1.is_nan());
    assert_eq!(
        samples(&store, "histogram_quantile(2, lat_bucket)", 300.0)[0].1,
        f64::INFINITY
    );
}

#[test]
fn absent_takes_its_labels_from_equality_matchers() {
    let store = store_with(&[("up{job=\"a\"}", &[(0.0, 1.0)])]);
    assert!(samples(&store, "absent(up{job=\"a\"})", 60.0).is_empty());
    assert_eq!(
        samples(
            &store,
            "absent(up{job=\"b\",env=~\"p.*\",dc=\"x\",dc=\"y\"})",
            60.0
        ),
        [("{job=\"b\"}".to_owned(), 1.0)]
    );
    assert_eq!(
        samples(&store, "absent(sum(nothing))", 60.0),
        [("{}".to_owned(), 1.0)]
    );
    assert_eq!(
        samples(&store, "absent_over_time(up{job=\"a\"}[1m])", 61.0),
        [("{job=\"a\"}".to_owned(), 1.0)]
    );
    assert!(samples(&store, "absent_over_time(up{job=\"a\"}[1m])", 60.0).is_empty());
}

#[test]
fn names_are_dropped_where_prometheus_drops_them() {
    let store = store_with(&[("m{a=\"1\"}", &[(0.0, 4.0)])]);
    for (text, labels) in [
        ("m", "m{a=\"1\"}"),
        ("m * 2", "{a=\"1\"}"),
        ("m > 1", "m{a=\"1\"}"),
        ("m > bool 1", "{a=\"1\"}"),
        ("-m", "{a=\"1\"}"),
        ("abs(m)", "{a=\"1\"}"),
        ("last_over_time(m[1m])", "m{a=\"1\"}"),
        ("max_over_time(m[1m])", "{a=\"1\"}"),
        ("sum by (__name__) (m)", "m"),
        ("topk(1, m)", "m{a=\"1\"}"),
        ("m and m", "m{a=\"1\"}"),
        ("count_values(\"v\", m)", "{v=\"4\"}"),
    ] {
        assert_eq!(samples(&store, text, 10.0)[0].0, labels, "{text}");
    }
}

#[test]
fn scalars_and_literals() {
    let store = store_with(&[("m", &[(0.0, 4.0)])]);
    assert_eq!(eval(&store, "1 + 2 * 3 ^ 2", 0.0), Ok(Value::Scalar(19.0)));
    assert_eq!(eval(&store, "2 ^ 3 ^ 2", 0.0), Ok(Value::Scalar(512.0)));
    assert_eq!(eval(&store, "time()", 90.5), Ok(Value::Scalar(90.5)));
    assert_eq!(eval(&store, "scalar(m) % 3", 0.0), Ok(Value::Scalar(1.0)));
    assert_eq!(eval(&store, "-(1) > bool 0", 0.0), Ok(Value::Scalar(0.0)));
    assert_eq!(
        eval(&store, "vector(1)", 0.0),
        Ok(Value::Vector(vec![Sample {
            labels: Labels::empty(),
            value: 1.0
        }]))
    );
    assert_eq!(samples(&store, "round(m / 3, 0.5)", 0.0)[0].1, 1.5);
    assert_eq!(
        samples(&store, "clamp_max(m, 1) + clamp_min(m, 10)", 0.0)[0].1,
        11.0
    );
    assert!(
        eval(&store, "scalar(nothing)", 0.0)
            .unwrap()
            .as_scalar()
            .unwrap()
            .is_nan()
    );
}

#[test]
fn matching_errors_are_prometheus_errors() {
    let store = store_with(&[
        ("a{x=\"1\",y=\"p\"}", &[(0.0, 1.0)]),
        ("a{x=\"1\",y=\"q\"}", &[(0.0, 2.0)]),
        ("b{x=\"1\"}", &[(0.0, 3.0)]),
        ("c{x=\"1\"}", &[(0.0, 4.0)]),
    ]);
    assert_eq!(
        eval(&store, "a + on(x) b", 0.0),
        Err(EvalError::ManyToOneImplicit)
    );
    let err = eval(&store, "b + on(x) a", 0.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "found duplicate series for the match group {x=\"1\"} on the right hand-side of the operation: [a{x=\"1\",y=\"q\"}, a{x=\"1\",y=\"p\"}];many-to-many matching not allowed: matching labels must be unique on one side"
    );
    assert_eq!(
        samples(&store, "a * on(x) group_left b", 0.0),
        [
            ("{x=\"1\",y=\"p\"}".to_owned(), 3.0),
            ("{x=\"1\",y=\"q\"}".to_owned(), 6.0)
        ]
    );
    assert!(matches!(
        eval(&store, "max_over_time({__name__=~\"b|c\"}[1m])", 0.0),
        Err(EvalError::DuplicateLabelset { .. })
    ));
    assert!(matches!(
        eval(&store, "topk(0/0, a)", 0.0),
        Err(EvalError::KOutOfRange { .. })
    ));
    assert!(matches!(
        eval(&store, "count_values(\"1bad\", a)", 0.0),
        Err(EvalError::InvalidLabelName { .. })
    ));
}

#[test]
fn expressions_say_what_history_they_need() {
    let e = Expr::parse("rate(a[5m] offset 10m) / b").unwrap();
    assert_eq!(
        (e.max_range(), e.history()),
        (Duration::from_mins(5), Duration::from_mins(15))
    );
    let e = Expr::parse("1 + 1").unwrap();
    assert_eq!(
        (e.max_range(), e.history(), e.returns_scalar()),
        (Duration::ZERO, Duration::ZERO, true)
    );
    assert_eq!(Expr::parse("up").unwrap().history(), ops_promql::LOOKBACK);
    assert!(matches!(
        Expr::parse("sort(up)"),
        Err(ParseError::Unsupported { .. })
    ));
    assert!(ops_promql::functions().any(|f| f == "histogram_quantile"));
    assert_eq!(ops_promql::aggregations().count(), 9);
}
