//! The Prometheus page: promtool-clean, `node_exporter`'s names, escaping that survives any label.

use std::collections::BTreeMap;
use std::time::SystemTime;

use ops_metrics::exposition::render;
use ops_metrics::{MetricsSource, NetworkIo, ProcSource, SystemMetrics};
use ops_testkit::promtool;
use proptest::prelude::*;

/// A parsed sample line: name, labels (unescaped) and value.
type Series = (String, Vec<(String, String)>, String);

/// A strict reader of the text format, enough to prove our output well-formed: every family has
/// HELP then TYPE before its samples, families are contiguous and unique, label values unescape.
fn parse_page(page: &str) -> Result<Vec<Series>, String> {
    assert!(page.ends_with('\n'), "the page must end with a newline");
    let mut out = Vec::new();
    let mut families: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut typed = false;
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default().to_owned();
            if families.contains(&name) {
                return Err(format!("family {name} appears twice"));
            }
            families.push(name.clone());
            current = name;
            typed = false;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            if it.next() != Some(current.as_str()) {
                return Err(format!("TYPE without HELP: {line}"));
            }
            typed = true;
        } else {
            if !typed {
                return Err(format!("sample before TYPE: {line}"));
            }
            let (name, rest) = match line.find(['{', ' ']) {
                Some(i) => line.split_at(i),
                None => return Err(format!("no value: {line}")),
            };
            if name != current && !name.starts_with(&current) {
                return Err(format!("{name} outside its family {current}"));
            }
            let mut labels = Vec::new();
            let mut chars = rest.chars().peekable();
            if chars.peek() == Some(&'{') {
                chars.next();
                loop {
                    let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
                    if chars.next() != Some('"') {
                        return Err(format!("label {key} not quoted: {line}"));
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next() {
                            Some('\\') => match chars.next() {
                                Some('\\') => value.push('\\'),
                                Some('"') => value.push('"'),
                                Some('n') => value.push('\n'),
                                other => return Err(format!("bad escape {other:?}: {line}")),
                            },
                            Some('"') => break,
                            Some('\n') | None => return Err(format!("unterminated: {line}")),
                            Some(c) => value.push(c),
                        }
                    }
                    labels.push((key, value));
                    match chars.next() {
                        Some(',') => {}
                        Some('}') => break,
                        other => return Err(format!("bad label separator {other:?}: {line}")),
                    }
                }
            }
            let value: String = chars.collect();
            let value = value
                .strip_prefix(' ')
                .ok_or(format!("no space before value: {line}"))?;
            if value.parse::<f64>().is_err() && !["NaN", "+Inf", "-Inf"].contains(&value) {
                return Err(format!("bad value {value:?}: {line}"));
            }
            out.push((name.to_owned(), labels, value.to_owned()));
        }
    }
    Ok(out)
}

fn live_sample() -> SystemMetrics {
    let mut source = ProcSource::new();
    source.collect().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    source.collect().unwrap()
}

#[test]
fn live_page_uses_node_exporter_names() {
    let m = live_sample();
    let page = render(&m);
    let series = parse_page(&page).unwrap();
    let names: std::collections::HashSet<&str> = series.iter().map(|s| s.0.as_str()).collect();
    for name in [
        "node_cpu_seconds_total",
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
        "node_filesystem_free_bytes",
        "node_network_receive_bytes_total",
        "node_network_transmit_drop_total",
        "node_load1",
        "node_load15",
        "node_boot_time_seconds",
        "node_processes_pids",
        "ops_cpu_usage_ratio",
        "ops_memory_usage_ratio",
        "ops_filesystem_usage_ratio",
    ] {
        assert!(names.contains(name), "{name} missing from\n{page}");
    }
    let cpu_modes = series
        .iter()
        .filter(|s| s.0 == "node_cpu_seconds_total" && s.1[0].1 == "0")
        .count();
    assert_eq!(cpu_modes, 8, "eight modes for cpu 0");
    let lo = series
        .iter()
        .find(|s| {
            s.0 == "node_network_receive_bytes_total" && s.1 == [("device".into(), "lo".into())]
        })
        .expect("lo is exported");
    assert_eq!(lo.2, m.interfaces["lo"].bytes_recv.to_string());
    let ratio = series
        .iter()
        .find(|s| s.0 == "ops_memory_usage_ratio")
        .unwrap();
    let ratio: f64 = ratio.2.parse().unwrap();
    assert!((0.0..=1.0).contains(&ratio));
    assert_eq!(ratio, m.memory_percent / 100.0);
}

#[test]
fn promtool_accepts_live_page_with_zero_findings() {
    let Some(promtool) = promtool::find("promtool_accepts_live_page_with_zero_findings") else {
        return;
    };
    promtool::assert_clean_metrics(&promtool, &render(&live_sample()));
}

fn odd_sample(mountpoint: &str, device: &str, iface: &str) -> SystemMetrics {
    let mut m = SystemMetrics::empty(SystemTime::now());
    m.cpu_percent = Some(12.5);
    let disk: ops_metrics::Disk = serde_json::from_value(serde_json::json!({
        "mountpoint": mountpoint, "device": device, "fstype": "ext4", "readonly": false,
        "total_bytes": 100, "used_bytes": 40, "free_bytes": 60, "avail_bytes": 50,
        "percent": 44.4, "files": 10, "files_free": 5
    }))
    .unwrap();
    m.disk_usage.insert(mountpoint.to_owned(), 44.4);
    m.disks.push(disk);
    let mut interfaces = BTreeMap::new();
    interfaces.insert(
        iface.to_owned(),
        NetworkIo {
            bytes_recv: 5,
            dropin: Some(1),
            dropout: Some(0),
            ..NetworkIo::default()
        },
    );
    m.interfaces = interfaces;
    m
}

#[test]
fn promtool_accepts_hostile_label_values() {
    let Some(promtool) = promtool::find("promtool_accepts_hostile_label_values") else {
        return;
    };
    let m = odd_sample(
        "/mnt/a \"quoted\" \\ back\nslash",
        "/dev/\u{e9}t\u{e9}",
        "veth\"0\\",
    );
    promtool::assert_clean_metrics(&promtool, &render(&m));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any mount point, device or interface name yields a well-formed page whose label values
    /// read back exactly.
    #[test]
    fn any_label_value_round_trips(mountpoint in "\\PC*", device in ".*", iface in "[^\u{0}]{0,20}") {
        let m = odd_sample(&mountpoint, &device, &iface);
        let page = render(&m);
        let series = parse_page(&page).map_err(TestCaseError::fail)?;
        let fs = series.iter().find(|s| s.0 == "node_filesystem_avail_bytes").unwrap();
        prop_assert_eq!(&fs.1[0], &("device".to_owned(), device.clone()));
        prop_assert_eq!(&fs.1[2], &("mountpoint".to_owned(), mountpoint.clone()));
        let net = series.iter().find(|s| s.0 == "node_network_receive_bytes_total").unwrap();
        prop_assert_eq!(&net.1[0].1, &iface);
    }
}
