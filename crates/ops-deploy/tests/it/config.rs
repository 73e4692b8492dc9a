//! The config parser on arbitrary input: it never panics (TOML-ish text with the real keys and
//! odd values, or plain noise), and every valid config serializes to TOML that loads back equal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ops_deploy::{DeployConfig, ProxyConfig, Strategy as DeployStrategy};
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "service",
    "state_dir",
    "runtime",
    "port",
    "container_port",
    "volumes",
    "stop_grace",
    "strategy",
    "alt_port",
    "drain",
    "keep",
    "path",
    "interval",
    "timeout",
    "retries",
    "start_period",
    "pre_deploy",
    "upstream_file",
    "upstream_name",
    "public",
    "pid_file",
    "kind",
    "verify",
    "steps",
    "pause",
    "source",
    "min_requests",
    "failure_limit",
    "conditions",
    "signal",
    "quantile",
    "max",
    "x",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (
            0u64..10_000_000_000_000,
            prop::sample::select(vec!["ns", "ms", "s", "m", "h", "d", "w", "years", ""])
        )
            .prop_map(|(n, unit)| format!("\"{n}{unit}\"")),
        "\\PC{0,16}".prop_map(|s| format!("{s:?}")),
        Just("true".to_owned()),
        Just("[\"a\", 1]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        Just("\"blue-green\"".to_owned()),
        Just("\"canary\"".to_owned()),
        Just("\"error_ratio\"".to_owned()),
        Just("[10, 50, 100]".to_owned()),
        Just("\"docker\"".to_owned()),
        Just("\"/health\\r\\nX: 1\"".to_owned()),
        Just("-1".to_owned()),
        Just("1e400".to_owned()),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (prop::sample::select(KEYS), value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => prop::sample::select(vec!["[health]", "[hooks]", "[proxy]", "[env]", "[canary]", "[analysis]", "[[analysis.conditions]]", "[[x]]", "["])
            .prop_map(str::to_owned),
        1 => "\\PC{0,30}",
    ]
}

fn duration(min_ms: u64) -> impl Strategy<Value = Duration> {
    prop_oneof![
        (min_ms..10_000).prop_map(Duration::from_millis),
        (min_ms..31_622_400_000u64).prop_map(Duration::from_millis),
    ]
}

prop_compose! {
    fn valid_config()(
        service in "[a-z][a-z0-9_-]{0,20}",
        docker in any::<bool>(),
        port in 1u16..,
        alt in any::<u16>(),
        blue_green in any::<bool>(),
        stop_grace in duration(0),
        drain in duration(0),
        interval in duration(1),
        timeout in duration(1),
        start_period in duration(0),
        retries in 1u32..,
        keep in 1usize..1000,
        path in "/[a-zA-Z0-9/_.?=&%-]{0,30}",
        env in prop::collection::btree_map("[A-Z_]{1,8}", "\\PC{0,12}", 0..4),
        volumes in prop::collection::vec("[a-z]{1,8}:/[a-z]{1,8}", 0..3),
        pre_deploy in prop::option::of("\\PC{1,20}"),
        hook_timeout in duration(1),
        upstream_name in prop::option::of("[a-zA-Z0-9_.-]{1,20}"),
        public in prop::option::of(1u16..),
        pid_file in prop::option::of("/[a-z]{1,10}"),
        canary in any::<bool>(),
        verify in prop::option::of(duration(1)),
        analysis in prop::option::of(analysis()),
    ) -> DeployConfig {
        let mut c = DeployConfig::from_toml("service = \"x\"\nport = 1\n", Path::new("base.toml")).unwrap();
        c.service = service;
        c.runtime = if docker { "docker".into() } else { "process".into() };
        c.port = port;
        let alt = if alt == port || alt == 0 { port.wrapping_add(1).max(1) } else { alt };
        c.alt_port = (blue_green || alt % 2 == 0).then_some(alt);
        c.container_port = docker.then_some(8080);
        c.volumes = volumes;
        c.stop_grace = stop_grace;
        c.drain = drain;
        c.health.interval = interval;
        c.health.timeout = timeout;
        c.health.start_period = start_period;
        c.health.retries = retries;
        c.health.path = path;
        c.keep = keep;
        c.env = env.into_iter().collect::<BTreeMap<_, _>>();
        c.hooks.pre_deploy = pre_deploy;
        c.hooks.timeout = hook_timeout;
        c.strategy = match (blue_green, canary) {
            (true, true) => DeployStrategy::Canary,
            (true, false) => DeployStrategy::BlueGreen,
            (false, _) => DeployStrategy::StopStart,
        };
        if c.strategy == DeployStrategy::Canary {
            c.canary = Some(toml::from_str("steps = [5, 30, 100]\npause = [30]\n").unwrap());
        }
        c.verify = verify.filter(|_| c.strategy == DeployStrategy::BlueGreen);
        c.analysis = analysis;
        if blue_green || upstream_name.is_some() {
            let mut p: ProxyConfig = toml::from_str("upstream_file = \"/etc/nginx/up.conf\"\n").unwrap();
            p.upstream_name = upstream_name;
            p.public = public.map(|p| std::net::SocketAddr::from(([127, 0, 0, 1], p)));
            p.pid_file = pid_file.map(PathBuf::from);
            c.proxy = Some(p);
        }
        c
    }
}

/// An `[analysis]` with conditions of every kind and odd but valid numbers.
fn analysis() -> impl Strategy<Value = ops_deploy::AnalysisConfig> {
    (
        duration(1),
        0u32..5,
        0u64..1000,
        -1e9f64..1e9,
        0.001f64..0.999,
        prop::option::of(0.0f64..1.0),
        any::<bool>(),
    )
        .prop_map(|(interval, limit, min_requests, max, q, margin, prometheus)| {
            let mut text = format!(
                "interval = \"{}\"\nfailure_limit = {limit}\ninconclusive_limit = {limit}\nmin_requests = {min_requests}\nhold_timeout = \"1h\"\n",
                ops_core::duration::format(interval)
            );
            if prometheus {
                text.push_str("source = \"prometheus\"\nprometheus_url = \"http://127.0.0.1:9090\"\n");
            }
            let _ = write!(
                text,
                "[[conditions]]\nsignal = \"error_ratio\"\nmax = {max:?}\n{}[[conditions]]\nsignal = \"latency\"\nquantile = {q:?}\nmin = {max:?}\n[[conditions]]\nsignal = \"query\"\nname = \"q\"\nquery = \"sum(rate(x_total[1m]))\"\nmax = 1\n",
                margin.map_or_else(String::new, |m| format!("max_over_stable = {m:?}\n"))
            );
            toml::from_str(&text).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_toml_ish_input_never_panics(lines in prop::collection::vec(line(), 0..16)) {
        let text = lines.join("\n");
        if let Ok(config) = DeployConfig::from_toml(&text, Path::new("fuzz.toml")) {
            // Whatever loads is within the rules.
            prop_assert!(config.validate().is_ok());
            prop_assert!(config.health.interval > Duration::ZERO);
            prop_assert!(config.stop_grace <= Duration::from_hours(366 * 24));
        }
    }

    #[test]
    fn noise_never_panics(text in "\\PC{0,200}") {
        let _ = DeployConfig::from_toml(&text, Path::new("noise.toml"));
    }

    #[test]
    fn valid_configs_round_trip(config in valid_config()) {
        prop_assert!(config.validate().is_ok(), "{:?}", config.validate());
        let text = toml::to_string(&config).unwrap();
        let back = DeployConfig::from_toml(&text, Path::new("round.toml"));
        prop_assert!(back.is_ok(), "{text}\n{back:?}");
        prop_assert_eq!(back.unwrap(), config);
    }
}
