/*!
Outside programs: finding them, and skipping a test without them — or failing it, when
`OPS_REQUIRE_TOOLS=1` (CI) says every tool must be there.

A test that needs a tool asks for it once, at the top, and returns when it is missing:

```
# fn docs() {
let Some(promtool) = ops_testkit::tools::find("my_test", "promtool") else {
    return; // printed "skipped my_test: promtool not found (…)"
};
# let _ = promtool;
# }
```
*/

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The variable that turns a missing tool from a skip into a failure (`OPS_REQUIRE_TOOLS=1`).
pub const REQUIRE_TOOLS: &str = "OPS_REQUIRE_TOOLS";

/// Whether missing outside tools fail the tests instead of skipping them (`OPS_REQUIRE_TOOLS=1`).
pub fn required() -> bool {
    std::env::var(REQUIRE_TOOLS).is_ok_and(|v| v == "1")
}

/// `program` as found on `PATH` (an executable file), or `None`.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &std::path::Path) -> bool {
    path.is_file()
}

/// `ok`, after skipping or failing when it is false: prints `skipped {test}: {what} not found
/// (set OPS_REQUIRE_TOOLS=1 to require it)`, or panics with `{test}: {what} is required
/// (OPS_REQUIRE_TOOLS=1) but was not found` under `OPS_REQUIRE_TOOLS=1`.
///
/// `what` names the tool as a reader would install it: `"nginx"`, `"a Docker engine"`,
/// `"perl with Monitoring::Plugin (Debian: libmonitoring-plugin-perl)"`.
pub fn available(test: &str, what: &str, ok: bool) -> bool {
    if !ok {
        assert!(
            !required(),
            "{test}: {what} is required ({REQUIRE_TOOLS}=1) but was not found"
        );
        eprintln!("skipped {test}: {what} not found (set {REQUIRE_TOOLS}=1 to require it)");
    }
    ok
}

/// `found`, after skipping or failing as [`available`] does when it is `None`.
pub fn require<T>(test: &str, what: &str, found: Option<T>) -> Option<T> {
    available(test, what, found.is_some());
    found
}

/// `program` on `PATH`, or `None` after skipping (or failing) as [`available`] does.
pub fn find(test: &str, program: &str) -> Option<PathBuf> {
    require(test, program, on_path(program))
}

/// Whether `program args…` runs and exits 0 (output discarded, no input).
pub fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `python3` on `PATH` if it can `import module`, or `None`.
pub fn python3_with(module: &str) -> Option<PathBuf> {
    let python = on_path("python3")?;
    runs(python.to_str()?, &["-c", &format!("import {module}")]).then_some(python)
}

/// Whether the machine's Docker engine answers (`docker info`), after skipping or failing as
/// [`available`] does when it does not.
pub fn docker_available(test: &str) -> bool {
    available(
        test,
        "a Docker engine",
        runs("docker", &["info", "--format", "{{.ServerVersion}}"]),
    )
}

/// Runs `docker args…` and returns its standard output, trimmed.
///
/// # Panics
///
/// When docker cannot be run or exits non-zero: the message has the arguments and docker's
/// standard error.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"));
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs `command` with `input` on its standard input (written from another thread, so a child
/// that answers while it reads cannot dead-lock with us) and collects its output.
///
/// # Panics
///
/// When the program cannot be started or its output cannot be read; the message names the
/// program.
pub fn pipe(command: &mut Command, input: &[u8]) -> Output {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let mut stdin = child.stdin.take().expect("a piped standard input");
    let input = input.to_vec();
    // A child that exits without reading all of it closes the pipe: not our failure.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("reading the output of {program}: {e}"));
    writer
        .join()
        .unwrap_or_else(|_| panic!("the thread writing to {program} panicked"));
    output
}

/// A program's standard output followed by its standard error, as text (lossy UTF-8).
pub fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_not_a_made_up_program() {
        assert!(on_path("sh").is_some());
        assert!(on_path("ops-testkit-no-such-program").is_none());
        assert!(runs("true", &[]));
        assert!(!runs("false", &[]));
        assert!(!runs("ops-testkit-no-such-program", &[]));
    }

    #[test]
    fn available_passes_through_what_is_there() {
        assert!(available("t", "sh", true));
        assert_eq!(require("t", "sh", Some(3)), Some(3));
        assert!(find("t", "sh").is_some());
    }

    #[test]
    fn a_missing_tool_skips_or_fails_as_the_variable_says() {
        let missing = std::panic::catch_unwind(|| available("t", "a made-up tool", false));
        match missing {
            Ok(ok) => {
                assert!(!required());
                assert!(!ok);
            }
            Err(panic) => {
                assert!(required());
                let text = panic.downcast_ref::<String>().expect("a formatted message");
                assert_eq!(
                    text,
                    "t: a made-up tool is required (OPS_REQUIRE_TOOLS=1) but was not found"
                );
            }
        }
    }

    #[test]
    fn pipe_feeds_the_input_and_collects_both_streams() {
        let big = "x".repeat(1 << 20);
        let out = pipe(
            Command::new("sh").args(["-c", "wc -c; echo oops >&2; exit 3"]),
            big.as_bytes(),
        );
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(
            output_text(&out).split_whitespace().collect::<Vec<_>>(),
            ["1048576", "oops"]
        );
    }

    #[test]
    fn python3_with_a_made_up_module_is_none() {
        assert!(python3_with("ops_testkit_no_such_module").is_none());
    }
}
