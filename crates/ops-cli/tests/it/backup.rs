//! `ops backup run | list | verify | restore | prune | status` and `ops restore
//! --before-release`, as the README's restore walk-through runs them: local-process releases,
//! a host directory, the built-in archive engine (restic's path is the ops-deploy suite's).

use std::path::Path;

use ops_testkit::health_server::Health;
use ops_testkit::{net, promtool};

use super::service::{Service, checked, release};
use super::{assert_exit, each, json, ops, ops_ok, stderr, stdout};

fn flip(path: &Path, needle: &[u8]) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    bytes[at + 2] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn backup_walkthrough() {
    let svc = Service::new("shop");
    let data = svc.dir().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("orders.csv"), "1,coffee,2\n2,tea,1\n").unwrap();
    std::fs::create_dir(data.join("invoices")).unwrap();
    std::fs::write(data.join("invoices/2026-11.txt"), "total 42\n").unwrap();
    svc.configure(&format!(
        "{}[backup]\nwhen = \"before-deploy\"\nengine = \"archive\"\npaths = [\"{}\"]\nkeep_last = 10\n",
        checked(30),
        data.display()
    ));
    let cfg = svc.config();
    let healthy = release(Health::Healthy);

    let plan = ops_ok(&["deploy", "--config", cfg, "--command", "true", "--dry-run"]);
    assert!(
        plan.contains(
            "  2. back up data (archive engine) and verify it by a restore (a failure aborts)\n"
        ),
        "{plan}"
    );
    let out = svc.deploy(&healthy, &[]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("backup shop-b1 taken and verified before the deploy"),
        "{}",
        stderr(&out)
    );

    let text = ops_ok(&["backup", "run", "--config", cfg]);
    assert!(
        text.starts_with("shop-b2: 2 files, 28 B (archive engine, ")
            && text.contains(", verified in "),
        "{text}"
    );
    let list: serde_json::Value =
        serde_json::from_str(&ops_ok(&["backup", "list", "--config", cfg, "--json"])).unwrap();
    assert_eq!(each(&list, "id"), ["shop-b1", "shop-b2"]);
    assert_eq!(list[0]["kind"], "before-deploy");
    assert_eq!(list[0]["before_release"], "shop-1");
    assert_eq!(list[1]["release"], "shop-1");
    assert_eq!(list[1]["verification"]["ok"], true);
    let table = ops_ok(&["backup", "list", "--config", cfg]);
    assert!(table.starts_with("BACKUP "), "{table}");
    assert_eq!(
        table.lines().nth(1).unwrap().split_whitespace().next(),
        Some("shop-b2")
    );

    let status = ops(&["backup", "status", "--config", cfg]);
    assert_eq!(status.status.code(), Some(0));
    assert!(
        stdout(&status).starts_with("OK: newest verified backup shop-b2 verified "),
        "{}",
        stdout(&status)
    );
    assert!(
        stdout(&status).contains("|verified_age="),
        "{}",
        stdout(&status)
    );
    let page = ops_ok(&[
        "backup",
        "status",
        "--config",
        cfg,
        "--format",
        "prometheus",
    ]);
    assert!(
        page.contains("ops_backup_backups{service=\"shop\"} 2\n"),
        "{page}"
    );
    if let Some(promtool) = promtool::find("backup_walkthrough") {
        promtool::assert_clean_metrics(&promtool, &page);
    }

    // A release that damages the data; its backup (b3) was taken before it started.
    let damage = format!(
        "printf 'X' | dd of='{}' conv=notrunc 2>/dev/null; ",
        data.join("orders.csv").display()
    );
    let out = svc.deploy(&format!("{damage}{healthy}"), &[]);
    assert_exit(&out, 0);
    assert_eq!(
        std::fs::read_to_string(data.join("orders.csv")).unwrap(),
        "X,coffee,2\n2,tea,1\n"
    );
    let history: serde_json::Value =
        serde_json::from_str(&ops_ok(&["history", "--config", cfg, "--json"])).unwrap();
    assert_eq!(history["releases"][1]["backup"], "shop-b3");

    // The one command.
    let out = ops(&["restore", "--config", cfg, "--before-release", "shop-2"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.starts_with("restored shop-b3: 2 files (28 B) in ")
            && text.ends_with(
                "; shop-1 is running and healthy; the data it replaced is backup shop-b4\n"
            ),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("orders.csv")).unwrap(),
        "1,coffee,2\n2,tea,1\n"
    );
    assert_eq!(
        net::http(net::local(svc.port()), "GET", "/", ""),
        Some((200, "shop-1".to_owned()))
    );

    // One byte flipped in a stored archive: verify names the file and exits 1.
    let archive = svc.dir().join("state/backups/archives/shop-b2.tar");
    flip(&archive, b"1,coffee");
    let out = ops(&["backup", "verify", "--config", cfg, "shop-b2"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("\nops: verification of backup shop-b2 failed: 1 of 4 entries differ: data/orders.csv: SHA-256 "),
        "{}",
        stderr(&out)
    );
    let out = ops(&["backup", "restore", "--config", cfg, "shop-b2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("its latest verification failed"),
        "{}",
        stderr(&out)
    );
    assert!(
        ops_ok(&["backup", "verify", "--config", cfg, "shop-b1"])
            .starts_with("shop-b1 verified: restored and compared 2 files (28 B) in ")
    );
    assert_eq!(
        ops_ok(&["backup", "prune", "--config", cfg]),
        "no backup to delete\n"
    );

    // Usage errors.
    let out = ops(&["backup", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--config FILE is required"),
        "{}",
        stderr(&out)
    );
    assert_eq!(ops(&["restore", "--config", cfg]).status.code(), Some(2));
    let out = ops(&["backup", "status"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).starts_with("UNKNOWN: "), "{}", stdout(&out));
    let out = ops(&["restore", "--config", cfg, "--before-release", "shop-9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no release \"shop-9\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn status_is_critical_without_a_verified_backup() {
    let svc = Service::new("cold");
    let data = svc.dir().join("data");
    std::fs::create_dir(&data).unwrap();
    svc.configure(&format!(
        "[backup]\nengine = \"archive\"\npaths = [\"{}\"]\nmax_age = \"1h\"\n",
        data.display()
    ));
    let cfg = svc.config();
    let out = ops(&["backup", "status", "--config", cfg]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stdout(&out),
        "CRITICAL: no verified backup of cold (0 backups)|verified_age=;;3600 backups=0\n"
    );
    let out = ops(&["backup", "run", "--config", cfg, "--no-verify", "--json"]);
    assert_exit(&out, 0);
    let record = json(&out);
    assert_eq!(
        (record["id"].as_str(), record["verification"].is_null()),
        (Some("cold-b1"), true)
    );
    assert_eq!(
        ops(&["backup", "status", "--config", cfg]).status.code(),
        Some(2)
    );
    let verified: serde_json::Value =
        serde_json::from_str(&ops_ok(&["backup", "verify", "--config", cfg, "--json"])).unwrap();
    assert_eq!(verified["verification"]["ok"], true);
    assert_eq!(
        ops(&["backup", "status", "--config", cfg]).status.code(),
        Some(0)
    );
}
