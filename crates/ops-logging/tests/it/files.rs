//! The file policy under attack and accident: links planted before start and swapped during a
//! run, umask 000, `/dev/null`, `/dev/stdout` and FIFO links, hard links and other owners,
//! truncation from outside followed by a full disk, stream names that collide.

use std::io::Read as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use ops_logging::{Error, Logging, Stream};
use tracing::dispatcher::with_default;

use super::util::{log_padded, logger, one_file, read_lines};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn messages(path: &Path) -> Vec<String> {
    read_lines(path)
        .iter()
        .map(|l| l.get("message").as_str().unwrap().to_owned())
        .collect()
}

/// Runs one test of this binary in a child process with `env` set (for process-wide state:
/// the umask, stdout), and returns the child's stdout after checking it passed.
fn run_child(test: &str, env: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1"])
        .env(env, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && text.contains("1 passed"),
        "child {test}:\n{text}"
    );
    stdout
}

fn planted(dir: &Path) -> (PathBuf, &'static str) {
    let victim = dir.join("victim.txt");
    let content = "the victim's own text\n";
    std::fs::write(&victim, content).unwrap();
    (victim, content)
}

#[test]
fn a_log_path_planted_as_a_link_to_a_file_is_refused_at_start() {
    let base = tempfile::tempdir().unwrap();
    let (victim, content) = planted(base.path());
    for name in ["svc.log", "access.log", "error.log", "audit.log"] {
        let dir = base.path().join(name.replace('.', "-"));
        std::fs::create_dir(&dir).unwrap();
        let link = dir.join(name);
        symlink(&victim, &link).unwrap();
        let err = logger(&dir).build().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "refusing to log through the symbolic link {} -> {}: only links to a character device or FIFO are followed (remove the link, or opt in with follow_links(true))",
                link.display(),
                victim.display()
            )
        );
        assert!(
            matches!(&err, Error::Symlink { path, target } if *path == link && *target == victim),
            "{err:?}"
        );
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), content);
}

#[test]
fn a_dangling_link_is_refused_and_its_target_never_created() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("made-by-the-logger");
    symlink(&target, dir.path().join("audit.log")).unwrap();
    let err = logger(dir.path()).build().unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err}");
    assert!(!target.exists());
}

#[test]
fn follow_links_opts_in() {
    let dir = tempfile::tempdir().unwrap();
    let (victim, content) = planted(dir.path());
    symlink(&victim, dir.path().join("svc.log")).unwrap();
    let target = dir.path().join("created-on-purpose.log");
    symlink(&target, dir.path().join("audit.log")).unwrap();
    let (dispatch, guard) = logger(dir.path()).follow_links(true).build().unwrap();
    with_default(&dispatch, || {
        tracing::info!("through the link");
        tracing::info!(target: "audit", "audited through the link");
    });
    guard.flush().unwrap();
    let text = std::fs::read_to_string(&victim).unwrap();
    assert!(text.starts_with(content) && text.contains("through the link"));
    assert_eq!(messages(&target), ["audited through the link"]);
    assert_eq!(mode(&target), 0o600);
}

#[test]
fn hard_links_and_files_of_other_users_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (victim, _) = planted(dir.path());
    std::fs::hard_link(&victim, dir.path().join("svc.log")).unwrap();
    let err = logger(dir.path()).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "refusing to log to {}: it has 2 hard links: the same lines would be readable under another name",
            dir.path().join("svc.log").display()
        )
    );
    std::fs::remove_file(dir.path().join("svc.log")).unwrap();

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped the other-owner half: giving a file away needs root");
        return;
    }
    let theirs = dir.path().join("svc.log");
    std::fs::write(&theirs, "").unwrap();
    std::os::unix::fs::chown(&theirs, Some(65_534), None).unwrap();
    let err = logger(dir.path()).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "refusing to log to {}: it is owned by uid 65534, neither this process's user (0) nor root: that user could read every line",
            theirs.display()
        )
    );
    std::fs::remove_file(&theirs).unwrap();
    let fifo = dir.path().join("pipe");
    mkfifo(&fifo);
    std::os::unix::fs::chown(&fifo, Some(65_534), None).unwrap();
    symlink(&fifo, &theirs).unwrap();
    let _reader = fifo_reader(&fifo);
    let err = logger(dir.path()).build().unwrap_err();
    assert!(
        matches!(&err, Error::UnsafeFile { reason, .. } if reason.starts_with("is a FIFO owned by uid 65534")),
        "{err}"
    );
}

/// A log file swapped for a link while the logger runs: the reopen refuses it, the lines are
/// counted as lost, and logging resumes into a fresh file once the link is gone.
#[test]
fn a_link_swapped_in_during_a_run_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let (victim, content) = planted(dir.path());
    let (dispatch, guard) = logger(dir.path()).build().unwrap();
    let log = dir.path().join("svc.log");
    let audit = dir.path().join("audit.log");
    with_default(&dispatch, || {
        tracing::info!("first");
        tracing::info!(target: "audit", "audit first");
    });
    guard.flush().unwrap();
    for path in [&log, &audit] {
        std::fs::remove_file(path).unwrap();
        symlink(&victim, path).unwrap();
    }
    let dangling = dir.path().join("never-created");
    std::fs::remove_file(dir.path().join("access.log")).unwrap();
    symlink(&dangling, dir.path().join("access.log")).unwrap();
    with_default(&dispatch, || {
        tracing::info!("second");
        tracing::info!(target: "audit", "audit second");
        ops_logging::log_request("GET", "/", 200, 1.0, None);
    });
    guard.flush().unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), content);
    assert!(!dangling.exists());
    let stats = guard.stats();
    for stream in [Stream::Main, Stream::Audit, Stream::Access] {
        let s = stats.stream(stream);
        assert_eq!(s.lost, 1, "{stream:?}: {s:?}");
        assert!(s.write_errors >= 1, "{stream:?}: {s:?}");
    }
    for path in [&log, &audit] {
        std::fs::remove_file(path).unwrap();
    }
    with_default(&dispatch, || {
        tracing::info!("third");
        tracing::info!(target: "audit", "audit third");
    });
    guard.flush().unwrap();
    assert_eq!(messages(&log), ["third"]);
    assert_eq!(messages(&audit), ["audit third"]);
    assert_eq!(mode(&audit), 0o600);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), content);
}

/// Rotation renames links themselves: a link planted at a backup name is replaced, never
/// written through.
#[test]
fn rotation_never_writes_through_a_planted_backup_link() {
    let dir = tempfile::tempdir().unwrap();
    let (victim, content) = planted(dir.path());
    symlink(&victim, dir.path().join("svc.log.1")).unwrap();
    symlink(&victim, dir.path().join("svc.log.2")).unwrap();
    let (dispatch, guard) = one_file(dir.path(), 300, 2);
    log_padded(&dispatch, 10, &"x".repeat(40), "rotating");
    guard.flush().unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), content);
    for name in ["svc.log", "svc.log.1", "svc.log.2"] {
        let meta = std::fs::symlink_metadata(dir.path().join(name)).unwrap();
        assert!(meta.file_type().is_file(), "{name} is a regular file");
        assert!(!read_lines(&dir.path().join(name)).is_empty(), "{name}");
    }
    assert!(guard.stats().stream(Stream::Main).rotations >= 3);
}

const UMASK_CHILD: &str = "OPS_LOGGING_UMASK_CHILD";

/// Under umask 000 (in a child process: the umask is process-wide), directories are created
/// 0750 and files 0640 / 0600; an existing audit.log left 0666 and a service log 0666 are
/// tightened, each reported once in the file itself.
#[test]
fn under_umask_000_directories_are_0750_and_loose_files_are_tightened_once() {
    if std::env::var(UMASK_CHILD).is_err() {
        run_child(
            "it::files::under_umask_000_directories_are_0750_and_loose_files_are_tightened_once",
            UMASK_CHILD,
        );
        return;
    }
    // SAFETY: umask has no preconditions; this child process runs this test alone.
    unsafe { libc::umask(0) };
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("a/b/logs");
    let (dispatch, guard) = logger(&dir).max_bytes(300).backups(1).build().unwrap();
    with_default(&dispatch, || {
        for i in 0..4 {
            tracing::warn!(
                i,
                pad = "................................................",
                "warned"
            );
            tracing::info!(target: "audit", i, pad = "..........................................", "audited");
            ops_logging::log_request("GET", "/", 200, 1.0, None);
        }
    });
    guard.flush().unwrap();
    for d in ["a", "a/b", "a/b/logs"] {
        assert_eq!(mode(&base.path().join(d)), 0o750, "{d}");
    }
    for (name, want) in [
        ("svc.log", 0o640),
        ("svc.log.1", 0o640),
        ("access.log", 0o640),
        ("error.log", 0o640),
        ("error.log.1", 0o640),
        ("audit.log", 0o600),
        ("audit.log.1", 0o600),
    ] {
        assert_eq!(mode(&dir.join(name)), want, "{name}");
    }
    drop(guard);

    // Existing files and directory, all loose.
    let pre = base.path().join("pre");
    std::fs::create_dir(&pre).unwrap();
    assert_eq!(mode(&pre), 0o777);
    let open_0666 = |name: &str| {
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o666)
            .open(pre.join(name))
            .unwrap();
        assert_eq!(mode(&pre.join(name)), 0o666);
    };
    open_0666("audit.log");
    open_0666("svc.log");
    let (dispatch, guard) = logger(&pre).build().unwrap();
    with_default(&dispatch, || tracing::info!(target: "audit", "audited"));
    guard.flush().unwrap();
    with_default(
        &dispatch,
        || tracing::info!(target: "audit", "audited again"),
    );
    guard.flush().unwrap();
    drop(guard);
    assert_eq!(mode(&pre.join("audit.log")), 0o600);
    assert_eq!(mode(&pre.join("svc.log")), 0o640);
    assert_eq!(mode(&pre), 0o777, "an existing directory is left alone");
    let audit = read_lines(&pre.join("audit.log"));
    let kinds: Vec<&str> = audit
        .iter()
        .map(|l| l.get("message").as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["log file mode tightened", "audited", "audited again"]
    );
    assert_eq!(audit[0].get("level"), "warn");
    assert_eq!(audit[0].get("mode_was"), "0666");
    assert_eq!(audit[0].get("mode"), "0600");
    assert_eq!(
        audit[0].get("path").as_str().unwrap(),
        pre.join("audit.log").to_str().unwrap()
    );
    assert_eq!(messages(&pre.join("svc.log")), ["log file mode tightened"]);
}

/// bpo-45401: a log path linked to /dev/null is written to and never rotated, renamed or
/// replaced.
#[test]
fn a_link_to_dev_null_is_written_and_never_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("svc.log");
    symlink("/dev/null", &log).unwrap();
    let (dispatch, guard) = one_file(dir.path(), 200, 3);
    log_padded(&dispatch, 100, &".".repeat(48), "to nowhere");
    guard.flush().unwrap();
    assert_eq!(std::fs::read_link(&log).unwrap(), Path::new("/dev/null"));
    assert!(std::fs::symlink_metadata(dir.path().join("svc.log.1")).is_err());
    let main = guard.stats().stream(Stream::Main);
    assert_eq!((main.written, main.lost, main.rotations), (100, 0, 0));
}

/// Reads a FIFO opened without blocking until every writer has closed it.
fn read_fifo_to_end(mut reader: std::fs::File) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the writer never closed"
                );
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(e) => panic!("{e}"),
        }
    }
    String::from_utf8(out).unwrap()
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

fn fifo_reader(fifo: &Path) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(fifo)
        .unwrap()
}

#[test]
fn a_fifo_or_a_link_to_one_is_written_and_never_rotated() {
    for linked in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("svc.log");
        let fifo = if linked {
            dir.path().join("pipe")
        } else {
            log.clone()
        };
        mkfifo(&fifo);
        if linked {
            symlink(&fifo, &log).unwrap();
        }
        let err = logger(dir.path())
            .separate_streams(false)
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, Error::UnsafeFile { reason, .. } if reason.contains("FIFO with no reader")),
            "{err}"
        );
        let reader = fifo_reader(&fifo);
        let (dispatch, guard) = one_file(dir.path(), 200, 2);
        let reading = std::thread::spawn(move || read_fifo_to_end(reader));
        log_padded(&dispatch, 50, &".".repeat(48), "piped");
        guard.flush().unwrap();
        let main = guard.stats().stream(Stream::Main);
        drop(guard);
        drop(dispatch);
        let text = reading.join().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 50, "linked {linked}");
        for (i, line) in lines.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["i"], i);
        }
        assert_eq!((main.written, main.rotations), (50, 0));
        let meta = std::fs::symlink_metadata(&log).unwrap();
        assert_eq!(meta.file_type().is_symlink(), linked);
        assert!(std::fs::symlink_metadata(dir.path().join("svc.log.1")).is_err());
    }
}

const STDOUT_CHILD: &str = "OPS_LOGGING_STDOUT_CHILD";

/// The container pattern: `svc.log -> /dev/stdout`, stdout a pipe. Run in a child whose
/// stdout the test reads.
#[test]
fn a_link_to_dev_stdout_writes_to_stdout_and_is_never_rotated() {
    if std::env::var(STDOUT_CHILD).is_err() {
        let stdout = run_child(
            "it::files::a_link_to_dev_stdout_writes_to_stdout_and_is_never_rotated",
            STDOUT_CHILD,
        );
        let lines: Vec<serde_json::Value> = stdout
            .lines()
            .filter_map(|l| l.find("{\"timestamp\"").map(|at| &l[at..]))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 20, "{stdout}");
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(line["message"], "to stdout");
            assert_eq!(line["i"], i);
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("svc.log");
    symlink("/dev/stdout", &log).unwrap();
    let (dispatch, guard) = logger(dir.path())
        .separate_streams(false)
        .max_bytes(200)
        .build()
        .unwrap();
    with_default(&dispatch, || {
        for i in 0..20 {
            tracing::info!(i, "to stdout");
        }
    });
    guard.flush().unwrap();
    let main = guard.stats().stream(Stream::Main);
    assert_eq!((main.written, main.rotations, main.lost), (20, 0, 0));
    assert_eq!(std::fs::read_link(&log).unwrap(), Path::new("/dev/stdout"));
    assert!(std::fs::symlink_metadata(dir.path().join("svc.log.1")).is_err());
}

/// A tmpfs of 64 KiB mounted for one test, unmounted when dropped.
struct SmallTmpfs(PathBuf);

impl SmallTmpfs {
    fn mount(test: &str, dir: &Path) -> Option<SmallTmpfs> {
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k,mode=0750", "tmpfs"])
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success());
        ops_testkit::tools::available(
            test,
            "a 64 KiB tmpfs (mount -t tmpfs, which needs root)",
            mounted,
        )
        .then(|| SmallTmpfs(dir.to_path_buf()))
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Fills the file system at `dir`, then frees one page (4 KiB).
fn fill_leaving_one_page(dir: &Path) -> PathBuf {
    use std::io::Write as _;
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let page = [b'f'; 4096];
    loop {
        match f.write(&page) {
            Ok(n) if n == page.len() => {}
            Ok(_) | Err(_) => break,
        }
    }
    let len = std::fs::metadata(&filler).unwrap().len();
    f.set_len(len / 4096 * 4096 - 4096).unwrap();
    filler
}

/// The NUL-byte bug: the file truncated from outside (copytruncate), then the disk filling in
/// the middle of a line. The partial line is cut back to the file's real end, never to the size
/// it had before the truncation: no NUL byte, no broken line, and later lines whole.
#[test]
fn truncation_from_outside_then_a_full_disk_leaves_only_whole_lines() {
    const TEST: &str = "truncation_from_outside_then_a_full_disk_leaves_only_whole_lines";
    let base = tempfile::tempdir().unwrap();
    let mnt = base.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let Some(_tmpfs) = SmallTmpfs::mount(TEST, &mnt) else {
        return;
    };
    let log = mnt.join("svc.log");
    let (dispatch, guard) = logger(&mnt)
        .separate_streams(false)
        .max_bytes(0)
        .build()
        .unwrap();
    let pad = ".".repeat(150);
    with_default(&dispatch, || {
        for i in 0..100 {
            tracing::info!(i, pad = pad.as_str(), "before");
        }
    });
    guard.flush().unwrap();
    let before = std::fs::metadata(&log).unwrap().len();
    assert!(before > 20_000, "{before}");
    // copytruncate, as logrotate does it
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    let filler = fill_leaving_one_page(&mnt);
    let big = "y".repeat(6_000);
    with_default(&dispatch, || {
        tracing::info!(pad = big.as_str(), "too big for the disk");
    });
    guard.flush().unwrap();
    let bytes = std::fs::read(&log).unwrap();
    assert!(
        bytes.is_empty(),
        "{} bytes left: {:?}",
        bytes.len(),
        String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
    );
    let main = guard.stats().stream(Stream::Main);
    assert_eq!((main.written, main.lost), (100, 1));
    assert!(main.write_errors >= 1);

    with_default(&dispatch, || {
        for i in 0..5 {
            tracing::info!(i, "fits in the page left");
        }
    });
    guard.flush().unwrap();
    std::fs::remove_file(&filler).unwrap();
    with_default(&dispatch, || tracing::info!("after the disk was freed"));
    guard.flush().unwrap();
    let bytes = std::fs::read(&log).unwrap();
    assert!(!bytes.contains(&0), "a NUL byte in the file");
    assert_eq!(
        messages(&log),
        [
            "fits in the page left",
            "fits in the page left",
            "fits in the page left",
            "fits in the page left",
            "fits in the page left",
            "after the disk was freed"
        ]
    );
    let main = guard.stats().stream(Stream::Main);
    assert_eq!((main.written, main.lost), (106, 1));
    drop(guard);
}

/// A service named like a stream's file writes its own lines to `<service>-main.log`; the
/// stream's file keeps only the stream's lines (and audit.log stays 0600).
#[test]
fn a_service_named_like_a_stream_never_shares_its_file() {
    for name in ["access", "error", "audit", "main"] {
        let dir = tempfile::tempdir().unwrap();
        let (dispatch, guard) = Logging::builder(name)
            .dir(dir.path())
            .console(false)
            .ignore_env()
            .build()
            .unwrap();
        with_default(&dispatch, || {
            tracing::info!("ordinary");
            tracing::warn!("warned");
            tracing::info!(target: "audit", "audited");
            ops_logging::log_request("GET", "/", 200, 1.0, None);
        });
        guard.flush().unwrap();
        let main_file = if name == "main" {
            dir.path().join("main.log")
        } else {
            dir.path().join(format!("{name}-main.log"))
        };
        assert_eq!(
            guard.path(Stream::Main),
            Some(main_file.as_path()),
            "{name}"
        );
        assert_eq!(messages(&main_file), ["ordinary", "warned"], "{name}");
        assert_eq!(
            messages(&dir.path().join("access.log")),
            ["HTTP Request"],
            "{name}"
        );
        assert_eq!(
            messages(&dir.path().join("error.log")),
            ["warned"],
            "{name}"
        );
        assert_eq!(
            messages(&dir.path().join("audit.log")),
            ["audited"],
            "{name}"
        );
        assert_eq!(mode(&dir.path().join("audit.log")), 0o600, "{name}");
        assert_eq!(mode(&main_file), 0o640, "{name}");
        for s in [Stream::Access, Stream::Error, Stream::Audit] {
            assert_eq!(
                guard.path(s),
                Some(dir.path().join(format!("{}.log", s.name())).as_path())
            );
        }
    }
    // One file only: no collision, the service's name as is.
    let dir = tempfile::tempdir().unwrap();
    let (_, guard) = Logging::builder("audit")
        .dir(dir.path())
        .console(false)
        .separate_streams(false)
        .build()
        .unwrap();
    assert_eq!(
        guard.path(Stream::Main),
        Some(dir.path().join("audit.log").as_path())
    );
    assert_eq!(guard.path(Stream::Audit), None);
    assert_eq!(
        std::fs::metadata(dir.path().join("audit.log"))
            .unwrap()
            .mode()
            & 0o777,
        0o640
    );
}
