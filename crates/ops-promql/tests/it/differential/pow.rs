//! `^` follows Go's `math.Pow` (special cases, square roots, repeated squaring); its
//! fractional part goes through `exp(yf × ln x)`, Rust's there and Go's assembly on amd64.
//! Checked on many bases and exponents, integer and fractional.

use std::fmt::Write as _;
use std::time::Duration;

use ops_promql::{Expr, Store};

use super::super::at;

#[test]
fn powers_match_go() {
    let Some(promtool) = ops_testkit::promtool::find("powers_match_go") else {
        return;
    };
    let mut store = Store::new(Duration::from_hours(24));
    let labels = "x".parse().unwrap();
    let mut v = 0.1;
    for i in 0..200u32 {
        store.append(&labels, at(f64::from(i) * 60.0), v).unwrap();
        v += 0.37;
    }
    let mut file = String::from(
        "rule_files: []\ntests:\n  - interval: 1m\n    input_series:\n      - series: 'x'\n        values: '0.1+0.37x199'\n    promql_expr_test:\n",
    );
    let mut cases = 0;
    for y in [
        "2", "3", "7", "-2", "0.5", "-0.5", "0.3", "1.7", "2.7", "-1.3", "0.01", "12.25",
    ] {
        for i in 0..200u32 {
            let text = format!("x ^ {y}");
            let got = Expr::parse(&text)
                .unwrap()
                .eval(&store, at(f64::from(i) * 60.0))
                .unwrap();
            let value = got.into_samples()[0].value;
            let _ = write!(
                file,
                "      - expr: '{text}'\n        eval_time: {i}m\n        exp_samples:\n          - labels: '{{}}'\n            value: {value:?}\n"
            );
            cases += 1;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pow.yml"), &file).unwrap();
    let checked = ops_testkit::promtool::test_rules(&promtool, dir.path(), "pow.yml");
    let failed = checked.output.matches("exp:").count();
    assert!(
        checked.success,
        "{failed} of {cases} powers differ:\n{}",
        checked.output
    );
}
