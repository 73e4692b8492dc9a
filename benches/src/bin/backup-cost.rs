//! What a backup and its verification cost: 1 GiB of mixed files (many small, a few large,
//! generated pseudo-random so nothing compresses or deduplicates), backed up and verified by
//! ops-deploy's built-in archive engine and by restic, beside plain `tar` of the same data —
//! all in one run, on the same disk.
//!
//! `cargo run --release -p ops-benches --bin backup-cost [-- --size-mib N] [--dir DIR]`
//!
//! Each figure is the wall time of one run (the page cache is warm after generation: the data
//! is read from memory; writes go to the disk). For ops-deploy, "backup" is
//! `Deployer::backup` without verification (copy into staging with SHA-256 of every byte, then
//! the engine's store) and "verify" is `Deployer::verify_backup` (a full restore into a scratch
//! directory compared with the manifest; restic also runs `check --read-data-subset 10%`).
//! For tar, "backup" is `tar -cf` and "verify" is `tar -xf` into a scratch directory, `diff -r`
//! against the source and the removal of the scratch copy (the closest plain equivalent of a
//! restore test); "restic CLI alone" is restic run by hand the same way, without ops-deploy's
//! staging copy and manifest.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    missing_docs
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ops_deploy::backup::BackupKind;
use ops_deploy::{DeployConfig, Deployer, FakeRuntime};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// `size` bytes: half in files of 1–16 KiB spread over 100 directories, half in 8 large
/// files. Returns the number of files.
fn generate(dir: &Path, size: u64) -> u64 {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut files = 0u64;
    let small_total = size / 2;
    let mut written = 0u64;
    let mut buf = vec![0u8; 16 * 1024];
    while written < small_total {
        let len = 1024 + (rng.next() % (15 * 1024)) as usize;
        let sub = dir.join(format!("small/d{:02}", files % 100));
        if files < 100 {
            std::fs::create_dir_all(&sub).unwrap();
        }
        rng.fill(&mut buf[..len]);
        std::fs::write(sub.join(format!("f{files:06}.dat")), &buf[..len]).unwrap();
        written += len as u64;
        files += 1;
    }
    std::fs::create_dir_all(dir.join("large")).unwrap();
    let large = (size - written) / 8;
    let mut chunk = vec![0u8; 1 << 20];
    for i in 0..8 {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(dir.join(format!("large/l{i}.bin"))).unwrap(),
        );
        let mut left = large;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            rng.fill(&mut chunk[..n]);
            f.write_all(&chunk[..n]).unwrap();
            left -= n as u64;
        }
        files += 1;
    }
    files
}

fn du(path: &Path) -> u64 {
    let out = Command::new("du").args(["-sb"]).arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn timed(what: &str, f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    let d = start.elapsed();
    eprintln!("  {what}: {:.2}s", d.as_secs_f64());
    d
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn engine_run(root: &Path, data: &Path, engine: &str) -> (Duration, Duration, u64, u64) {
    let state = root.join(format!("state-{engine}"));
    let text = format!(
        "service = \"bench\"\nstate_dir = \"{}\"\nport = 1\n[backup]\nengine = \"{engine}\"\npaths = [\"{}\"]\nverify = false\n",
        state.display(),
        data.display()
    );
    let config = DeployConfig::from_toml(&text, Path::new("bench.toml")).unwrap();
    let d = Deployer::new(config, FakeRuntime::new());
    let mut record = None;
    let backup = timed(&format!("{engine} backup"), || {
        record = Some(d.backup(BackupKind::Manual, None, |_| {}).unwrap());
    });
    let record = record.unwrap();
    let verify = timed(&format!("{engine} verify"), || {
        let v = d.verify_backup(Some(&record.id), None, |_| {}).unwrap();
        assert!(v.verified());
    });
    let stored = du(&state.join("backups"));
    std::fs::remove_dir_all(&state).unwrap();
    (backup, verify, record.stored_bytes, stored)
}

/// restic by hand on the same data, for reference: `backup` of the directory itself (no
/// staging copy, no manifest), and `restore` + `diff -r` + `rm -r` as the verification.
fn restic_cli(root: &Path, data: &Path) -> (Duration, Duration, u64) {
    let repo = root.join("restic-alone");
    let password = root.join("restic-alone.pass");
    std::fs::write(&password, "bench\n").unwrap();
    let restic = |args: &[&str]| {
        let mut c = Command::new("restic");
        c.args(["--no-cache", "-q"])
            .args(args)
            .env("RESTIC_REPOSITORY", &repo)
            .env("RESTIC_PASSWORD_FILE", &password);
        c
    };
    sh(&mut restic(&["init"]));
    let backup = timed("restic CLI backup", || {
        sh(restic(&["backup", "."]).current_dir(data));
    });
    let scratch = root.join("restic-alone-scratch");
    let verify = timed("restic CLI restore + diff -r + rm -r", || {
        sh(restic(&["restore", "latest", "--target"]).arg(&scratch));
        sh(Command::new("diff").arg("-r").arg(data).arg(&scratch));
        std::fs::remove_dir_all(&scratch).unwrap();
    });
    let stored = du(&repo);
    std::fs::remove_dir_all(&repo).unwrap();
    (backup, verify, stored)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let size_mib: u64 = arg("--size-mib").map_or(1024, |s| s.parse().unwrap());
    let base: PathBuf = arg("--dir").map_or_else(std::env::temp_dir, PathBuf::from);
    let root = tempfile::tempdir_in(base).unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    eprintln!("generating {size_mib} MiB in {}", data.display());
    let files = generate(&data, size_mib << 20);
    let bytes = du(&data);
    eprintln!("{files} files, {bytes} bytes on disk");

    let tar_out = root.path().join("plain.tar");
    let tar_backup = timed("tar -cf", || {
        sh(Command::new("tar")
            .arg("-cf")
            .arg(&tar_out)
            .arg("-C")
            .arg(&data)
            .arg("."));
    });
    let scratch = root.path().join("tar-scratch");
    std::fs::create_dir(&scratch).unwrap();
    let tar_verify = timed("tar -xf + diff -r + rm -r", || {
        sh(Command::new("tar")
            .arg("-xf")
            .arg(&tar_out)
            .arg("-C")
            .arg(&scratch));
        sh(Command::new("diff").arg("-r").arg(&data).arg(&scratch));
        std::fs::remove_dir_all(&scratch).unwrap();
    });
    let tar_size = std::fs::metadata(&tar_out).unwrap().len();
    std::fs::remove_file(&tar_out).unwrap();

    let archive = engine_run(root.path(), &data, "archive");
    let restic_available = Command::new("restic")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let restic = restic_available.then(|| engine_run(root.path(), &data, "restic"));
    let restic_alone = restic_available.then(|| restic_cli(root.path(), &data));

    let mib = bytes as f64 / f64::from(1 << 20);
    println!(
        "backup-cost: {files} files, {mib:.0} MiB (half in 1-16 KiB files, half in 8 large files)"
    );
    println!(
        "{:<28} {:>10} {:>10} {:>12} {:>12} {:>14}",
        "", "backup s", "verify s", "backup MiB/s", "verify MiB/s", "stored MiB"
    );
    let row = |name: &str, b: Duration, v: Duration, stored: u64| {
        println!(
            "{name:<28} {:>10.2} {:>10.2} {:>12.0} {:>12.0} {:>14.0}",
            b.as_secs_f64(),
            v.as_secs_f64(),
            mib / b.as_secs_f64(),
            mib / v.as_secs_f64(),
            stored as f64 / f64::from(1 << 20)
        );
    };
    row(
        "plain tar (-cf / -xf+diff+rm)",
        tar_backup,
        tar_verify,
        tar_size,
    );
    row("ops-deploy archive", archive.0, archive.1, archive.3);
    match (restic, restic_alone) {
        (Some(r), Some(alone)) => {
            row("ops-deploy restic", r.0, r.1, r.3);
            row("restic CLI alone", alone.0, alone.1, alone.2);
        }
        _ => println!("ops-deploy restic: restic not installed"),
    }
}
