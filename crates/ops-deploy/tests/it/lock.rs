//! The deploy lock: exclusive, says who holds it, and a killed holder never blocks the next
//! deploy.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ops_deploy::{DeployLock, Error};

const CHILD_ENV: &str = "OPS_DEPLOY_TEST_LOCK_HOLDER";

/// Not a test on its own: with the variable set, takes the lock and holds it until killed.
#[test]
fn lock_holder_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let _lock = DeployLock::acquire(&path, "ops deploy --image web:9 (test child)", None).unwrap();
    println!("locked");
    loop {
        std::thread::sleep(Duration::from_mins(1));
    }
}

#[test]
fn second_deploy_is_refused_with_the_holder_then_waits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deploy.lock");
    let first = DeployLock::acquire(&path, "ops deploy --image web:1", None).unwrap();
    // A second lock in this process uses another open file description: flock refuses it.
    match DeployLock::acquire(&path, "ops deploy --image web:2", None) {
        Err(Error::Locked { holder, .. }) => {
            assert_eq!(holder.pid, std::process::id());
            assert_eq!(holder.command, "ops deploy --image web:1");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    let status = DeployLock::status(&path).unwrap().unwrap();
    assert_eq!(status.command, "ops deploy --image web:1");
    let started = Instant::now();
    match DeployLock::acquire(
        &path,
        "ops deploy --image web:2",
        Some(Duration::from_millis(300)),
    ) {
        Err(Error::LockTimeout { waited, .. }) => assert_eq!(waited, Duration::from_millis(300)),
        other => panic!("expected LockTimeout, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Released on drop, and a waiting deploy gets it.
    let waiter = std::thread::spawn({
        let path = path.clone();
        move || {
            DeployLock::acquire(
                &path,
                "ops deploy --image web:3",
                Some(Duration::from_secs(10)),
            )
            .map(|_| ())
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    drop(first);
    waiter.join().unwrap().unwrap();
    assert!(DeployLock::status(&path).unwrap().is_none());
}

#[test]
fn a_killed_holder_never_blocks_the_next_deploy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deploy.lock");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "it::lock::lock_holder_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // libtest prints "test NAME ... " without a newline before the child's own output.
    assert!(lines.any(|l| l.is_ok_and(|l| l.ends_with("locked"))));
    let holder = DeployLock::status(&path)
        .unwrap()
        .expect("held by the child");
    assert_eq!(holder.pid, child.id());
    assert!(matches!(
        DeployLock::acquire(&path, "me", None),
        Err(Error::Locked { .. })
    ));
    child.kill().unwrap();
    child.wait().unwrap();
    let lock = DeployLock::acquire(&path, "ops deploy after the crash", None)
        .expect("the kernel released the dead holder's lock");
    let now = DeployLock::status(&path).unwrap().unwrap();
    assert_eq!(
        (now.pid, now.command.as_str()),
        (std::process::id(), "ops deploy after the crash")
    );
    drop(lock);
}

#[test]
fn force_release_unblocks_a_hung_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deploy.lock");
    let hung = DeployLock::acquire(&path, "ops deploy (hung)", None).unwrap();
    let was = DeployLock::force_release(&path).unwrap().unwrap();
    assert_eq!(was.command, "ops deploy (hung)");
    let next = DeployLock::acquire(&path, "ops deploy (next)", None).unwrap();
    assert_eq!(
        DeployLock::status(&path).unwrap().unwrap().command,
        "ops deploy (next)"
    );
    drop(hung);
    drop(next);
}

/// `ops lock status` never takes the lock, not even for an instant: a deploy that starts while
/// someone keeps asking for the status always gets it.
#[test]
fn asking_for_the_status_never_blocks_a_deploy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deploy.lock");
    drop(DeployLock::acquire(&path, "first", None).unwrap());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let asker = {
        let (path, stop) = (path.clone(), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut asked = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                DeployLock::status(&path).unwrap();
                asked += 1;
            }
            asked
        })
    };
    for i in 0..2000 {
        let lock = DeployLock::acquire(&path, &format!("deploy {i}"), None);
        assert!(lock.is_ok(), "deploy {i}: {:?}", lock.err());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(asker.join().unwrap() > 0);
    // And it does see a held lock.
    let held = DeployLock::acquire(&path, "holder", None).unwrap();
    assert_eq!(
        DeployLock::status(&path).unwrap().unwrap().command,
        "holder"
    );
    drop(held);
    assert!(DeployLock::status(&path).unwrap().is_none());
}

const READER_ENV: &str = "OPS_DEPLOY_TEST_LOCK_READER";

/// Not a test on its own: with the variable set, drops to `nobody` when root and prints what
/// `DeployLock::status` says of the lock at the variable's path.
#[test]
fn lock_reader_child() {
    let Ok(path) = std::env::var(READER_ENV) else {
        return;
    };
    // SAFETY: plain syscalls changing this (child) process's own credentials.
    unsafe {
        if libc::geteuid() == 0 {
            assert_eq!(libc::setgid(65534), 0);
            assert_eq!(libc::setuid(65534), 0);
        }
    }
    match DeployLock::status(&path) {
        Ok(Some(holder)) => println!("held by {}", holder.pid),
        Ok(None) => println!("unlocked"),
        Err(e) => println!("error: {e}"),
    }
}

/// `ops lock status` on a state directory it cannot write: the holder (or none), no error.
#[test]
fn lock_status_needs_no_write_access() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(dir.path(), 0o755);
    let state = dir.path().join("state");
    let path = state.join("deploy.lock");
    let held = DeployLock::acquire(&path, "ops deploy (held)", None).unwrap();
    mode(&state, 0o555);
    mode(&path, 0o444);
    let ask = |path: &std::path::Path| {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "it::lock::lock_reader_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(READER_ENV, path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = ask(&path);
    assert!(
        said.contains(&format!("held by {}\n", std::process::id())),
        "{said}"
    );
    drop(held);
    let said = ask(&path);
    assert!(said.contains("unlocked\n"), "{said}");
    let said = ask(&state.join("never-created.lock"));
    assert!(said.contains("unlocked\n"), "{said}");
    assert!(!state.join("never-created.lock").exists());
    mode(&state, 0o755);
}
