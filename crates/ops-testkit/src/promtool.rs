/*!
Prometheus's `promtool` as an oracle: `check metrics` on an exposition page, `test rules` and
`check rules` on rule files.
*/

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tools;

/// How the messages name promtool: where to get it.
pub const WHAT: &str = "promtool (Debian package prometheus)";

/// `promtool` on `PATH`, or `None` after skipping (or failing, under `OPS_REQUIRE_TOOLS=1`) as
/// [`tools::available`] does.
pub fn find(test: &str) -> Option<PathBuf> {
    tools::require(test, WHAT, tools::on_path("promtool"))
}

/// What one promtool run said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Whether it exited 0.
    pub success: bool,
    /// Its standard output followed by its standard error.
    pub output: String,
}

impl Checked {
    /// Exited 0 and printed nothing: no finding at all.
    pub fn clean(&self) -> bool {
        self.success && self.output.trim().is_empty()
    }
}

/// `promtool check metrics` with `page` on its standard input.
///
/// # Panics
///
/// When promtool cannot be run.
pub fn check_metrics(promtool: &Path, page: &str) -> Checked {
    let out = tools::pipe(
        Command::new(promtool).args(["check", "metrics"]),
        page.as_bytes(),
    );
    Checked {
        success: out.status.success(),
        output: tools::output_text(&out),
    }
}

/// Asserts that `promtool check metrics` has no finding at all on `page`.
///
/// # Panics
///
/// With promtool's findings and the page when it has any (or cannot be run).
pub fn assert_clean_metrics(promtool: &Path, page: &str) {
    let checked = check_metrics(promtool, page);
    assert!(
        checked.clean(),
        "promtool check metrics findings:\n{}\npage:\n{page}",
        checked.output
    );
}

/// `promtool test rules <test_file>`, run in `dir` (where the rule files the test file names
/// are looked up).
///
/// # Panics
///
/// When promtool cannot be run.
pub fn test_rules(promtool: &Path, dir: &Path, test_file: &str) -> Checked {
    run(Command::new(promtool)
        .args(["test", "rules", test_file])
        .current_dir(dir))
}

/// `promtool check rules <rules_file>`.
///
/// # Panics
///
/// When promtool cannot be run.
pub fn check_rules(promtool: &Path, rules_file: &Path) -> Checked {
    run(Command::new(promtool)
        .args(["check", "rules"])
        .arg(rules_file))
}

fn run(command: &mut Command) -> Checked {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    Checked {
        success: out.status.success(),
        output: tools::output_text(&out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promtool_judges_pages_and_rules() {
        let Some(promtool) = find("promtool_judges_pages_and_rules") else {
            return;
        };
        assert_clean_metrics(
            &promtool,
            "# HELP up Whether it is up.\n# TYPE up gauge\nup 1\n",
        );
        let bad = check_metrics(&promtool, "up{ 1\n");
        assert!(!bad.success && !bad.clean(), "{bad:?}");

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("rules.yml"),
            "groups:\n- name: g\n  rules:\n  - alert: Up\n    expr: up > 0\n",
        )
        .unwrap();
        let checked = check_rules(&promtool, &dir.path().join("rules.yml"));
        assert!(checked.success, "{checked:?}");
        std::fs::write(
            dir.path().join("test.yml"),
            "rule_files: [rules.yml]\ntests:\n- interval: 1m\n  input_series:\n  - series: 'up{job=\"a\"}'\n    values: '1 1'\n  alert_rule_test:\n  - eval_time: 1m\n    alertname: Up\n    exp_alerts: [{exp_labels: {job: a}}]\n",
        )
        .unwrap();
        let tested = test_rules(&promtool, dir.path(), "test.yml");
        assert!(
            tested.success && tested.output.contains("SUCCESS"),
            "{tested:?}"
        );
        std::fs::write(
            dir.path().join("rules.yml"),
            "groups: [{name: g, rules: [{alert: X, expr: 'up >'}]}]\n",
        )
        .unwrap();
        assert!(!check_rules(&promtool, &dir.path().join("rules.yml")).success);
    }
}
