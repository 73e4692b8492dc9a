//! Parsers for the proc files we read. Pure functions over bytes, so they are cheap to test
//! and fuzz; each error names the file, the 1-based line and the field.

use std::path::Path;

use crate::error::{Error, Result};
use crate::metrics::{CpuTimes, Kernel, LoadAverage, NetworkIo};

/// Iterates over lines with their 1-based numbers.
fn lines(content: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    content
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.is_empty())
}

/// Splits on ASCII whitespace, skipping empty pieces (Python's `bytes.split()`).
fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(u8::is_ascii_whitespace)
        .filter(|f| !f.is_empty())
}

fn parse_error(path: &Path, line: usize, field: &'static str, value: &[u8]) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        line,
        field,
        value: String::from_utf8_lossy(value).into_owned(),
    }
}

/// Parses an unsigned decimal integer made only of ASCII digits.
pub(crate) fn parse_u64(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    let mut value: u64 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(value)
}

fn parse_f64(bytes: &[u8]) -> Option<f64> {
    std::str::from_utf8(bytes)
        .ok()?
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
}

/// What `/proc/stat` tells.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Stat {
    /// The `cpu` line.
    pub(crate) total: Option<CpuTimes>,
    /// The `cpuN` lines.
    pub(crate) per_cpu: Vec<CpuTimes>,
    pub(crate) boot_time: Option<u64>,
    pub(crate) context_switches: u64,
    pub(crate) forks: u64,
    pub(crate) interrupts: u64,
    pub(crate) procs_running: u64,
    pub(crate) procs_blocked: u64,
}

/// Parses one `cpu…` line into times in seconds (`ticks as f64 / clk_tck`, as psutil does).
fn cpu_line(path: &Path, number: usize, line: &[u8], clk_tck: f64) -> Result<CpuTimes> {
    let mut it = fields(line);
    let name = it.next().unwrap_or_default();
    let mut times = CpuTimes {
        cpu: String::from_utf8_lossy(name).into_owned(),
        ..CpuTimes::default()
    };
    // The counters in the kernel's order; older kernels write fewer (missing ones stay 0).
    let slots = [
        &mut times.user,
        &mut times.nice,
        &mut times.system,
        &mut times.idle,
        &mut times.iowait,
        &mut times.irq,
        &mut times.softirq,
        &mut times.steal,
        &mut times.guest,
        &mut times.guest_nice,
    ];
    let mut count = 0;
    for (slot, raw) in slots.into_iter().zip(&mut it) {
        let ticks = parse_u64(raw).ok_or_else(|| parse_error(path, number, "cpu ticks", raw))?;
        *slot = ticks as f64 / clk_tck;
        count += 1;
    }
    if count < 4 {
        return Err(parse_error(
            path,
            number,
            "cpu line (at least 4 counters)",
            line,
        ));
    }
    Ok(times)
}

/// Parses `/proc/stat`.
pub(crate) fn stat(path: &Path, content: &[u8], clk_tck: f64) -> Result<Stat> {
    let mut out = Stat::default();
    for (number, line) in lines(content) {
        let mut it = fields(line);
        let Some(key) = it.next() else { continue };
        let second = it.next();
        let number_of = |field: &'static str| -> Result<u64> {
            let raw = second.unwrap_or_default();
            parse_u64(raw).ok_or_else(|| parse_error(path, number, field, raw))
        };
        match key {
            b"cpu" => out.total = Some(cpu_line(path, number, line, clk_tck)?),
            k if k.starts_with(b"cpu") => out.per_cpu.push(cpu_line(path, number, line, clk_tck)?),
            b"btime" => out.boot_time = Some(number_of("btime")?),
            b"ctxt" => out.context_switches = number_of("ctxt")?,
            b"processes" => out.forks = number_of("processes")?,
            b"intr" => out.interrupts = number_of("intr")?,
            b"procs_running" => out.procs_running = number_of("procs_running")?,
            b"procs_blocked" => out.procs_blocked = number_of("procs_blocked")?,
            _ => {}
        }
    }
    Ok(out)
}

/// psutil's `cpu_percent()` between two readings of the `cpu` line, to the last bit: per-field
/// deltas clamped at zero, summed left to right in float, guest and `guest_nice` subtracted (they
/// are already inside user and nice), busy = total − idle − iowait, rounded to 0.1.
pub(crate) fn cpu_percent(before: &CpuTimes, after: &CpuTimes) -> f64 {
    let d = |a: f64, b: f64| (b - a).max(0.0);
    let deltas = [
        d(before.user, after.user),
        d(before.nice, after.nice),
        d(before.system, after.system),
        d(before.idle, after.idle),
        d(before.iowait, after.iowait),
        d(before.irq, after.irq),
        d(before.softirq, after.softirq),
        d(before.steal, after.steal),
        d(before.guest, after.guest),
        d(before.guest_nice, after.guest_nice),
    ];
    let (guest, guest_nice, idle, iowait) = (deltas[8], deltas[9], deltas[3], deltas[4]);
    let mut all = 0.0;
    for v in deltas {
        all += v;
    }
    all -= guest;
    all -= guest_nice;
    let busy = all - idle - iowait;
    if all == 0.0 {
        return 0.0;
    }
    crate::round::round1(busy / all * 100.0)
}

/// The fields of `/proc/meminfo` that psutil's `virtual_memory()` uses, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MemInfo {
    pub(crate) total: Option<u64>,
    pub(crate) free: Option<u64>,
    pub(crate) available: Option<u64>,
    pub(crate) buffers: Option<u64>,
    pub(crate) cached: Option<u64>,
    pub(crate) sreclaimable: Option<u64>,
    pub(crate) shmem: Option<u64>,
    pub(crate) mem_shared: Option<u64>,
    pub(crate) active_file: Option<u64>,
    pub(crate) inactive_file: Option<u64>,
    pub(crate) swap_total: Option<u64>,
    pub(crate) swap_free: Option<u64>,
}

/// Parses `/proc/meminfo`; like psutil, every value is multiplied by 1024.
pub(crate) fn meminfo(path: &Path, content: &[u8]) -> Result<MemInfo> {
    let mut m = MemInfo::default();
    for (number, line) in lines(content) {
        let mut it = fields(line);
        let Some(key) = it.next() else { continue };
        let slot = match key {
            b"MemTotal:" => &mut m.total,
            b"MemFree:" => &mut m.free,
            b"MemAvailable:" => &mut m.available,
            b"Buffers:" => &mut m.buffers,
            b"Cached:" => &mut m.cached,
            b"SReclaimable:" => &mut m.sreclaimable,
            b"Shmem:" => &mut m.shmem,
            b"MemShared:" => &mut m.mem_shared,
            b"Active(file):" => &mut m.active_file,
            b"Inactive(file):" => &mut m.inactive_file,
            b"SwapTotal:" => &mut m.swap_total,
            b"SwapFree:" => &mut m.swap_free,
            _ => continue,
        };
        let raw = it.next().unwrap_or_default();
        let kib = parse_u64(raw).ok_or_else(|| parse_error(path, number, "meminfo value", raw))?;
        *slot = Some(
            kib.checked_mul(1024)
                .ok_or_else(|| parse_error(path, number, "meminfo value (overflow)", raw))?,
        );
    }
    Ok(m)
}

/// Sum of the `low` watermarks of `/proc/zoneinfo`, in pages.
pub(crate) fn zoneinfo_low_pages(path: &Path, content: &[u8]) -> Result<u64> {
    let mut total: u64 = 0;
    for (number, line) in lines(content) {
        let line = line.trim_ascii();
        if line.starts_with(b"low") {
            let raw = fields(line).nth(1).unwrap_or_default();
            let pages = parse_u64(raw).ok_or_else(|| parse_error(path, number, "low", raw))?;
            total = total.saturating_add(pages);
        }
    }
    Ok(total)
}

/// psutil's `calculate_avail_vmem`, when `MemAvailable` is missing or 0. `zone_low_pages` is
/// `None` when `/proc/zoneinfo` cannot be read.
pub(crate) fn estimate_available(m: &MemInfo, zone_low_pages: Option<u64>, page_size: u64) -> u64 {
    let free = m.free.unwrap_or(0);
    let fallback = free.saturating_add(m.cached.unwrap_or(0));
    let (Some(active), Some(inactive), Some(slab), Some(low_pages)) = (
        m.active_file,
        m.inactive_file,
        m.sreclaimable,
        zone_low_pages,
    ) else {
        return fallback;
    };
    // The kernel's formula in psutil's float arithmetic; every figure is a multiple of 0.5 well
    // below 2^52, so f64 is exact here and the final truncation matches Python's int().
    let wm = (low_pages.saturating_mul(page_size)) as f64;
    let mut avail = free as f64 - wm;
    let pagecache = (active.saturating_add(inactive)) as f64;
    avail += pagecache - (pagecache / 2.0).min(wm);
    let slab = slab as f64;
    avail += slab - (slab / 2.0).min(wm);
    if avail <= 0.0 {
        0
    } else {
        avail.trunc() as u64
    }
}

/// Parses `/proc/net/dev` into (interface, counters), psutil's columns.
pub(crate) fn net_dev(
    path: &Path,
    content: &[u8],
    out: &mut Vec<(String, NetworkIo)>,
) -> Result<()> {
    out.clear();
    for (number, line) in lines(content).skip(2) {
        let Some(colon) = line.iter().rposition(|&b| b == b':') else {
            return Err(parse_error(path, number, "interface line", line));
        };
        let name = line[..colon].trim_ascii();
        let mut values = [0u64; 16];
        let mut count = 0;
        for (slot, raw) in values.iter_mut().zip(fields(&line[colon + 1..])) {
            *slot = parse_u64(raw).ok_or_else(|| parse_error(path, number, "counter", raw))?;
            count += 1;
        }
        if name.is_empty() || count != 16 {
            return Err(parse_error(
                path,
                number,
                "interface line (16 counters)",
                line,
            ));
        }
        out.push((
            String::from_utf8_lossy(name).into_owned(),
            NetworkIo {
                bytes_recv: values[0],
                packets_recv: values[1],
                errin: values[2],
                dropin: Some(values[3]),
                bytes_sent: values[8],
                packets_sent: values[9],
                errout: values[10],
                dropout: Some(values[11]),
            },
        ));
    }
    Ok(())
}

/// One line of the mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub(crate) device: String,
    pub(crate) mountpoint: String,
    pub(crate) fstype: String,
    pub(crate) readonly: bool,
}

/// Undoes the octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash) of the
/// mount table, as `getmntent` does.
fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 3 < raw.len() {
            let digits = &raw[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = u32::from(digits[0] - b'0') * 64
                    + u32::from(digits[1] - b'0') * 8
                    + u32::from(digits[2] - b'0');
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/self/mounts` (`device mountpoint fstype options dump pass`).
pub(crate) fn mounts(path: &Path, content: &[u8]) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    for (number, line) in lines(content) {
        let mut it = fields(line);
        let (Some(device), Some(mountpoint), Some(fstype)) = (it.next(), it.next(), it.next())
        else {
            return Err(parse_error(path, number, "mount line", line));
        };
        let readonly = it
            .next()
            .is_some_and(|opts| opts.split(|&b| b == b',').any(|o| o == b"ro"));
        out.push(Mount {
            device: unescape(device),
            mountpoint: unescape(mountpoint),
            fstype: unescape(fstype),
            readonly,
        });
    }
    Ok(out)
}

/// psutil's set of "physical" filesystem types: every line of `/proc/filesystems` not starting
/// with `nodev`, plus `zfs`.
pub(crate) fn physical_fstypes(content: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for (_, line) in lines(content) {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix(b"nodev") {
            if rest.trim_ascii() == b"zfs" {
                out.push("zfs".to_owned());
            }
        } else {
            out.push(String::from_utf8_lossy(line).into_owned());
        }
    }
    out
}

/// Parses `/proc/loadavg`: the three loads and the number of scheduling entities (threads).
pub(crate) fn loadavg(path: &Path, content: &[u8]) -> Result<(LoadAverage, u64)> {
    let line = content.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut it = fields(line);
    let mut load = |field| {
        let raw = it.next().unwrap_or_default();
        parse_f64(raw).ok_or_else(|| parse_error(path, 1, field, raw))
    };
    let one = load("load1")?;
    let five = load("load5")?;
    let fifteen = load("load15")?;
    let raw = it.next().unwrap_or_default();
    let threads = raw
        .iter()
        .position(|&b| b == b'/')
        .and_then(|slash| parse_u64(&raw[slash + 1..]))
        .ok_or_else(|| parse_error(path, 1, "running/total tasks", raw))?;
    Ok((LoadAverage { one, five, fifteen }, threads))
}

/// Parses the first field of `/proc/uptime`.
pub(crate) fn uptime(path: &Path, content: &[u8]) -> Result<f64> {
    let raw = fields(content).next().unwrap_or_default();
    parse_f64(raw).ok_or_else(|| parse_error(path, 1, "uptime", raw))
}

/// Puts the kernel counters together.
pub(crate) fn kernel(stat: &Stat, threads: u64) -> Kernel {
    Kernel {
        boot_time: stat.boot_time.unwrap_or(0),
        context_switches: stat.context_switches,
        forks: stat.forks,
        interrupts: stat.interrupts,
        procs_running: stat.procs_running,
        procs_blocked: stat.procs_blocked,
        threads,
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::unwrap_used)]
mod test {
    use super::*;

    fn p() -> &'static Path {
        Path::new("/proc/x")
    }

    #[test]
    fn stat_parses_cpu_and_kernel_lines() {
        let text = b"cpu  100 20 30 400 5 6 7 8 9 10\ncpu0 50 10 15 200 2 3 3 4 4 5\n\
intr 12345 1 2 3\nctxt 999\nbtime 1700000000\nprocesses 4321\nprocs_running 3\nprocs_blocked 1\n";
        let s = stat(p(), text, 100.0).expect("parses");
        let total = s.total.expect("cpu line");
        assert_eq!(total.user, 1.0);
        assert_eq!(total.guest_nice, 0.1);
        assert_eq!(s.per_cpu.len(), 1);
        assert_eq!(s.per_cpu[0].cpu, "cpu0");
        assert_eq!(s.boot_time, Some(1_700_000_000));
        assert_eq!(
            (s.context_switches, s.forks, s.interrupts),
            (999, 4321, 12345)
        );
        assert_eq!((s.procs_running, s.procs_blocked), (3, 1));
    }

    #[test]
    fn stat_error_names_line_and_field() {
        let err = stat(p(), b"cpu 1 2 3 4\nctxt abc\n", 100.0).expect_err("bad ctxt");
        match err {
            Error::Parse {
                line, field, value, ..
            } => {
                assert_eq!((line, field, value.as_str()), (2, "ctxt", "abc"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn cpu_percent_excludes_guest_counts_steal_and_clamps() {
        let t = |user, idle, steal, guest| CpuTimes {
            user,
            idle,
            steal,
            guest,
            ..CpuTimes::default()
        };
        // 10 s user of which 4 s guest, 2 s steal, 8 s idle: guest is inside user, so the
        // total is 10 + 8 + 2 = 20 s and busy (user + steal) 12 s → 60 %.
        assert_eq!(
            cpu_percent(&t(0.0, 0.0, 0.0, 0.0), &t(10.0, 8.0, 2.0, 4.0)),
            60.0
        );
        // A counter going backwards is clamped to 0, not negative.
        assert_eq!(
            cpu_percent(&t(5.0, 10.0, 0.0, 0.0), &t(4.0, 20.0, 0.0, 0.0)),
            0.0
        );
        // No time passed: 0.0, not NaN.
        assert_eq!(
            cpu_percent(&t(1.0, 1.0, 0.0, 0.0), &t(1.0, 1.0, 0.0, 0.0)),
            0.0
        );
    }

    #[test]
    fn net_dev_reads_psutil_columns() {
        let text = b"Inter-|   Receive |  Transmit\n face |bytes packets\n\
  eth0: 100 2 3 4 0 0 0 0 200 5 6 7 0 0 0 0\n";
        let mut out = Vec::new();
        net_dev(p(), text, &mut out).expect("parses");
        assert_eq!(out.len(), 1);
        let (name, io) = &out[0];
        assert_eq!(name, "eth0");
        assert_eq!(
            (io.bytes_recv, io.packets_recv, io.errin, io.dropin),
            (100, 2, 3, Some(4))
        );
        assert_eq!(
            (io.bytes_sent, io.packets_sent, io.errout, io.dropout),
            (200, 5, 6, Some(7))
        );
    }

    #[test]
    fn mounts_unescape_octal() {
        let m = mounts(p(), b"/dev/sdb1 /mnt/my\\040disk ext4 ro,relatime 0 0\n").expect("parses");
        assert_eq!(m[0].mountpoint, "/mnt/my disk");
        assert!(m[0].readonly);
        assert_eq!(unescape(b"a\\134b\\011"), "a\\b\t");
        assert_eq!(unescape(b"trailing\\04"), "trailing\\04");
    }

    #[test]
    fn physical_fstypes_as_psutil() {
        let fs = physical_fstypes(b"nodev\tsysfs\nnodev\ttmpfs\n\text4\n\txfs\nnodev\tzfs\n");
        assert_eq!(fs, vec!["ext4", "xfs", "zfs"]);
    }

    #[test]
    fn loadavg_and_threads() {
        let (l, threads) = loadavg(p(), b"0.52 0.58 0.59 1/345 12345\n").expect("parses");
        assert_eq!((l.one, l.five, l.fifteen, threads), (0.52, 0.58, 0.59, 345));
        assert!(loadavg(p(), b"0.52 x 0.59 1/345 1\n").is_err());
    }

    #[test]
    fn estimate_available_matches_kernel_formula() {
        let m = MemInfo {
            free: Some(1000 * 1024),
            cached: Some(50 * 1024),
            active_file: Some(300 * 1024),
            inactive_file: Some(101 * 1024),
            sreclaimable: Some(64 * 1024),
            ..MemInfo::default()
        };
        // No zoneinfo: MemFree + Cached.
        assert_eq!(estimate_available(&m, None, 4096), 1050 * 1024);
        // wm = 10 pages = 40960 B; pagecache 401 KiB, half = 205312 > wm → minus wm.
        let want = 1000 * 1024 - 40960 + (401 * 1024 - 40960) + (64 * 1024 - 32768);
        assert_eq!(estimate_available(&m, Some(10), 4096), want);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod prop {
    use proptest::prelude::*;

    use super::*;

    fn p() -> &'static Path {
        Path::new("/proc/fuzz")
    }

    proptest! {
        /// No input makes a parser panic: bad input is an error naming the file, or ignored.
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = stat(p(), &bytes, 100.0);
            let _ = meminfo(p(), &bytes);
            let _ = zoneinfo_low_pages(p(), &bytes);
            let _ = net_dev(p(), &bytes, &mut Vec::new());
            let _ = mounts(p(), &bytes);
            let _ = physical_fstypes(&bytes);
            let _ = loadavg(p(), &bytes);
            let _ = uptime(p(), &bytes);
        }

        /// Errors always carry a line inside the input.
        #[test]
        fn parse_errors_point_into_the_input(text in "(cpu[0-9]? [0-9a-z ]{0,30}\n|ctxt [0-9x]{0,5}\n){1,6}") {
            if let Err(Error::Parse { line, path, .. }) = stat(p(), text.as_bytes(), 100.0) {
                prop_assert!(line >= 1 && line <= text.lines().count());
                prop_assert_eq!(path, p());
            }
        }

        /// A mount point escaped as the kernel does it reads back unchanged.
        #[test]
        fn mount_escapes_round_trip(point in "/[a-z \\t\\n\\\\]{0,20}") {
            let escaped = point
                .replace('\\', "\\134")
                .replace(' ', "\\040")
                .replace('\t', "\\011")
                .replace('\n', "\\012");
            let line = format!("/dev/sda1 {escaped} ext4 rw 0 0\n");
            let parsed = mounts(p(), line.as_bytes()).unwrap();
            prop_assert_eq!(&parsed[0].mountpoint, &point);
        }

        /// Counters of any size parse exactly; anything past u64 is an error, not a wrap.
        #[test]
        fn u64_parse_is_exact(n in any::<u64>()) {
            prop_assert_eq!(parse_u64(n.to_string().as_bytes()), Some(n));
            let too_big = format!("{n}0");
            if n > u64::MAX / 10 {
                prop_assert_eq!(parse_u64(too_big.as_bytes()), None);
            }
        }

        /// psutil's CPU percent is always within 0..=100 whatever the two readings.
        #[test]
        fn cpu_percent_is_a_percentage(a in proptest::array::uniform10(0u32..1_000_000), b in proptest::array::uniform10(0u32..1_000_000)) {
            let times = |v: [u32; 10]| CpuTimes {
                cpu: "cpu".into(),
                user: f64::from(v[0]) / 100.0 + f64::from(v[8]) / 100.0,
                nice: f64::from(v[1]) / 100.0 + f64::from(v[9]) / 100.0,
                system: f64::from(v[2]) / 100.0,
                idle: f64::from(v[3]) / 100.0,
                iowait: f64::from(v[4]) / 100.0,
                irq: f64::from(v[5]) / 100.0,
                softirq: f64::from(v[6]) / 100.0,
                steal: f64::from(v[7]) / 100.0,
                guest: f64::from(v[8]) / 100.0,
                guest_nice: f64::from(v[9]) / 100.0,
            };
            let pct = cpu_percent(&times(a), &times(b));
            prop_assert!((0.0..=100.0).contains(&pct), "{pct}");
        }
    }
}
