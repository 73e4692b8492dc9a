mod evaluator;
mod export;
mod nagios;
mod promql_rules;
mod promtool;
mod rules;
mod sinks;

/// Runs `promtool test rules` on a rule file and a test file whose expectations are our
/// evaluator's results; passes when promtool agrees on every one (skips without promtool
/// unless `OPS_REQUIRE_TOOLS=1`).
pub(crate) fn promtool_agrees(test: &str, rules: &str, tests: &str, cases: usize) {
    let Some(promtool) = ops_testkit::promtool::find(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
    std::fs::write(dir.path().join("test.yml"), tests).unwrap();
    let checked = ops_testkit::promtool::test_rules(&promtool, dir.path(), "test.yml");
    let text = checked.output;
    assert!(
        checked.success,
        "promtool disagrees with our evaluator on {cases} cases:\n{}",
        text.trim().chars().take(6000).collect::<String>()
    );
    assert!(text.contains("SUCCESS"), "{text}");
}
