//! Building what the tests run: the workspace's examples as static binaries (glibc,
//! `crt-static`), which run on this machine and in a FROM-scratch image alike.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock, PoisonError};

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The example `example` of package `package` as a static release binary, built once per
/// test process into `target/static` (its own target directory, so the build never waits for
/// the test run's; cargo serialises concurrent builds of it).
///
/// # Panics
///
/// When the build fails.
pub fn static_example(package: &str, example: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<(String, String), PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    let mut built = built.lock().unwrap_or_else(PoisonError::into_inner);
    let key = (package.to_owned(), example.to_owned());
    if let Some(path) = built.get(&key) {
        return path.clone();
    }
    let root = workspace_root();
    let target_dir = root.join("target/static");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            package,
            "--example",
            example,
            "--target",
            "x86_64-unknown-linux-gnu",
        ])
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(&root)
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {package}'s {example}: {e}"));
    assert!(
        status.success(),
        "building the static {example} of {package} failed"
    );
    let path = target_dir.join(format!(
        "x86_64-unknown-linux-gnu/release/examples/{example}"
    ));
    built.insert(key, path.clone());
    path
}

/// The quickstart example (`ops-examples`) as a static binary.
pub fn quickstart() -> PathBuf {
    static_example("ops-examples", "quickstart")
}
