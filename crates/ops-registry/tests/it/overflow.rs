//! The cardinality limit, long values and wrong arity: the overflow series, exact counts, one
//! WARN per family and kind.

use std::sync::{Arc, Mutex};

use ops_registry::{Buckets, Error, Exposition, Registry};

use super::util::{histogram, overflow_section};

/// Log lines written while `f` runs on this thread.
fn logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let out = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || out.clone())
        .with_ansi(false)
        .without_time()
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (result, text)
}

#[test]
fn label_sets_past_the_limit_share_one_overflow_series() {
    let reg = Registry::builder().cardinality_limit(3).build();
    let visits = reg
        .counter_vec("visits_total", "Visits.", &["user"])
        .unwrap();
    let lat = reg
        .histogram_vec(
            "lat_seconds",
            "Latency.",
            &["user"],
            Buckets::new(&[1.0]).unwrap(),
        )
        .unwrap();
    let ((), log) = logs(|| {
        for user in ["u1", "u2", "u3", "u4", "u5", "u1", "u6", "u4"] {
            visits.with(&[user]).inc();
            lat.with(&[user]).record(0.5);
        }
    });
    assert_eq!(visits.len(), 3);
    // u4, u5, u6 and u4 again: four lookups refused.
    assert_eq!(visits.refused(), 4);
    assert_eq!(visits.overflow().get(), 4);
    let mut want = String::from(
        r#"# HELP visits_total Visits.
# TYPE visits_total counter
visits_total{user="u1"} 2
visits_total{user="u2"} 1
visits_total{user="u3"} 1
visits_total{overflow="true"} 4
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
"#,
    );
    want += &histogram("lat_seconds", r#"user="u1""#, &["1"], &[2, 2], "1");
    want += &histogram("lat_seconds", r#"user="u2""#, &["1"], &[1, 1], "0.5");
    want += &histogram("lat_seconds", r#"user="u3""#, &["1"], &[1, 1], "0.5");
    want += &histogram("lat_seconds", r#"overflow="true""#, &["1"], &[4, 4], "2");
    want += &overflow_section(&[("visits_total", 4), ("lat_seconds", 4)]);
    assert_eq!(reg.to_prometheus(), want);
    // One WARN per family, naming it and the limit.
    let warns: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warns.len(), 2, "{log}");
    assert!(warns[0].contains("cardinality limit reached"), "{log}");
    assert!(warns[0].contains("family=\"visits_total\""), "{log}");
    assert!(warns[0].contains("limit=3"), "{log}");
    assert!(warns[0].contains("values=[\"u4\"]"), "{log}");
    assert!(warns[1].contains("family=\"lat_seconds\""), "{log}");
}

#[test]
fn a_family_may_set_its_own_limit() {
    let reg = Registry::builder().cardinality_limit(1).build();
    let wide = reg
        .family("wide_total", "Wide.")
        .cardinality_limit(5)
        .counter_vec(&["k"])
        .unwrap();
    let narrow = reg.counter_vec("narrow_total", "Narrow.", &["k"]).unwrap();
    let none = reg
        .family("none_total", "None.")
        .cardinality_limit(0)
        .counter_vec(&["k"])
        .unwrap();
    for k in ["a", "b", "c", "d", "e", "f", "g"] {
        wide.with(&[k]).inc();
        narrow.with(&[k]).inc();
        none.with(&[k]).inc();
    }
    assert_eq!((wide.len(), wide.refused()), (5, 2));
    assert_eq!((narrow.len(), narrow.refused()), (1, 6));
    assert_eq!((none.len(), none.refused()), (0, 7));
    assert_eq!(none.overflow().get(), 7);
    // A family without labels has its series whatever the limit.
    let single = reg
        .family("single_total", "Single.")
        .cardinality_limit(0)
        .counter()
        .unwrap();
    single.inc();
    assert!(reg.to_prometheus().contains("\nsingle_total 1\n"));
}

#[test]
fn wrong_arity_and_long_values_go_to_the_overflow_series_or_are_errors() {
    let reg = Registry::builder().max_label_value_len(8).build();
    let c = reg
        .counter_vec("req_total", "Requests.", &["method", "route"])
        .unwrap();
    let ((), log) = logs(|| {
        c.with(&["GET"]).inc();
        c.with(&["GET", "/a", "extra"]).inc();
        c.with::<&str>(&[]).inc();
        c.with(&["GET", "/a-very-long-route"]).inc();
        c.with(&["GET", "/ok"]).inc();
    });
    assert_eq!(c.len(), 1);
    assert_eq!(c.refused(), 4);
    assert_eq!(c.overflow().get(), 4);
    let warns: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warns.len(), 2, "{log}");
    assert!(
        warns[0].contains("label values of the wrong number"),
        "{log}"
    );
    assert!(warns[0].contains("expected=2 got=1"), "{log}");
    assert!(warns[1].contains("label value too long"), "{log}");
    assert!(warns[1].contains("label=\"route\" len=18 max=8"), "{log}");

    assert_eq!(
        c.try_with(&["GET"]).unwrap_err(),
        Error::LabelCount {
            family: "req_total".into(),
            labels: vec!["method".into(), "route".into()],
            expected: 2,
            got: 1
        }
    );
    assert_eq!(
        c.try_with(&["GET", "/a-very-long-route"])
            .unwrap_err()
            .to_string(),
        "family \"req_total\": the value of label \"route\" is 18 bytes, more than the 8 kept (starts \"/a-very-long-route\")"
    );
    assert!(
        c.try_with(&["GET", "/ok"])
            .unwrap()
            .same_series(&c.with(&["GET", "/ok"]))
    );
    // try_with refusals are counted too, and record nothing.
    assert_eq!(c.refused(), 6);
    assert_eq!(c.overflow().get(), 4);
    let limited = Registry::builder().cardinality_limit(1).build();
    let l = limited.gauge_vec("g", "G.", &["k"]).unwrap();
    l.with(&["a"]).set(1.0);
    assert_eq!(
        l.try_with(&["b"]).unwrap_err(),
        Error::CardinalityLimit {
            family: "g".into(),
            values: vec!["b".into()],
            limit: 1
        }
    );
}

#[test]
fn hostile_label_values_do_not_grow_memory() {
    // A million distinct values, most of them long: the family keeps its limit of series, each
    // value at most the kept length, and counts the rest.
    let reg = Registry::builder().cardinality_limit(100).build();
    let c = reg
        .counter_vec("hostile_total", "Hostile.", &["v"])
        .unwrap();
    let long = "x".repeat(4096);
    for i in 0..1_000_000u32 {
        let v = if i % 2 == 0 {
            format!("{i}")
        } else {
            format!("{long}{i}")
        };
        c.with(&[v]).inc();
    }
    assert_eq!(c.len(), 100);
    assert_eq!(c.refused(), 999_900);
    assert_eq!(c.overflow().get(), 999_900);
    let page = reg.to_prometheus();
    assert!(page.len() < 10_000, "{}", page.len());
    assert!(page.contains("ops_registry_overflow_total{family=\"hostile_total\"} 999900\n"));
}
