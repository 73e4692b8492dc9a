//! The documented difference on sums: Prometheus adds series in creation order, ops-promql
//! too (the order series first came in pages or appends), but promtool creates its input
//! series in a random order. Here three values whose sum depends on the order: ops-promql
//! gives the creation-order sum, and promtool's answer is the sum in one of the orders.

use std::fmt::Write as _;
use std::time::Duration;

use ops_promql::{Expr, Store};

use super::super::at;

#[test]
fn sum_order_is_series_creation_order() {
    let Some(promtool) = ops_testkit::promtool::find("sum_order_is_series_creation_order") else {
        return;
    };
    let values = [("a", 0.1), ("b", 0.2), ("c", 0.3)];
    // The page's order is the creation order: c, a, b.
    let mut store = Store::new(Duration::from_hours(1));
    let page = "x{i=\"c\"} 0.3\nx{i=\"a\"} 0.1\nx{i=\"b\"} 0.2\n";
    store.ingest(page, at(0.0));
    let got = Expr::parse("sum(x)")
        .unwrap()
        .eval(&store, at(60.0))
        .unwrap();
    assert_eq!(got.into_samples()[0].value, (0.3 + 0.1) + 0.2);

    let mut sums: Vec<f64> = Vec::new();
    for (i, j, k) in [
        (0, 1, 2),
        (0, 2, 1),
        (1, 0, 2),
        (1, 2, 0),
        (2, 0, 1),
        (2, 1, 0),
    ] {
        let s = (values[i].1 + values[j].1) + values[k].1;
        if !sums.contains(&s) {
            sums.push(s);
        }
    }
    assert_eq!(
        sums.len(),
        2,
        "the order matters for these values: {sums:?}"
    );
    let one_of: Vec<String> = sums
        .iter()
        .map(|s| format!("(sum(x) == bool {s:?})"))
        .collect();
    let mut series = String::new();
    for (i, v) in values {
        let _ = writeln!(
            series,
            "      - series: 'x{{i=\"{i}\"}}'\n        values: '{v}x5'"
        );
    }
    let file = format!(
        "rule_files: []\ntests:\n  - interval: 1m\n    input_series:\n{series}    promql_expr_test:\n      - expr: '{}'\n        eval_time: 1m\n        exp_samples:\n          - labels: '{{}}'\n            value: 1\n",
        one_of.join(" + ")
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("order.yml"), file).unwrap();
    let checked = ops_testkit::promtool::test_rules(&promtool, dir.path(), "order.yml");
    assert!(checked.success, "{}", checked.output);
}
