//! Properties: no text makes parsing panic, no valid expression over any store makes
//! evaluation panic, no page makes ingestion panic or grow the store past its bounds, and
//! label sets read back as they are written.

use std::time::Duration;

use ops_promql::{Expr, Labels, STALE_NAN, Store};
use proptest::prelude::*;

use super::{OVER_TIME, at};

const TOKENS: &[&str] = &[
    "sum",
    "avg",
    "rate",
    "increase",
    "histogram_quantile",
    "topk",
    "count_values",
    "absent",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "==",
    "!=",
    ">",
    "<=",
    "=~",
    "!~",
    "=",
    "\"",
    "'",
    "`",
    "#",
    "\n",
    "@",
    ":",
    "5m",
    "1h30m",
    "0s",
    "x",
    "le",
    "a=\"b\"",
    "0.5",
    "1e309",
    "NaN",
    "Inf",
    "-Inf",
    "0x1f",
    "__name__",
    "sort",
    "stddev",
    "fill",
    "atan2",
    "[5m:1m]",
    "\\",
    "é",
    "{}",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.join(" "))
}

fn metric() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["a", "b", "lat_bucket", "{__name__=~\"a|b\"}"][..]),
        prop::option::of((
            prop::sample::select(&["k", "le", "z"][..]),
            prop::sample::select(&["=", "!=", "=~", "!~"][..]),
            prop::sample::select(&["1", "2", "[+]Inf", ".*", "", "0.5"][..]),
        )),
    )
        .prop_map(|(name, m)| match (name.starts_with('{'), m) {
            (_, None) => name.to_owned(),
            (true, Some((l, op, v))) => format!("{}, {l}{op}\"{v}\"}}", &name[..name.len() - 1]),
            (false, Some((l, op, v))) => format!("{name}{{{l}{op}\"{v}\"}}"),
        })
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &[
                "0", "1", "0.5", "-1", "NaN", "Inf", "-Inf", "1e308", "2", "-0"
            ][..]
        )
        .prop_map(str::to_owned),
        Just("time()".to_owned()),
        metric().prop_map(|m| format!("scalar({m})")),
    ]
}

/// Valid expressions of the supported subset, nested a few levels.
fn vector_expr() -> impl Strategy<Value = String> {
    let window = prop::sample::select(&["1s", "30s", "1m", "5m", "1h"][..]);
    let range_functions: Vec<&str> = ["rate", "increase", "delta", "irate", "idelta"]
        .into_iter()
        .chain(OVER_TIME)
        .chain(["absent_over_time"])
        .collect();
    let leaf = prop_oneof![
        metric(),
        (metric(), prop::sample::select(&["30s", "1m", "-1m"][..]))
            .prop_map(|(m, o)| format!("{m} offset {o}")),
        (
            prop::sample::select(range_functions),
            metric(),
            window.clone(),
        )
            .prop_map(|(f, m, w)| format!("{f}({m}[{w}])")),
        (scalar(), metric(), window)
            .prop_map(|(q, m, w)| format!("quantile_over_time({q}, {m}[{w}])")),
        scalar().prop_map(|s| format!("vector({s})")),
    ];
    leaf.prop_recursive(4, 32, 2, |inner| {
        let grouping = prop::sample::select(
            &[
                "",
                " by (k)",
                " without (k)",
                " by (le)",
                " by ()",
                " without (__name__)",
            ][..],
        );
        prop_oneof![
            (
                prop::sample::select(&["sum", "avg", "min", "max", "count"][..]),
                grouping,
                inner.clone()
            )
                .prop_map(|(a, g, e)| format!("{a}{g} ({e})")),
            (
                prop::sample::select(&["topk", "bottomk", "quantile"][..]),
                scalar(),
                inner.clone()
            )
                .prop_map(|(a, p, e)| format!("{a}({p}, {e})")),
            inner
                .clone()
                .prop_map(|e| format!("count_values(\"v\", {e})")),
            (scalar(), inner.clone()).prop_map(|(q, e)| format!("histogram_quantile({q}, {e})")),
            (
                prop::sample::select(&["abs", "ceil", "floor", "round", "absent", "-"][..]),
                inner.clone()
            )
                .prop_map(|(f, e)| format!("{f}({e})")),
            (
                prop::sample::select(&["round", "clamp_min", "clamp_max"][..]),
                inner.clone(),
                scalar()
            )
                .prop_map(|(f, e, s)| format!("{f}({e}, {s})")),
            (
                inner.clone(),
                prop::sample::select(
                    &[
                        "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "> bool",
                        "and", "or", "unless"
                    ][..]
                ),
                prop::sample::select(
                    &[
                        "",
                        " on(k)",
                        " ignoring(k)",
                        " on(k) group_left()",
                        " ignoring(z) group_right(k)",
                        " on()"
                    ][..]
                ),
                inner.clone(),
            )
                .prop_map(|(l, op, m, r)| {
                    let set = matches!(op, "and" | "or" | "unless");
                    let m = if set && m.contains("group_") { "" } else { m };
                    format!("({l}) {op}{m} ({r})")
                }),
            (
                inner,
                prop::sample::select(&["+", "*", "> bool", "<", "^"][..]),
                scalar()
            )
                .prop_map(|(e, op, s)| format!("{e} {op} {s}")),
        ]
    })
}

/// Series of `a`, `b` and `lat_bucket` with arbitrary values (NaN, infinities, staleness
/// markers) at arbitrary times.
fn store() -> impl Strategy<Value = Store> {
    let value = prop_oneof![
        any::<f64>(),
        Just(STALE_NAN),
        Just(f64::NAN),
        (-100i32..100).prop_map(f64::from),
    ];
    prop::collection::vec(
        (
            prop::sample::select(&["a", "b", "lat_bucket"][..]),
            prop::sample::select(&["1", "2", "+Inf", "0.5", "x"][..]),
            0u32..700,
            value,
        ),
        0..120,
    )
    .prop_map(|points| {
        let mut store = Store::new(Duration::from_hours(1));
        for (name, v, t, value) in points {
            let labels = Labels::new([("__name__", name), ("k", v), ("le", v)]);
            let _ = store.append(&labels, at(f64::from(t)), value);
        }
        store
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_parses_or_errors(text in prop_oneof![any::<String>(), token_soup()]) {
        if let Ok(e) = Expr::parse(&text) {
            let store = Store::new(Duration::from_mins(10));
            let _ = e.eval(&store, at(100.0));
        }
    }

    #[test]
    fn valid_expressions_evaluate_without_panic(text in vector_expr(), store in store(), t in 0u32..1000) {
        let expr = Expr::parse(&text);
        prop_assert!(expr.is_ok(), "{text}: {:?}", expr.err());
        let _ = expr.unwrap().eval(&store, at(f64::from(t)));
    }

    #[test]
    fn pages_never_panic_nor_grow_the_store_past_its_bounds(
        pages in prop::collection::vec(
            prop::collection::vec(
                prop_oneof![
                    any::<String>(),
                    (prop::sample::select(&["x", "y_total", "z"][..]), 0u8..40, any::<f64>())
                        .prop_map(|(n, i, v)| format!("{n}{{i=\"{i}\"}} {v}")),
                    prop::sample::select(&["# TYPE x gauge", "x{", "x{a=\"\\q\"} 1", "x 1 2 3", "", "x{a=\"1\",a=\"2\"} 1"][..])
                        .prop_map(str::to_owned),
                ],
                0..60,
            ),
            1..6,
        ),
    ) {
        let mut store = Store::builder(Duration::from_secs(30)).max_series(25).max_points_per_series(4).build();
        for (i, lines) in pages.iter().enumerate() {
            let page = lines.join("\n");
            let stats = store.ingest_from(if i % 2 == 0 { "a" } else { "b" }, &page, at(i as f64 * 10.0));
            let counted = stats.samples + stats.malformed_lines + stats.series_refused + stats.samples_rejected;
            prop_assert!(counted <= page.split('\n').count());
        }
        prop_assert!(store.series_count() <= 25);
        prop_assert!(store.largest_series_bytes() <= store.max_series_bytes());
        prop_assert!(store.point_count() <= 25 * 4);
    }

    #[test]
    fn labels_read_back_as_written(
        name in "[a-zA-Z_:][a-zA-Z0-9_:]{0,10}",
        pairs in prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,8}", any::<String>()), 0..5),
    ) {
        let with_name = Labels::new(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).chain([("__name__", name.as_str())]));
        prop_assert_eq!(with_name.to_string().parse::<Labels>(), Ok(with_name.clone()));
        let without = with_name.without_metric_name();
        prop_assert_eq!(without.to_string().parse::<Labels>(), Ok(without.clone()));
    }
}
