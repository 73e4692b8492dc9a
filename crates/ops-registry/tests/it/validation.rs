//! Names, labels and buckets: known cases and properties.

use ops_registry::{Buckets, Error, MAX_LABELS, Registry};
use proptest::prelude::*;

/// The rule, written independently of the crate: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn valid_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_' || b[0] == b':')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*` and not `__…`.
fn valid_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && !s.starts_with("__")
}

fn name_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}",
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,8}(_total|_bucket|_count|_sum|_seconds)",
        "ops_registry_[a-z]{1,5}(_total)?",
        ".{0,10}",
        "[0-9\\-. é]{1,5}[a-z]{0,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn counter_names_are_accepted_exactly_when_valid(name in name_strategy()) {
        let reg = Registry::new();
        let expected = valid_metric_name(&name)
            && name.ends_with("_total")
            && !name.starts_with("ops_registry_");
        let got = reg.counter(&name, "Help.");
        prop_assert_eq!(got.is_ok(), expected, "{:?} -> {:?}", name, got);
        if !valid_metric_name(&name) {
            prop_assert_eq!(got.unwrap_err(), Error::InvalidName { name: name.clone() });
        }
    }

    #[test]
    fn gauge_and_histogram_names_are_accepted_exactly_when_valid(name in name_strategy()) {
        let expected = valid_metric_name(&name)
            && !["_total", "_bucket", "_count", "_sum"].iter().any(|s| name.ends_with(s))
            && !name.starts_with("ops_registry_");
        let reg = Registry::new();
        prop_assert_eq!(reg.gauge(&name, "Help.").is_ok(), expected);
        let reg = Registry::new();
        prop_assert_eq!(reg.histogram(&name, "Help.", Buckets::HTTP).is_ok(), expected);
    }

    #[test]
    fn label_names_are_accepted_exactly_when_valid(
        labels in proptest::collection::vec(
            prop_oneof!["[a-zA-Z_][a-zA-Z0-9_]{0,6}", "__[a-z]{0,3}", ".{0,4}", Just("le".to_owned()), Just("quantile".to_owned()), Just("overflow".to_owned())],
            0..5,
        )
    ) {
        let reg = Registry::new();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let distinct = refs.iter().enumerate().all(|(i, l)| !refs[..i].contains(l));
        let expected = distinct
            && refs.iter().all(|l| valid_label_name(l) && !["le", "quantile", "overflow"].contains(l));
        let got = reg.counter_vec("x_total", "X.", &refs);
        prop_assert_eq!(got.is_ok(), expected, "{:?} -> {:?}", labels, got);
        if let Ok(vec) = got {
            // Any values of the right number render, escaped, and promtool-parseable text.
            let values: Vec<String> = labels.iter().map(|l| format!("{l}\"\\\n")).collect();
            vec.with(&values).inc();
            prop_assert_eq!(vec.with(&values).get(), 1);
        }
    }

    #[test]
    fn buckets_are_accepted_exactly_when_finite_increasing_and_few(
        bounds in proptest::collection::vec(prop_oneof![-10.0..10.0f64, Just(f64::NAN), Just(f64::INFINITY), Just(1.0)], 0..70)
    ) {
        let expected = !bounds.is_empty()
            && bounds.len() <= 64
            && bounds.iter().all(|b| b.is_finite())
            && bounds.windows(2).all(|w| w[0] < w[1]);
        prop_assert_eq!(Buckets::new(&bounds).is_ok(), expected);
    }
}

#[test]
fn label_errors_name_the_family_and_label() {
    let reg = Registry::new();
    assert_eq!(
        reg.histogram_vec("rpc_seconds", "R.", &["le"], Buckets::HTTP)
            .unwrap_err(),
        Error::ReservedLabel {
            family: "rpc_seconds".into(),
            label: "le".into()
        }
    );
    assert_eq!(
        reg.counter_vec("a_total", "A.", &["quantile"])
            .unwrap_err()
            .to_string(),
        "family \"a_total\": label name \"quantile\" is reserved"
    );
    assert_eq!(
        reg.counter_vec("a_total", "A.", &["step", "step"])
            .unwrap_err(),
        Error::DuplicateLabel {
            family: "a_total".into(),
            label: "step".into()
        }
    );
    assert_eq!(
        reg.gauge_vec("g", "G.", &["http.method"])
            .unwrap_err()
            .to_string(),
        "family \"g\": label name \"http.method\" is invalid: it must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __"
    );
    let many: Vec<String> = (0..=MAX_LABELS).map(|i| format!("l{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(
        reg.gauge_vec("g", "G.", &many).unwrap_err(),
        Error::TooManyLabels {
            family: "g".into(),
            count: 33,
            max: 32
        }
    );
    assert!(reg.gauge_vec("g", "G.", &many[..MAX_LABELS]).is_ok());
    // Nothing refused was registered.
    assert_eq!(reg.family_names(), ["g"]);
}

#[test]
fn the_registry_holds_a_bounded_number_of_families() {
    let reg = Registry::builder().max_families(2).build();
    reg.counter("a_total", "A.").unwrap();
    reg.counter("b_total", "B.").unwrap();
    assert_eq!(
        reg.counter("c_total", "C.").unwrap_err(),
        Error::TooManyFamilies {
            family: "c_total".into(),
            limit: 2
        }
    );
    // Registered ones are still handed out.
    assert!(reg.counter("a_total", "A.").is_ok());
}
