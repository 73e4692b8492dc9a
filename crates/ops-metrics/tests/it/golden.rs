//! Golden tests against psutil itself: the same fixture proc trees (and statvfs answers) go to
//! psutil 7.2.2 (`psutil.PROCFS_PATH`, `os.statvfs` patched) and to `ProcSource`, and every
//! figure must be equal to the last bit.
//!
//! Each case under `tests/golden/cases/` is a sequence of proc trees (`steps/0`, `steps/1`, …)
//! sampled in order by one source, so CPU deltas and counter wraps are exercised. psutil's output
//! is committed as `psutil.json`; when python3 with psutil is present (required in CI) the oracle
//! is also run live and must reproduce the committed file.

use std::path::{Path, PathBuf};
use std::process::Command;

use ops_metrics::{FixedFsStat, FsUsage, MetricsSource, NetworkIo, ProcSource, SystemMetrics};
use ops_testkit::tools;
use serde_json::Value;

use super::util::copy_tree;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(golden_dir().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 6, "golden cases missing: {cases:?}");
    cases
}

fn fs_from(case: &Path) -> FixedFsStat {
    let table: Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("statvfs.json")).unwrap()).unwrap();
    let mut fs = FixedFsStat::new();
    for (path, entry) in table.as_object().unwrap() {
        if let Some(errno) = entry.get("error") {
            let kind = match errno.as_str().unwrap() {
                "EACCES" | "EPERM" => std::io::ErrorKind::PermissionDenied,
                "ENOENT" => std::io::ErrorKind::NotFound,
                other => panic!("unknown errno {other} in {}", case.display()),
            };
            fs = fs.with_error(path, kind);
        } else {
            let n = |k: &str| entry[k].as_u64().unwrap();
            fs = fs.with(
                path,
                FsUsage {
                    fragment_size: n("f_frsize"),
                    blocks: n("f_blocks"),
                    blocks_free: n("f_bfree"),
                    blocks_avail: n("f_bavail"),
                    files: n("f_files"),
                    files_free: n("f_ffree"),
                },
            );
        }
    }
    fs
}

/// Samples every step of a case with one `ProcSource`, as the oracle does with one psutil.
fn ours(case: &Path) -> Vec<SystemMetrics> {
    let root = tempfile::tempdir().unwrap();
    let proc_root = root.path().join("proc");
    let mut source = ProcSource::builder()
        .proc_root(&proc_root)
        .fs_stat(fs_from(case))
        .build();
    let mut steps: Vec<PathBuf> = std::fs::read_dir(case.join("steps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    steps.sort_by_key(|p| {
        p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
    });
    steps
        .iter()
        .map(|step| {
            if proc_root.exists() {
                std::fs::remove_dir_all(&proc_root).unwrap();
            }
            copy_tree(step, &proc_root);
            source
                .collect()
                .unwrap_or_else(|e| panic!("{}: {e}", step.display()))
        })
        .collect()
}

fn io_json(n: &NetworkIo) -> Value {
    serde_json::json!({
        "bytes_sent": n.bytes_sent, "bytes_recv": n.bytes_recv,
        "packets_sent": n.packets_sent, "packets_recv": n.packets_recv,
        "errin": n.errin, "errout": n.errout,
        "dropin": n.dropin.unwrap(), "dropout": n.dropout.unwrap(),
    })
}

/// Our sample in the oracle's shape.
fn as_oracle(m: &SystemMetrics) -> Value {
    let mem = &m.memory;
    serde_json::json!({
        "cpu_percent": m.cpu_percent,
        "memory_percent": m.memory_percent,
        "memory": {
            "total": mem.total, "available": mem.available, "used": mem.used, "free": mem.free,
            "buffers": mem.buffers, "cached": mem.cached, "shared": mem.shared,
        },
        "disks": m.disks.iter().map(|d| serde_json::json!({
            "mountpoint": d.mountpoint, "device": d.device, "fstype": d.fstype,
            "total": d.total_bytes, "used": d.used_bytes, "avail": d.avail_bytes,
            "percent": d.percent,
        })).collect::<Vec<_>>(),
        "mount_errors": m.mount_errors.iter().map(|e| e.mountpoint.clone()).collect::<Vec<_>>(),
        "disk_usage": m.disk_usage,
        "network_io": io_json(&m.network_io),
        "pernic": m.interfaces.iter().map(|(k, v)| (k.clone(), io_json(v))).collect::<serde_json::Map<_, _>>(),
        "process_count": m.process_count,
        "boot_time": m.kernel.unwrap().boot_time as f64,
    })
}

fn committed(case: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(case.join("psutil.json")).unwrap()).unwrap()
}

/// Compares field by field so a failure names the case, step and figure; floats bit for bit.
fn assert_same(case: &Path, step: usize, want: &Value, got: &Value, path: &str) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let gv = g.get(k).unwrap_or_else(|| {
                    panic!(
                        "{} step {step}: {path}.{k} missing from ours",
                        case.display()
                    )
                });
                assert_same(case, step, wv, gv, &format!("{path}.{k}"));
            }
            let extra: Vec<&String> = g.keys().filter(|k| !w.contains_key(*k)).collect();
            assert!(
                extra.is_empty(),
                "{} step {step}: {path} has extra keys {extra:?}",
                case.display()
            );
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(
                w.len(),
                g.len(),
                "{} step {step}: {path} lengths\npsutil {want}\nours   {got}",
                case.display()
            );
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                assert_same(case, step, wv, gv, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(w), Value::Number(g)) if w.is_f64() || g.is_f64() => {
            let (w, g) = (w.as_f64().unwrap(), g.as_f64().unwrap());
            assert_eq!(
                w.to_bits(),
                g.to_bits(),
                "{} step {step}: {path}: psutil {w:?}, ours {g:?}",
                case.display()
            );
        }
        _ => assert_eq!(want, got, "{} step {step}: {path}", case.display()),
    }
}

#[test]
fn proc_source_equals_committed_psutil_output() {
    for case in cases() {
        let psutil = committed(&case);
        let steps = psutil["steps"].as_array().unwrap();
        let ours = ours(&case);
        assert_eq!(steps.len(), ours.len(), "{}", case.display());
        for (i, (want, got)) in steps.iter().zip(&ours).enumerate() {
            assert_same(&case, i, want, &as_oracle(got), "");
        }
    }
}

#[test]
fn committed_output_is_what_psutil_prints_now() {
    let Some(python) = tools::require(
        "committed_output_is_what_psutil_prints_now",
        "python3 with psutil (pip install psutil==7.2.2)",
        tools::python3_with("psutil"),
    ) else {
        return;
    };
    let oracle = golden_dir().join("psutil_oracle.py");
    for case in cases() {
        let out = Command::new(&python)
            .arg(&oracle)
            .arg(&case)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "oracle failed on {}: {}",
            case.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let live: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            live,
            committed(&case),
            "psutil now disagrees with {}/psutil.json",
            case.display()
        );
    }
}

/// What each case is there to prove, checked on our own output so the fixtures cannot silently
/// lose their point.
#[test]
fn cases_exercise_what_they_claim() {
    let dir = golden_dir().join("cases");
    let basic = ours(&dir.join("basic"));
    assert_eq!(basic[0].cpu_percent, None);
    assert_eq!(
        basic[0].disk_usage.keys().collect::<Vec<_>>(),
        ["/", "/boot/efi"],
        "bind mount deduped"
    );

    let wrap = ours(&dir.join("counter_wrap"));
    assert!(
        wrap[2].interfaces["eth0"].bytes_recv > wrap[1].interfaces["eth0"].bytes_recv,
        "wrap carried"
    );
    assert!(!wrap[3].interfaces.contains_key("veth1"));

    let guest = ours(&dir.join("guest_time"));
    assert_eq!(
        guest[1].cpu_percent,
        Some(12.3),
        "psutil's float steps, not whole ticks (12.2)"
    );
    assert_eq!(guest[3].cpu_percent, Some(0.0), "no time passed");

    let odd = ours(&dir.join("odd_mounts"));
    assert!(odd[0].disk_usage.contains_key("/mnt/my disk"));
    assert_eq!(odd[0].disk_usage["/var/lib/postgresql"], 12.2);
    assert_eq!(odd[0].disk_usage["/srv/backup"], 12.8);
    assert_eq!(odd[0].mount_errors[0].mountpoint, "/mnt/secret");

    let mem = ours(&dir.join("memory_edges"));
    assert_eq!(
        mem[0].memory.available, mem[0].memory.free,
        "MemAvailable > MemTotal → MemFree"
    );
    assert_eq!(mem[0].memory_percent, 37.5);
    assert_eq!(mem[1].memory_percent, 37.5);
}
