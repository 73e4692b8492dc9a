//! The export: Prometheus rules for every kind of SLI, which promtool accepts.

use std::time::Duration;

use ops_slo::{SloSet, export};
use ops_testkit::promtool;
use ops_testkit::slo::QUICKSTART_SLOS;

/// After [`QUICKSTART_SLOS`]: the latency SLO's scope, then an SLO of every other kind.
const OTHER_KINDS: &str = r#"route = "/orders/{id}"
method = "GET"

[[slo]]
name = "checkout"
[slo.sli.function]
name = "checkout"

[[slo]]
name = "payments"
objective = 99.9
window = "7d"
labels = { team = "payments" }
[slo.sli.promql]
bad = 'shop_payments_total{result="failed"}'
total = 'shop_payments_total'
[[slo.alerts]]
severity = "page"
long = "1h"
short = "5m"
budget_percent = 2

[[slo]]
name = "reachable"
[slo.sli.probe]
instance = "http://127.0.0.1:8080/health"

[[slo]]
name = "signups"
alert_name = "Signups"
[slo.sli.events]
"#;

#[test]
fn the_exported_rules_pass_promtool_check_rules() {
    let set = SloSet::from_toml(&format!("{QUICKSTART_SLOS}{OTHER_KINDS}")).unwrap();
    let rules = export::prometheus_rules(&set);
    // A 7-day SLO scales the Workbook's 2 % in 1 h: 0.02 × 168 h / 1 h = 3.36.
    assert!(rules.contains("> (3.36 * 0.001)"), "{rules}");
    assert!(
        rules.contains("- alert: \"SignupsBurnRate1h5m\""),
        "{rules}"
    );
    assert!(rules.contains("      team: \"payments\"\n"), "{rules}");
    assert!(rules.contains(
        "http_server_request_duration_seconds_bucket{method=\\\"GET\\\",route=\\\"/orders/{id}\\\",le=\\\"2.5\\\"}"
    ), "{rules}");
    let playbook = export::prometheus_rules(&SloSet::playbook("shop", Duration::from_millis(2500)));
    let Some(promtool) = promtool::find("the_exported_rules_pass_promtool_check_rules") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, text, count) in [
        ("every.yml", &rules, 5 * 26 + 13),
        ("playbook.yml", &playbook, 2 * 26),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let checked = promtool::check_rules(&promtool, &path);
        assert!(checked.success, "{}\n{text}", checked.output);
        assert!(
            checked
                .output
                .contains(&format!("SUCCESS: {count} rules found")),
            "{}",
            checked.output
        );
    }
}
