//! One suite of backup scenarios, run against both engines (the built-in archive and
//! restic): a Docker volume with a `SQLite` database backed up, verified, corrupted by a
//! deploy and restored byte for byte; the same with host paths and local processes; one
//! flipped byte in a stored backup failing its verification with the file named; a backup
//! killed (`kill -9`) at any point never listed and never harming the others; retention; a
//! failing backup aborting the deploy; the service stopped during a backup brought back;
//! modes 0700/0600 whatever the umask.
//!
//! restic, sqlite3 and Docker are required under `OPS_REQUIRE_TOOLS=1`, skipped with a
//! printed reason otherwise.

#![allow(clippy::too_many_lines)] // scenarios read top to bottom

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ops_core::Exposition as _;
use ops_deploy::backup::{BackupKind, RestoreRequest};
use ops_deploy::{
    DeployConfig, DeployOutcome, Deployer, Error, FakeRuntime, History, Outcome, Runtime,
};
use ops_testkit::tools;

use super::suite::{Cleanup, free_port};

/// An engine under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Archive,
    Restic,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Archive => "archive",
            Engine::Restic => "restic",
        }
    }

    /// The engine, or `None` after skipping (restic missing).
    fn available(self, test: &str) -> Option<Engine> {
        match self {
            Engine::Archive => Some(self),
            Engine::Restic => tools::find(test, "restic").map(|_| self),
        }
    }
}

/// Files with every kind of content: text, a subdirectory, a 1 MiB pseudo-random file, an
/// empty file, a name with a space and a non-ASCII name, a symbolic link.
fn fill(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    std::fs::write(dir.join("notes.txt"), "orders are kept for 10 years\n").unwrap();
    std::fs::write(dir.join("sub/deeper/empty"), "").unwrap();
    std::fs::write(dir.join("sub/with space.txt"), "x".repeat(5000)).unwrap();
    std::fs::write(dir.join("sub/café"), "unicode").unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let random: Vec<u8> = (0..1 << 20)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    std::fs::write(dir.join("blob.bin"), random).unwrap();
    std::os::unix::fs::symlink("notes.txt", dir.join("latest")).unwrap();
}

/// A `SQLite` database written by the `sqlite3` CLI: a table of 200 orders.
fn sqlite_db(path: &Path) {
    let mut sql = String::from(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT, qty INTEGER);\nBEGIN;\n",
    );
    for i in 0..200 {
        let _ = writeln!(
            sql,
            "INSERT INTO orders (item, qty) VALUES ('item {i}', {});",
            i % 7
        );
    }
    sql.push_str("COMMIT;\n");
    let out = tools::pipe(Command::new("sqlite3").arg(path), sql.as_bytes());
    assert!(out.status.success(), "{}", tools::output_text(&out));
}

/// `PRAGMA integrity_check` and the row count, as sqlite3 prints them.
fn sqlite_state(path: &Path) -> String {
    let out = Command::new("sqlite3")
        .arg(path)
        .arg("PRAGMA integrity_check; SELECT count(*), sum(qty) FROM orders;")
        .output()
        .unwrap();
    tools::output_text(&out).trim().to_owned()
}

/// Every entry under `dir`: path → content (files), `-> target` (links), `dir` (dirs).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.insert(rel, format!("-> {}", t.display()).into_bytes());
            } else if meta.is_dir() {
                out.insert(rel, b"dir".to_vec());
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The config of a test: the engine, the sources and `extra` in `[backup]`, `top` before it.
fn config(dir: &Path, service: &str, engine: Engine, top: &str, backup: &str) -> DeployConfig {
    let text = format!(
        "service = \"{service}\"\nstate_dir = \"{}\"\nport = {}\nstop_grace = \"2s\"\n{top}\n[health]\ninterval = \"100ms\"\ntimeout = \"500ms\"\nretries = 30\n[backup]\nengine = \"{}\"\n{backup}\n",
        dir.join("state").display(),
        free_port(),
        engine.name(),
    );
    let path = dir.join("deploy.toml");
    std::fs::write(&path, text).unwrap();
    DeployConfig::load(&path).unwrap()
}

fn fake_deployer(config: &DeployConfig) -> Deployer<FakeRuntime> {
    Deployer::new(config.clone(), FakeRuntime::new())
}

fn backup_dir(config: &DeployConfig) -> PathBuf {
    config.state_dir.join("backups")
}

// ---------------------------------------------------------------------------------------------
// Docker volume with SQLite: deploy that corrupts, restore before the release
// ---------------------------------------------------------------------------------------------

/// Copies the volume's content out (through a container of the test image) into `dst`.
fn volume_content(volume: &str, dst: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::create_dir_all(dst).unwrap();
    let c = tools::docker(&[
        "create",
        "-v",
        &format!("{volume}:/data"),
        "ops-deploy-test:empty",
    ]);
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker cp {c}:/data - | tar -x -C '{}'",
            dst.display()
        ))
        .output()
        .unwrap();
    tools::docker(&["rm", "-f", &c]);
    assert!(out.status.success(), "{}", tools::output_text(&out));
    tree(&dst.join("data"))
}

fn volume_scenario(engine: Engine, test: &str) {
    let Some(engine) = engine.available(test) else {
        return;
    };
    if !tools::docker_available(test) || tools::find(test, "sqlite3").is_none() {
        return;
    }
    let repo = super::docker::images();
    let dir = tempfile::tempdir().unwrap();
    let service = format!("opsbk{}{}", engine.name(), std::process::id());
    let volume = format!("{service}-data");
    tools::docker(&["volume", "create", &volume]);
    let _volume = super::docker::VolumeGuard(volume.clone());
    // The data, owned by the image's user (65534), put into the volume with owners kept.
    let seed = dir.path().join("seed");
    std::fs::create_dir(&seed).unwrap();
    fill(&seed);
    sqlite_db(&seed.join("app.db"));
    let before_state = sqlite_state(&seed.join("app.db"));
    assert_eq!(before_state, "ok\n200|594");
    Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&seed)
        .status()
        .unwrap();
    // `docker cp -a` needs a container without a USER (it looks the user up in the image).
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(
        empty.path().join("Dockerfile"),
        "FROM scratch\nCMD [\"/none\"]\n",
    )
    .unwrap();
    tools::docker(&[
        "build",
        "-q",
        "-t",
        "ops-deploy-test:empty",
        empty.path().to_str().unwrap(),
    ]);
    let c = tools::docker(&[
        "create",
        "-v",
        &format!("{volume}:/data"),
        "ops-deploy-test:empty",
    ]);
    let cp = Command::new("docker")
        .args(["cp", "-a"])
        .arg(format!("{}/.", seed.display()))
        .arg(format!("{c}:/data"))
        .output()
        .unwrap();
    tools::docker(&["rm", "-f", &c]);
    assert!(cp.status.success(), "{}", tools::output_text(&cp));

    let config = config(
        dir.path(),
        &service,
        engine,
        &format!("runtime = \"docker\"\ncontainer_port = 8080\nvolumes = [\"{volume}:/data\"]"),
        "when = \"before-deploy\"",
    );
    let backend = super::suite::Backend {
        name: "docker",
        runtime_config: String::new(),
        artifact: Box::new(|_| None),
        cleanup: Box::new(super::docker::cleanup),
    };
    let _cleanup = Cleanup::new(&backend, &config, &service);
    let d = Deployer::new(config.clone(), config.runtime());
    let release = |n: u32| format!("{service}-{n}");
    let good = format!("{repo}:good");
    let corrupt = format!("{repo}:corrupt");

    assert_eq!(
        d.deploy(&good, "test", None, |_| {}).unwrap(),
        DeployOutcome::Healthy {
            release: release(1)
        }
    );
    let expected = volume_content(&volume, &dir.path().join("expected"));
    assert_eq!(
        sqlite_state(&dir.path().join("expected/data/app.db")),
        before_state
    );

    // The corrupting release: its backup is taken and verified first, and linked.
    let mut notes = Vec::new();
    let outcome = d
        .deploy(&corrupt, "test", None, |e| {
            if let ops_deploy::Event::Note { message, .. } = e {
                notes.push((*message).to_owned());
            }
        })
        .unwrap();
    assert_eq!(
        outcome,
        DeployOutcome::Healthy {
            release: release(2)
        }
    );
    let backup2 = format!("{service}-b2");
    assert!(
        notes
            .iter()
            .any(|n| *n == format!("backup {backup2} taken and verified before the deploy")),
        "{notes:?}"
    );
    let history = History::load(&config.history_path(), &service).unwrap();
    assert_eq!(
        history.get(&release(1)).unwrap().backup.as_deref(),
        Some(format!("{service}-b1").as_str())
    );
    assert_eq!(
        history.get(&release(2)).unwrap().backup.as_deref(),
        Some(backup2.as_str())
    );
    let catalog = d.backups().unwrap();
    let b2 = catalog.get(&backup2).unwrap();
    assert_eq!(b2.engine, engine.name());
    assert_eq!(
        (b2.kind, b2.release.as_deref(), b2.before_release.as_deref()),
        (
            BackupKind::BeforeDeploy,
            Some(release(1).as_str()),
            Some(release(2).as_str())
        )
    );
    assert!(b2.verified(), "{b2:?}");
    assert_eq!(b2.files, 6);
    assert_eq!(b2.sources[0].kind, "volume");

    let damaged = volume_content(&volume, &dir.path().join("damaged"));
    assert_ne!(damaged.get("app.db"), expected.get("app.db"));
    assert_ne!(
        sqlite_state(&dir.path().join("damaged/data/app.db")),
        before_state
    );

    // One command: the data before release 2, and release 1 that ran with it.
    let restored = d
        .restore(&RestoreRequest::before_release(release(2)), None, |_| {})
        .unwrap();
    assert_eq!(restored.backup, backup2);
    assert_eq!(restored.release.as_deref(), Some(release(1).as_str()));
    assert_eq!(restored.release_error, None);
    assert_eq!(restored.exit_code(), 0);
    let after = volume_content(&volume, &dir.path().join("after"));
    assert_eq!(
        after, expected,
        "the volume is byte-identical to the backup"
    );
    assert_eq!(
        sqlite_state(&dir.path().join("after/data/app.db")),
        before_state
    );
    // Owners came back too: the image's user can still write.
    {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata(dir.path().join("after/data/app.db")).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
    }
    assert_eq!(d.current().unwrap().release, release(1));
    let history = History::load(&config.history_path(), &service).unwrap();
    assert_eq!(
        history.get(&release(2)).unwrap().outcome,
        Outcome::RolledBack
    );
    assert_eq!(history.get(&release(1)).unwrap().outcome, Outcome::Healthy);
    // What the restore overwrote is a backup of its own, with the damaged database.
    let catalog = d.backups().unwrap();
    let safety = catalog.get(&restored.safety_backup).unwrap();
    assert_eq!(safety.kind, BackupKind::PreRestore);
    assert!(safety.verified());
    // The metrics section.
    let page = d
        .backup_status(std::time::SystemTime::now())
        .unwrap()
        .to_prometheus();
    assert!(
        page.contains(&format!("ops_backup_backups{{service=\"{service}\"}} 3\n")),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "ops_backup_verified_stale{{service=\"{service}\"}} 0\n"
        )),
        "{page}"
    );
}

#[test]
fn archive_docker_volume_restored_byte_identical() {
    volume_scenario(
        Engine::Archive,
        "archive_docker_volume_restored_byte_identical",
    );
}

#[test]
fn restic_docker_volume_restored_byte_identical() {
    volume_scenario(
        Engine::Restic,
        "restic_docker_volume_restored_byte_identical",
    );
}

// ---------------------------------------------------------------------------------------------
// Host paths with local processes
// ---------------------------------------------------------------------------------------------

/// The local-process release of the deploy suite; `prefix` runs before it (a corruption).
fn process_release(prefix: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    format!(
        "{prefix}{}=healthy exec '{}' --exact it::process::server_child --nocapture --test-threads=1",
        super::process::SERVER_ENV,
        exe.display()
    )
}

fn host_path_scenario(engine: Engine, test: &str) {
    let Some(engine) = engine.available(test) else {
        return;
    };
    if tools::find(test, "sqlite3").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    fill(&data);
    sqlite_db(&data.join("app.db"));
    std::fs::set_permissions(
        data.join("notes.txt"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let before_state = sqlite_state(&data.join("app.db"));
    let service = format!("opshp{}{}", engine.name(), std::process::id());
    let config = config(
        dir.path(),
        &service,
        engine,
        "",
        &format!("when = \"before-deploy\"\npaths = [\"{}\"]", data.display()),
    );
    let backend = super::suite::Backend {
        name: "process",
        runtime_config: String::new(),
        artifact: Box::new(|_| None),
        cleanup: Box::new(|_| {}),
    };
    let _cleanup = Cleanup::new(&backend, &config, &service);
    let d = Deployer::new(config.clone(), config.runtime());
    let release = |n: u32| format!("{service}-{n}");
    assert_eq!(
        d.deploy(&process_release(""), "test", None, |_| {})
            .unwrap(),
        DeployOutcome::Healthy {
            release: release(1)
        }
    );
    let expected = tree(&data);
    // Release 2 damages the database and adds a file before it serves.
    let damage = format!(
        "printf 'XXXXXXXXXXXXXXXXXXXXXXXX' | dd of='{db}' conv=notrunc 2>/dev/null; echo junk > '{junk}'; ",
        db = data.join("app.db").display(),
        junk = data.join("junk").display()
    );
    assert_eq!(
        d.deploy(&process_release(&damage), "test", None, |_| {})
            .unwrap(),
        DeployOutcome::Healthy {
            release: release(2)
        }
    );
    assert_ne!(tree(&data), expected);
    assert_ne!(sqlite_state(&data.join("app.db")), before_state);

    let restored = d
        .restore(&RestoreRequest::before_release(release(2)), None, |_| {})
        .unwrap();
    assert_eq!(restored.release.as_deref(), Some(release(1).as_str()));
    assert_eq!(
        tree(&data),
        expected,
        "byte-identical, the added file removed"
    );
    assert_eq!(sqlite_state(&data.join("app.db")), before_state);
    assert_eq!(
        std::fs::metadata(data.join("notes.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o640
    );
    assert_eq!(
        super::suite::serving(ops_testkit::net::local(config.port)),
        Some(release(1))
    );
    // Undo: the safety backup holds the damaged state (and the junk file).
    let undo = d
        .restore(
            &RestoreRequest::backup(restored.safety_backup.clone()),
            None,
            |_| {},
        )
        .unwrap();
    assert_eq!(undo.release.as_deref(), Some(release(1).as_str()));
    assert!(data.join("junk").exists());
    assert_ne!(sqlite_state(&data.join("app.db")), before_state);
}

#[test]
fn archive_host_path_with_processes() {
    host_path_scenario(Engine::Archive, "archive_host_path_with_processes");
}

#[test]
fn restic_host_path_with_processes() {
    host_path_scenario(Engine::Restic, "restic_host_path_with_processes");
}

// ---------------------------------------------------------------------------------------------
// One flipped byte
// ---------------------------------------------------------------------------------------------

/// Flips one byte in the middle of the largest file under `dir` (restic: a data pack).
fn flip_in_largest(dir: &Path) -> PathBuf {
    let mut files: Vec<(u64, PathBuf)> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                files.push((meta.len(), e.path()));
            }
        }
    }
    files.sort();
    let path = files.last().unwrap().1.clone();
    flip_at(&path, files.last().unwrap().0 / 2);
    path
}

fn flip_at(path: &Path, offset: u64) {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    perms.set_mode(0o600);
    std::fs::set_permissions(path, perms).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

fn flipped_byte_scenario(engine: Engine, test: &str) {
    let Some(engine) = engine.available(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    fill(&data);
    let config = config(
        dir.path(),
        "flip",
        engine,
        "",
        &format!("paths = [\"{}\"]", data.display()),
    );
    let d = fake_deployer(&config);
    let b = d.backup(BackupKind::Manual, None, |_| {}).unwrap();
    assert!(b.verified());
    if engine == Engine::Restic {
        assert!(
            b.verification
                .as_ref()
                .unwrap()
                .engine_check
                .as_deref()
                .unwrap()
                .starts_with("restic check --read-data-subset 10%: "),
            "{b:?}"
        );
    }
    assert_eq!(d.verify_backup(None, None, |_| {}).unwrap().id, "flip-b1");
    let damaged = match engine {
        Engine::Archive => {
            // The byte in the middle of blob.bin, found by its content.
            let archive = backup_dir(&config).join("archives/flip-b1.tar");
            let bytes = std::fs::read(&archive).unwrap();
            let blob = std::fs::read(data.join("blob.bin")).unwrap();
            let at = bytes.windows(64).position(|w| w == &blob[..64]).unwrap();
            flip_at(&archive, (at + blob.len() / 2) as u64);
            "data/blob.bin".to_owned()
        }
        Engine::Restic => {
            flip_in_largest(&backup_dir(&config).join("restic/data"));
            String::new()
        }
    };
    let err = d.verify_backup(Some("flip-b1"), None, |_| {}).unwrap_err();
    let Error::VerifyFailed { id, reason } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(id, "flip-b1");
    if engine == Engine::Archive {
        assert!(
            reason.starts_with(&format!("1 of 9 entries differ: {damaged}: SHA-256 ")),
            "{reason}"
        );
    } else {
        let files = [
            "data/blob.bin",
            "data/notes.txt",
            "data/sub/with space.txt",
            "data/sub/café",
            "data/sub/deeper/empty",
        ];
        assert!(
            files.iter().any(|f| reason.contains(&format!("{f}: "))),
            "names a file: {reason}"
        );
    }
    let record = d.backups().unwrap().get("flip-b1").cloned().unwrap();
    let v = record.verification.unwrap();
    assert!(!v.ok);
    assert_eq!(v.error.as_deref(), Some(reason.as_str()));
    // Never restored, never counted as verified.
    let refused = d
        .restore(&RestoreRequest::backup("flip-b1"), None, |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("its latest verification failed"),
        "{refused}"
    );
    let status = d.backup_status(std::time::SystemTime::now()).unwrap();
    assert!(status.stale());
    assert_eq!(status.last_verification_ok, Some(false));
}

#[test]
fn archive_flipped_byte_fails_verification() {
    flipped_byte_scenario(Engine::Archive, "archive_flipped_byte_fails_verification");
}

#[test]
fn restic_flipped_byte_fails_verification() {
    flipped_byte_scenario(Engine::Restic, "restic_flipped_byte_fails_verification");
}

// ---------------------------------------------------------------------------------------------
// kill -9 during a backup
// ---------------------------------------------------------------------------------------------

const CHILD_ENV: &str = "OPS_BACKUP_TEST_CHILD";

/// Not a test on its own: with the variable set, takes a backup with the config at its path
/// (with `OPS_BACKUP_TEST_UMASK0`, under umask 000).
#[test]
fn backup_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    if std::env::var_os("OPS_BACKUP_TEST_UMASK0").is_some() {
        // SAFETY: umask has no preconditions.
        unsafe { libc::umask(0) };
    }
    let config = DeployConfig::load(path).unwrap();
    let d = fake_deployer(&config);
    d.backup(BackupKind::Manual, None, |_| {}).unwrap();
}

fn child(config: &Path, umask0: bool) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "it::backup::backup_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, config)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    if umask0 {
        cmd.env("OPS_BACKUP_TEST_UMASK0", "1");
    }
    cmd.spawn().unwrap()
}

fn killed_scenario(engine: Engine, test: &str) {
    let Some(engine) = engine.available(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    fill(&data);
    for i in 0..200 {
        std::fs::write(
            data.join(format!("small-{i:03}")),
            format!("{i}\n").repeat(100),
        )
        .unwrap();
    }
    let gate = dir.path().join("hook-started");
    let base = format!("paths = [\"{}\"]\nkeep_last = 50\n", data.display());
    let cfg = config(dir.path(), "kill", engine, "", &base);
    let d = fake_deployer(&cfg);
    let first = d.backup(BackupKind::Manual, None, |_| {}).unwrap();
    assert!(first.verified());
    let config_path = dir.path().join("deploy.toml");
    let text = std::fs::read_to_string(&config_path).unwrap();

    // Killed in the pre_backup hook (a point we can see), then at a series of moments.
    std::fs::write(
        &config_path,
        text.replace(
            &base,
            &format!(
                "{base}pre_backup = \"touch '{}'; sleep 2\"\n",
                gate.display()
            ),
        ),
    )
    .unwrap();
    let mut c = child(&config_path, false);
    ops_testkit::net::wait_until(Duration::from_secs(30), "the hook to start", || {
        gate.exists().then_some(())
    });
    c.kill().unwrap();
    c.wait().unwrap();
    std::fs::write(&config_path, &text).unwrap();
    let mut kinds = Vec::new();
    for delay_ms in [0u64, 30, 80, 150, 250, 400, 700] {
        let before = d.backups().unwrap().records.len();
        let mut c = child(&config_path, false);
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(delay_ms));
        c.kill().unwrap();
        let status = c.wait().unwrap();
        let catalog = d.backups().unwrap();
        assert!(catalog.unreadable.is_empty(), "{:?}", catalog.unreadable);
        // Listed only if complete, and then it restores as recorded.
        let listed = catalog.records.len() > before;
        kinds.push(format!(
            "{delay_ms}ms: {}",
            if status.success() {
                "finished"
            } else if listed {
                "killed after recording"
            } else {
                "killed before recording"
            }
        ));
        eprintln!(
            "{test}: killed after {:?}: listed {listed}",
            started.elapsed()
        );
        if listed {
            let newest = catalog.newest().unwrap().id.clone();
            d.verify_backup(Some(&newest), None, |_| {}).unwrap();
        }
    }
    eprintln!("{test}: {kinds:?}");
    // The first backup is intact; the next backup cleans up and works.
    assert!(
        d.verify_backup(Some(&first.id), None, |_| {})
            .unwrap()
            .verified()
    );
    let next = d.backup(BackupKind::Manual, None, |_| {}).unwrap();
    assert!(next.verified());
    let work: Vec<_> = std::fs::read_dir(backup_dir(&cfg).join("work"))
        .unwrap()
        .collect();
    assert!(work.is_empty(), "{work:?}");
    let catalog = d.backups().unwrap();
    let ids: Vec<String> = catalog.records.iter().map(|r| r.id.clone()).collect();
    match engine {
        Engine::Archive => {
            let mut files: Vec<String> = std::fs::read_dir(backup_dir(&cfg).join("archives"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            let mut expected: Vec<String> = ids.iter().map(|i| format!("{i}.tar")).collect();
            expected.sort();
            assert_eq!(files, expected, "no leftover archive, none missing");
        }
        Engine::Restic => {
            let snapshots = restic(&cfg, &["snapshots", "--json"]);
            let v: serde_json::Value = serde_json::from_str(&snapshots).unwrap();
            assert_eq!(
                v.as_array().unwrap().len(),
                ids.len(),
                "no orphan snapshot: {snapshots}"
            );
        }
    }
}

/// Runs restic on the test's local repository.
fn restic(config: &DeployConfig, args: &[&str]) -> String {
    let dir = backup_dir(config);
    let out = Command::new("restic")
        .args(args)
        .env("RESTIC_REPOSITORY", dir.join("restic"))
        .env("RESTIC_PASSWORD_FILE", dir.join("restic.password"))
        .env("RESTIC_CACHE_DIR", dir.join("restic-cache"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", tools::output_text(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn archive_killed_backup_is_never_listed() {
    killed_scenario(Engine::Archive, "archive_killed_backup_is_never_listed");
}

#[test]
fn restic_killed_backup_is_never_listed() {
    killed_scenario(Engine::Restic, "restic_killed_backup_is_never_listed");
}

// ---------------------------------------------------------------------------------------------
// Retention, modes
// ---------------------------------------------------------------------------------------------

fn retention_scenario(engine: Engine, test: &str) {
    let Some(engine) = engine.available(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("a"), "1").unwrap();
    let base = format!("paths = [\"{}\"]\nkeep_last = 2\n", data.display());
    let cfg = config(dir.path(), "keep", engine, "", &base);
    // b1 verified; b2..b5 unverified: b1 stays as the newest verified backup.
    assert!(
        fake_deployer(&cfg)
            .backup(BackupKind::Manual, None, |_| {})
            .unwrap()
            .verified()
    );
    let config_path = dir.path().join("deploy.toml");
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        text.replace(&base, &format!("{base}verify = false\n")),
    )
    .unwrap();
    let unverified = DeployConfig::load(&config_path).unwrap();
    let d = fake_deployer(&unverified);
    let mut deleted = Vec::new();
    for n in 2..=5 {
        std::fs::write(data.join("a"), n.to_string()).unwrap();
        let b = d
            .backup(BackupKind::Manual, None, |e| {
                if let ops_deploy::Event::Note { release, message } = e
                    && *message == "deleted by retention"
                {
                    deleted.push((*release).to_owned());
                }
            })
            .unwrap();
        assert!(!b.verified());
    }
    assert_eq!(deleted, ["keep-b2", "keep-b3"]);
    let ids: Vec<String> = d
        .backups()
        .unwrap()
        .records
        .iter()
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(ids, ["keep-b1", "keep-b4", "keep-b5"]);
    match engine {
        Engine::Archive => {
            assert!(!backup_dir(&cfg).join("archives/keep-b2.tar").exists());
            assert!(backup_dir(&cfg).join("archives/keep-b1.tar").exists());
        }
        Engine::Restic => {
            let v: serde_json::Value =
                serde_json::from_str(&restic(&cfg, &["snapshots", "--json"])).unwrap();
            assert_eq!(v.as_array().unwrap().len(), 3);
        }
    }
    // keep_days keeps everything young; the data of b1 still restores.
    std::fs::write(
        &config_path,
        text.replace(&base, &format!("{base}keep_days = 1\n")),
    )
    .unwrap();
    let young = fake_deployer(&DeployConfig::load(&config_path).unwrap());
    assert!(young.prune_backups(None, |_| {}).unwrap().is_empty());
    young
        .restore(&RestoreRequest::backup("keep-b1"), None, |_| {})
        .unwrap();
    assert_eq!(std::fs::read_to_string(data.join("a")).unwrap(), "1");
    // The data lost entirely: the restore has nothing to keep, and puts it back.
    std::fs::remove_dir_all(&data).unwrap();
    let back = young
        .restore(&RestoreRequest::backup("keep-b1"), None, |_| {})
        .unwrap();
    assert_eq!(std::fs::read_to_string(data.join("a")).unwrap(), "1");
    let safety = young
        .backups()
        .unwrap()
        .get(&back.safety_backup)
        .cloned()
        .unwrap();
    assert_eq!((safety.files, safety.sources.len()), (0, 0));
    assert_eq!(safety.notes, ["data: not there, nothing to back up"]);
}

#[test]
fn archive_retention_keeps_the_newest_verified() {
    retention_scenario(
        Engine::Archive,
        "archive_retention_keeps_the_newest_verified",
    );
}

#[test]
fn restic_retention_keeps_the_newest_verified() {
    retention_scenario(Engine::Restic, "restic_retention_keeps_the_newest_verified");
}

fn modes_scenario(engine: Engine, test: &str) {
    let Some(engine) = engine.available(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    fill(&data);
    let cfg = config(
        dir.path(),
        "modes",
        engine,
        "",
        &format!("paths = [\"{}\"]", data.display()),
    );
    let mut c = child(&dir.path().join("deploy.toml"), true);
    assert!(c.wait().unwrap().success());
    let root = backup_dir(&cfg);
    let mut stack = vec![root.clone()];
    let mut checked = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o777;
            // restic writes its repository's files read-only (0400/0600, dirs 0700).
            if meta.is_dir() {
                assert_eq!(mode, 0o700, "{}", path.display());
                stack.push(path);
            } else {
                assert!(
                    mode == 0o600 || mode == 0o400,
                    "{} is {mode:o}",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 4, "{checked}");
    assert_eq!(
        std::fs::metadata(&root).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn archive_modes_whatever_the_umask() {
    modes_scenario(Engine::Archive, "archive_modes_whatever_the_umask");
}

#[test]
fn restic_modes_whatever_the_umask() {
    modes_scenario(Engine::Restic, "restic_modes_whatever_the_umask");
}

// ---------------------------------------------------------------------------------------------
// Deploys: a failing backup aborts; the service stopped for a backup comes back
// ---------------------------------------------------------------------------------------------

fn failed_backup_aborts_scenario(engine: Engine, test: &str) {
    let Some(engine) = engine.available(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("a"), "1").unwrap();
    let gate = dir.path().join("refuse");
    let service = format!("opsab{}{}", engine.name(), std::process::id());
    let config = config(
        dir.path(),
        &service,
        engine,
        "",
        &format!(
            "when = \"before-deploy\"\npaths = [\"{}\"]\npre_backup = \"test ! -e '{}' || {{ echo dump failed >&2; exit 7; }}\"",
            data.display(),
            gate.display()
        ),
    );
    let backend = super::suite::Backend {
        name: "process",
        runtime_config: String::new(),
        artifact: Box::new(|_| None),
        cleanup: Box::new(|_| {}),
    };
    let _cleanup = Cleanup::new(&backend, &config, &service);
    let d = Deployer::new(config.clone(), config.runtime());
    let release = |n: u32| format!("{service}-{n}");
    assert_eq!(
        d.deploy(&process_release(""), "test", None, |_| {})
            .unwrap(),
        DeployOutcome::Healthy {
            release: release(1)
        }
    );
    std::fs::write(&gate, "").unwrap();
    let outcome = d
        .deploy(&process_release(""), "test", None, |_| {})
        .unwrap();
    let DeployOutcome::Aborted {
        release: r,
        reason,
        running,
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        (r.as_str(), running.as_deref()),
        (release(2).as_str(), Some(release(1).as_str()))
    );
    assert_eq!(reason.kind(), "backup");
    let text = reason.to_string();
    assert!(text.starts_with("pre_backup hook `test ! -e"), "{text}");
    assert!(
        text.contains("exit status: 7") && text.contains("dump failed"),
        "{text}"
    );
    assert_eq!(outcome.exit_code(), 1);
    let history = History::load(&config.history_path(), &service).unwrap();
    let aborted = history.get(&release(2)).unwrap();
    assert_eq!(aborted.outcome, Outcome::Failed);
    assert_eq!(aborted.backup, None);
    assert!(
        aborted
            .reason
            .as_deref()
            .unwrap()
            .starts_with("aborted: pre_backup hook")
    );
    assert_eq!(
        super::suite::serving(ops_testkit::net::local(config.port)),
        Some(release(1))
    );
    assert_eq!(
        d.backups().unwrap().records.len(),
        1,
        "nothing listed for the failed backup"
    );
    // A source that is gone fails the same way.
    std::fs::remove_file(&gate).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
    let outcome = d
        .deploy(&process_release(""), "test", None, |_| {})
        .unwrap();
    assert_eq!(
        outcome.reason().map(ops_deploy::FailureReason::kind),
        Some("backup")
    );
    assert_eq!(
        super::suite::serving(ops_testkit::net::local(config.port)),
        Some(release(1))
    );
}

#[test]
fn archive_failed_backup_aborts_the_deploy() {
    failed_backup_aborts_scenario(Engine::Archive, "archive_failed_backup_aborts_the_deploy");
}

#[test]
fn restic_failed_backup_aborts_the_deploy() {
    failed_backup_aborts_scenario(Engine::Restic, "restic_failed_backup_aborts_the_deploy");
}

/// `stop_service`: the release is stopped while the data is copied and brought back, also
/// when the copy fails; a stop left by a killed backup is undone by the next one.
fn stop_service_scenario(engine: Engine, test: &str) {
    let Some(engine) = engine.available(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("a"), "1").unwrap();
    let service = format!("opsss{}{}", engine.name(), std::process::id());
    let config = config(
        dir.path(),
        &service,
        engine,
        "",
        &format!("paths = [\"{}\"]\nstop_service = true", data.display()),
    );
    let backend = super::suite::Backend {
        name: "process",
        runtime_config: String::new(),
        artifact: Box::new(|_| None),
        cleanup: Box::new(|_| {}),
    };
    let _cleanup = Cleanup::new(&backend, &config, &service);
    let d = Deployer::new(config.clone(), config.runtime());
    assert!(matches!(
        d.deploy(&process_release(""), "test", None, |_| {})
            .unwrap(),
        DeployOutcome::Healthy { .. }
    ));
    let first = d.current().unwrap();
    let mut notes = Vec::new();
    d.backup(BackupKind::Manual, None, |e| {
        if let ops_deploy::Event::Note { message, .. } = e {
            notes.push((*message).to_owned());
        }
    })
    .unwrap();
    assert!(
        notes.contains(&"stopping it while its data is copied".to_owned()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"running and healthy again".to_owned()),
        "{notes:?}"
    );
    let second = d.current().unwrap();
    assert_ne!(first.id, second.id, "a new process");
    assert!(config.runtime().is_running(&second));
    // The copy fails (an unreadable file): brought back all the same.
    std::fs::write(data.join("secret"), "x").unwrap();
    std::fs::set_permissions(data.join("secret"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let is_root = unsafe { libc::geteuid() } == 0;
    if !is_root {
        assert!(d.backup(BackupKind::Manual, None, |_| {}).is_err());
        assert!(config.runtime().is_running(&d.current().unwrap()));
    }
    std::fs::remove_file(data.join("secret")).unwrap();
    // A stop left behind (as by a kill -9 during the copy): the next backup starts it first.
    let running = d.current().unwrap();
    config
        .runtime()
        .stop(&running, Duration::from_secs(2))
        .unwrap();
    std::fs::remove_file(config.current_path()).unwrap();
    std::fs::write(
        backup_dir(&config).join("service-stopped.json"),
        format!(
            "{{\"release\":\"{}\",\"port\":{}}}",
            running.release, running.port
        ),
    )
    .unwrap();
    d.backup(BackupKind::Manual, None, |_| {}).unwrap();
    assert!(config.runtime().is_running(&d.current().unwrap()));
    assert!(!backup_dir(&config).join("service-stopped.json").exists());
}

#[test]
fn archive_stop_service_brings_it_back() {
    stop_service_scenario(Engine::Archive, "archive_stop_service_brings_it_back");
}

#[test]
fn restic_stop_service_brings_it_back() {
    stop_service_scenario(Engine::Restic, "restic_stop_service_brings_it_back");
}

// ---------------------------------------------------------------------------------------------
// Config and names
// ---------------------------------------------------------------------------------------------

#[test]
fn backup_config_is_checked_at_load() {
    let base = "service = \"web\"\nport = 8080\n";
    let load =
        |extra: &str| DeployConfig::from_toml(&format!("{base}{extra}"), Path::new("deploy.toml"));
    let shorthand = load("runtime = \"docker\"\nvolumes = [\"web-data:/data\", \"/srv/x:/x\"]\nbackup = \"before-deploy\"\n").unwrap();
    let b = shorthand.backup.as_ref().unwrap();
    assert_eq!(b.when, ops_deploy::backup::BackupWhen::BeforeDeploy);
    assert_eq!((b.keep_last, b.max_age), (7, Duration::from_hours(26)));
    // It serializes as a table that loads into an equal config.
    let text = toml::to_string(&shorthand).unwrap();
    assert_eq!(
        DeployConfig::from_toml(&text, Path::new("x.toml")).unwrap(),
        shorthand
    );
    for (extra, what) in [
        ("backup = \"sometimes\"\n", "backup \"sometimes\""),
        ("backup = \"before-deploy\"\n", "nothing to back up"),
        ("[backup]\nvolumes = [\"-v\"]\n", "backup.volumes \"-v\""),
        (
            "[backup]\nvolumes = [\"../etc\"]\n",
            "backup.volumes \"../etc\"",
        ),
        (
            "[backup]\npaths = [\"/srv/a/data\", \"/srv/b/data\"]\n",
            "two sources are named \"data\"",
        ),
        ("[backup]\npaths = [\"/\"]\n", "backup.paths"),
        (
            "[backup]\npaths = [\"/srv/d\"]\nkeep_last = 0\n",
            "keep_last",
        ),
        (
            "[backup]\npaths = [\"/srv/d\"]\nmax_age = \"500000000000years\"\n",
            "max_age",
        ),
        (
            "[backup]\npaths = [\"/srv/d\"]\nhelper_image = \"--privileged\"\n",
            "helper_image",
        ),
        (
            "[backup]\npaths = [\"/srv/d\"]\n[backup.restic]\ncheck_subset = \"10% --x\"\n",
            "check_subset",
        ),
        (
            "[backup]\npaths = [\"/srv/d\"]\n[backup.restic]\nrepository = \"/mnt/r\"\n",
            "needs password_file",
        ),
        (
            "[backup]\npaths = [\"/srv/d\"]\n[backup.restic]\npassword = \"hunter2\"\n",
            "unknown field `password`",
        ),
        (
            "[backup]\npaths = [\"/srv/d\"]\nengine = \"borg\"\n",
            "unknown variant `borg`",
        ),
    ] {
        let err = load(extra).unwrap_err().to_string();
        assert!(err.contains(what), "{extra}: {err}");
    }
    // Backups that are not configured, and ids that are not in the catalogue or not safe.
    let d = fake_deployer(&load("").unwrap());
    assert!(matches!(d.backups(), Err(Error::BackupsNotConfigured)));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let cfg = config(
        dir.path(),
        "names",
        Engine::Archive,
        "",
        &format!("paths = [\"{}\"]", dir.path().join("data").display()),
    );
    let d = fake_deployer(&cfg);
    for id in ["names-b9", "../../etc/passwd"] {
        assert!(
            matches!(
                d.verify_backup(Some(id), None, |_| {}),
                Err(Error::UnknownBackup { .. })
            ),
            "{id}"
        );
        assert!(
            d.restore(&RestoreRequest::backup(id), None, |_| {})
                .is_err()
        );
    }
    // A record whose id could leave the directory is refused when read, and shown.
    let records = backup_dir(&cfg).join("records");
    std::fs::create_dir_all(&records).unwrap();
    std::fs::write(records.join("evil.json"), "{\"id\":\"../evil\"}").unwrap();
    let catalog = d.backups().unwrap();
    assert!(catalog.records.is_empty());
    assert_eq!(catalog.unreadable.len(), 1, "{:?}", catalog.unreadable);
    // A backup directory inside the source is refused.
    let nested = config(
        dir.path(),
        "nested",
        Engine::Archive,
        "",
        &format!(
            "paths = [\"{}\"]\ndir = \"{}\"",
            dir.path().join("data").display(),
            dir.path().join("data/backups").display()
        ),
    );
    let err = fake_deployer(&nested)
        .backup(BackupKind::Manual, None, |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("it holds the backup directory"), "{err}");
}

/// The age alert: no verified backup, a fresh one, one older than `max_age`.
#[test]
fn the_age_of_the_newest_verified_backup() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let cfg = config(
        dir.path(),
        "age",
        Engine::Archive,
        "",
        &format!(
            "paths = [\"{}\"]\nmax_age = \"1h\"",
            dir.path().join("data").display()
        ),
    );
    let d = fake_deployer(&cfg);
    let now = std::time::SystemTime::now();
    let none = d.backup_status(now).unwrap();
    assert!(none.stale());
    assert_eq!(
        none.summary(),
        "CRITICAL: no verified backup of age (0 backups)"
    );
    d.backup(BackupKind::Manual, None, |_| {}).unwrap();
    // As recorded (milliseconds).
    let at = d.backups().unwrap().records[0]
        .verification
        .as_ref()
        .unwrap()
        .at;
    let fresh = d.backup_status(at + Duration::from_mins(2)).unwrap();
    assert!(!fresh.stale());
    assert_eq!(
        fresh.summary(),
        "OK: newest verified backup age-b1 verified 2m ago (limit 1h)"
    );
    let page = fresh.to_prometheus();
    for line in [
        "ops_backup_last_verified_age_seconds{service=\"age\"} 120\n",
        "ops_backup_verified_max_age_seconds{service=\"age\"} 3600\n",
        "ops_backup_verified_stale{service=\"age\"} 0\n",
        "ops_backup_last_verification_success{service=\"age\"} 1\n",
        "# TYPE ops_backup_last_success_timestamp_seconds gauge\n",
        "# TYPE ops_backup_last_verify_duration_seconds gauge\n",
    ] {
        assert!(page.contains(line), "{line} missing from\n{page}");
    }
    assert!(ops_core::exposition::families(&page).is_ok());
    if let Some(promtool) = ops_testkit::promtool::find("the_age_of_the_newest_verified_backup") {
        ops_testkit::promtool::assert_clean_metrics(&promtool, &page);
    }
    let old = d.backup_status(at + Duration::from_hours(2)).unwrap();
    assert!(old.stale());
    assert_eq!(
        old.summary(),
        "CRITICAL: newest verified backup age-b1 verified 2h ago (limit 1h)"
    );
}

/// Data comes back on an automatic rollback only with `restore_on_rollback = true`: a
/// release whose `pre_deploy` hook migrates the data and then fails its health check.
fn restore_on_rollback_scenario(engine: Engine, test: &str) {
    let Some(engine) = engine.available(test) else {
        return;
    };
    for restore in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("schema"), "v1").unwrap();
        let cfg = config(
            dir.path(),
            "rb",
            engine,
            &format!(
                "[hooks]\npre_deploy = \"test \\\"$OPS_ARTIFACT\\\" != web:2 || echo v2 > '{}'\"",
                data.join("schema").display()
            ),
            &format!(
                "when = \"before-deploy\"\npaths = [\"{}\"]\nrestore_on_rollback = {restore}",
                data.display()
            ),
        );
        let runtime =
            FakeRuntime::new().artifact("web:2", ops_deploy::FakeBehavior::UnhealthyAfter(0));
        let d = Deployer::new(cfg.clone(), runtime.clone());
        assert!(matches!(
            d.deploy("web:1", "test", None, |_| {}).unwrap(),
            DeployOutcome::Healthy { .. }
        ));
        let mut notes = Vec::new();
        let outcome = d
            .deploy("web:2", "test", None, |e| {
                if let ops_deploy::Event::Note { message, .. } = e {
                    notes.push((*message).to_owned());
                }
            })
            .unwrap();
        assert!(
            matches!(&outcome, DeployOutcome::RolledBack { restored, .. } if restored == "rb-1"),
            "{outcome:?}"
        );
        let schema = std::fs::read_to_string(data.join("schema")).unwrap();
        if restore {
            assert_eq!(schema, "v1");
            assert!(
                notes.contains(&"restore_on_rollback: backup rb-b2 restored (the data it replaced is backup rb-b3)".to_owned()),
                "{notes:?}"
            );
            assert_eq!(runtime.running(), ["rb-1"]);
        } else {
            assert_eq!(schema, "v2\n", "never restored unless configured");
            assert_eq!(d.backups().unwrap().records.len(), 2);
        }
    }
}

#[test]
fn archive_restore_on_rollback_only_when_configured() {
    restore_on_rollback_scenario(
        Engine::Archive,
        "archive_restore_on_rollback_only_when_configured",
    );
}

#[test]
fn restic_restore_on_rollback_only_when_configured() {
    restore_on_rollback_scenario(
        Engine::Restic,
        "restic_restore_on_rollback_only_when_configured",
    );
}
