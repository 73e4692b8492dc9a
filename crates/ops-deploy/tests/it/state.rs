//! The state machine, the config checks, the plan and the nginx switch's all-or-nothing rule.

use std::collections::HashSet;
use std::net::SocketAddr;

use ops_deploy::{
    DeployConfig, Deployer, Deployment, Error, LocalProcess, Nginx, State, Strategy, TrafficSwitch,
};
use proptest::prelude::*;

/// The edges the documentation draws, written out independently of `can_go_to`.
fn documented_edges() -> HashSet<(State, State)> {
    use State::*;
    [
        (Locked, Starting),
        (Locked, Failed),
        (Starting, Checking),
        (Starting, RollingBack),
        (Starting, Failed),
        (Checking, Switching),
        (Checking, Done),
        (Checking, RollingBack),
        (Checking, Failed),
        (Switching, Draining),
        (Switching, RollingBack),
        (Switching, Failed),
        (Switching, Analysing),
        (Analysing, Switching),
        (Analysing, Paused),
        (Analysing, Draining),
        (Analysing, RollingBack),
        (Analysing, Failed),
        (Paused, Switching),
        (Paused, Analysing),
        (Paused, Draining),
        (Paused, RollingBack),
        (Paused, Failed),
        (Draining, Done),
        (RollingBack, RolledBack),
        (RollingBack, Failed),
    ]
    .into_iter()
    .collect()
}

#[test]
fn the_transition_graph_is_the_documented_one() {
    let edges = documented_edges();
    for from in State::ALL {
        for to in State::ALL {
            assert_eq!(
                from.can_go_to(to),
                edges.contains(&(from, to)),
                "{from} -> {to}"
            );
        }
        // Terminal states have no way out; every other state has one.
        assert_eq!(
            from.is_terminal(),
            State::ALL.iter().all(|&to| !from.can_go_to(to)),
            "{from}"
        );
    }
}

proptest! {
    /// Whatever is asked, the machine only ever walks documented edges, records exactly the
    /// transitions it made, refuses the rest without moving, and never leaves a terminal state.
    #[test]
    fn random_walks_only_take_documented_edges(steps in proptest::collection::vec(0usize..State::ALL.len(), 0..40)) {
        let edges = documented_edges();
        let mut d = Deployment::begin("web-1", Strategy::BlueGreen);
        let mut made = 0;
        for i in steps {
            let to = State::ALL[i];
            let from = d.state();
            match d.advance(to, "step") {
                Ok(t) => {
                    prop_assert!(edges.contains(&(from, to)));
                    prop_assert_eq!((t.from, t.to), (from, to));
                    prop_assert!(!from.is_terminal());
                    made += 1;
                }
                Err(e) => {
                    prop_assert!(!edges.contains(&(from, to)));
                    prop_assert_eq!((e.from, e.to), (from, to));
                    prop_assert_eq!(d.state(), from);
                }
            }
        }
        prop_assert_eq!(d.transitions().len(), made);
        for pair in d.transitions().windows(2) {
            prop_assert_eq!(pair[0].to, pair[1].from);
            prop_assert!(pair[0].at <= pair[1].at);
        }
    }
}

fn write_config(dir: &std::path::Path, text: &str) -> Result<DeployConfig, Error> {
    let path = dir.join("deploy.toml");
    std::fs::write(&path, text).unwrap();
    DeployConfig::load(&path)
}

#[test]
fn config_errors_name_the_file_and_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "service = \"web\"\nport = 8080\nruntime = \"podman\"\n",
            "runtime",
        ),
        ("service = \"web\"\nport = 8080\nprot = 1\n", "prot"),
        (
            "service = \"web\"\nport = 8080\nstrategy = \"blue-green\"\n",
            "needs alt_port",
        ),
        (
            "service = \"web\"\nport = 8080\nalt_port = 8080\nstrategy = \"blue-green\"\n",
            "must differ from port",
        ),
        (
            "service = \"web\"\nport = 8080\nalt_port = 8081\nstrategy = \"blue-green\"\n",
            "needs a [proxy] section",
        ),
        (
            "service = \"web\"\nport = 8080\nstrategy = \"canary\"\n",
            "canary",
        ),
        ("service = \"web\"\nport = 8080\nkeep = 0\n", "keep"),
        (
            "service = \"web\"\nport = 8080\n[proxy]\nkind = \"haproxy\"\nupstream_file = \"u\"\n",
            "haproxy",
        ),
        (
            "service = \"web\"\nport = 8080\n[hooks]\npre_deploy = \"true\"\ntimeout = \"soon\"\n",
            "timeout",
        ),
    ];
    for (text, needle) in cases {
        let err = write_config(dir.path(), text).unwrap_err().to_string();
        assert!(
            err.contains("deploy.toml") && err.contains(needle),
            "{needle}: {err}"
        );
    }
    let ok = write_config(
        dir.path(),
        "service = \"web\"\nport = 8080\nalt_port = 8081\nstrategy = \"blue-green\"\ndrain = \"3s\"\n[proxy]\nupstream_file = \"/tmp/u.conf\"\npublic = \"127.0.0.1:80\"\n[hooks]\npost_deploy = \"true\"\n",
    )
    .unwrap();
    assert_eq!(ok.strategy, Strategy::BlueGreen);
    assert_eq!(ok.drain, std::time::Duration::from_secs(3));
    assert_eq!(ok.keep, 5);
    let proxy = ok.proxy.unwrap();
    assert_eq!(proxy.test_command, ["nginx", "-t"]);
    assert_eq!(proxy.reload_command, ["nginx", "-s", "reload"]);
}

#[test]
fn the_plan_names_every_step_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = write_config(
        dir.path(),
        &format!(
            "service = \"web\"\nstate_dir = \"{}\"\nport = 9001\nalt_port = 9002\nstrategy = \"blue-green\"\n[proxy]\nupstream_file = \"/tmp/web-up.conf\"\npublic = \"127.0.0.1:8080\"\n[hooks]\npre_deploy = \"./migrate\"\n",
            state.display()
        ),
    )
    .unwrap();
    let d = Deployer::new(config.clone(), LocalProcess::new(config.log_dir()));
    let plan = d.plan("./server --v2").unwrap();
    assert_eq!(plan.release, "web-1");
    assert_eq!(plan.port, 9001);
    assert_eq!(plan.running, None);
    assert_eq!(plan.rollback_target, None);
    assert_eq!(
        plan.hooks,
        [("pre_deploy".to_owned(), "./migrate".to_owned())]
    );
    let text = plan.to_string();
    for needle in [
        "plan for web: release web-1 (./server --v2, blue-green strategy, runtime process)",
        "run the pre_deploy hook `./migrate` (a failure aborts)",
        "switch the traffic: nginx: upstream web in /tmp/web-up.conf",
        "health-check GET /health through 127.0.0.1:8080",
        "keep the newest 5 releases",
        "no healthy release to bring back",
    ] {
        assert!(text.contains(needle), "{needle:?} not in\n{text}");
    }
    assert!(!state.exists(), "the plan created the state directory");
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["strategy"], "blue-green");
    assert_eq!(json["drain"], "2s");
}

#[test]
fn a_refused_nginx_change_leaves_the_previous_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("up.conf");
    let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    let accepting = Nginx::new(&file, "web")
        .test_command(vec!["true".into()])
        .reload_command(vec!["true".into()]);
    accepting.switch("web-1", addr(9001)).unwrap();
    assert_eq!(accepting.target(), Some(addr(9001)));
    let first = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        first,
        "# Written by ops-deploy: traffic for web goes to release web-1.\nupstream web {\n    server 127.0.0.1:9001;\n}\n"
    );

    let refusing_test = Nginx::new(&file, "web")
        .test_command(vec![
            "sh".into(),
            "-c".into(),
            "echo 'bad upstream' >&2; exit 1".into(),
        ])
        .reload_command(vec!["true".into()]);
    let err = refusing_test.switch("web-2", addr(9002)).unwrap_err();
    assert!(matches!(err, Error::Proxy { .. }), "{err}");
    assert!(err.to_string().contains("bad upstream"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first);

    let refusing_reload = Nginx::new(&file, "web")
        .test_command(vec!["true".into()])
        .reload_command(vec!["false".into()]);
    assert!(refusing_reload.switch("web-2", addr(9002)).is_err());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first);

    // A split: two weighted servers, read back; the target is no single address.
    accepting
        .split(("web-1", addr(9001)), ("web-2", addr(9002)), 10)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "# Written by ops-deploy: traffic for web is split: 90 % to release web-1, 10 % to release web-2 (canary).\nupstream web {\n    server 127.0.0.1:9001 weight=90;\n    server 127.0.0.1:9002 weight=10;\n}\n"
    );
    assert_eq!(accepting.target(), None);
    assert_eq!(accepting.routes(), [(addr(9001), 90), (addr(9002), 10)]);
    let split = std::fs::read_to_string(&file).unwrap();
    assert!(
        refusing_reload
            .split(("web-1", addr(9001)), ("web-2", addr(9002)), 25)
            .is_err()
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), split);
    for weight in [0, 100] {
        assert!(matches!(
            accepting.split(("web-1", addr(9001)), ("web-2", addr(9002)), weight),
            Err(Error::InvalidValue { .. })
        ));
    }
    accepting.switch("web-1", addr(9001)).unwrap();
    assert_eq!(accepting.routes(), [(addr(9001), 1)]);

    // With no previous file, a refused change leaves none.
    let fresh = dir.path().join("fresh.conf");
    let err = Nginx::new(&fresh, "web")
        .test_command(vec!["false".into()])
        .switch("web-1", addr(9001));
    assert!(err.is_err());
    assert!(!fresh.exists());
}
