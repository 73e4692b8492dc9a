/*!
The `PromQL` of an SLI, written once and used twice: over the raw counters in the exported
recording rules (Prometheus), and over the engine's aggregated series in-process (ops-promql).
Same text, same operations, so the same samples give the same floats.

For a window `w`, each side is a sum of terms, each `(sum(rate(<selector>[w])) or vector(0))`
(a term with no series yet counts 0, so a service without errors has an error ratio of 0, not
no data), minus the terms with a negative sign. The error ratio is `num / total` (bad events)
or `1 - num / total` (good events), kept only when the window has enough traffic:

```text
(((sum(rate(bad[5m])) or vector(0))) / ((sum(rate(total[5m])) or vector(0))))
  and ((sum(rate(total[5m])) or vector(0))) >= 0.016666666666666666
```

— fewer than one event per minute (the default) and the window has no data: no series, so no
alert, instead of a ratio of a handful of events or a silent zero.
*/

use std::fmt::Write as _;
use std::time::Duration;

use crate::state::{Numerator, Side, SloMeta};
use crate::window;

/// The name of the engine's aggregated series of one SLI term (in its own store).
pub(crate) const TERM_SERIES: &str = "ops_slo_term";

/// A number as `PromQL` reads it back exactly (Rust's shortest round-trip form).
pub(crate) fn num(v: f64) -> String {
    format!("{v}")
}

/// One side for window `w`: `(sum(rate(t1[w])) or vector(0)) + … - …`.
fn side(terms: &[(i8, &str)], w: &str) -> String {
    let mut out = String::new();
    for (i, (sign, sel)) in terms.iter().enumerate() {
        if i > 0 {
            out.push_str(if *sign < 0 { " - " } else { " + " });
        } else if *sign < 0 {
            out.push_str("0 - ");
        }
        let _ = write!(out, "(sum(rate({sel}[{w}])) or vector(0))");
    }
    out
}

/// The expressions of one window for an SLO whose term `i` is read by `selector(i)`.
pub(crate) struct WindowExprs {
    /// The error ratio, kept only with enough traffic (`guarded`) or any (`> 0`).
    pub(crate) error_ratio: String,
    /// The rate of all events (per second).
    pub(crate) total_rate: String,
}

/// How much traffic a window needs for its ratio.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Guard {
    /// At least this many events per minute.
    PerMinute(f64),
    /// Any event.
    Any,
}

pub(crate) fn window_exprs(
    meta: &SloMeta,
    w: Duration,
    guard: Guard,
    selector: &dyn Fn(usize) -> String,
) -> WindowExprs {
    let selectors: Vec<String> = (0..meta.terms.len()).map(selector).collect();
    // Each side's terms, positive ones first.
    let pick = |which: Side| -> Vec<(i8, &str)> {
        let mut v: Vec<(i8, &str)> = meta
            .terms
            .iter()
            .zip(&selectors)
            .filter(|(t, _)| t.side == which)
            .map(|(t, s)| (t.sign, s.as_str()))
            .collect();
        v.sort_by_key(|(sign, _)| -sign);
        v
    };
    let w = window::prom(w);
    let n = side(&pick(Side::Numerator), &w);
    let t = side(&pick(Side::Total), &w);
    let ratio = match meta.numerator {
        Numerator::Bad => format!("({n}) / ({t})"),
        Numerator::Good => format!("1 - ({n}) / ({t})"),
    };
    let guard = match guard {
        Guard::PerMinute(m) if m > 0.0 => format!(">= {}", num(m / 60.0)),
        _ => "> 0".to_owned(),
    };
    WindowExprs {
        error_ratio: format!("({ratio}) and ({t}) {guard}"),
        total_rate: t,
    }
}

/// The in-process selector of term `i` of SLO `id`.
pub(crate) fn term_selector(id: &str, i: usize) -> String {
    format!(
        "{TERM_SERIES}{{sloth_id=\"{}\",term=\"{i}\"}}",
        crate::spec::escape(id)
    )
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::spec::{Sli, Slo};

    #[test]
    fn the_expressions_read_as_documented() {
        let meta = Slo::new("s", "a", Sli::bad_total("bad_total", "total_total")).meta(1.0);
        let sel = |i: usize| meta.terms[i].selector.clone();
        let e = window_exprs(&meta, Duration::from_mins(5), Guard::PerMinute(1.0), &sel);
        assert_eq!(
            e.error_ratio,
            "(((sum(rate(bad_total[5m])) or vector(0))) / ((sum(rate(total_total[5m])) or vector(0)))) and ((sum(rate(total_total[5m])) or vector(0))) >= 0.016666666666666666"
        );
        let meta = Slo::new("s", "f", Sli::function("checkout")).meta(0.0);
        let sel = |i: usize| term_selector("s-f", i);
        let e = window_exprs(&meta, Duration::from_hours(1), Guard::PerMinute(0.0), &sel);
        assert_eq!(
            e.total_rate,
            "(sum(rate(ops_slo_term{sloth_id=\"s-f\",term=\"1\"}[1h])) or vector(0)) - (sum(rate(ops_slo_term{sloth_id=\"s-f\",term=\"2\"}[1h])) or vector(0))"
        );
        assert!(e.error_ratio.ends_with("> 0"), "{}", e.error_ratio);
        for text in [&e.error_ratio, &e.total_rate] {
            ops_promql::Expr::parse(text).unwrap();
        }
    }
}
