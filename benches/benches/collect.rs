//! One full metrics collection: ops-metrics beside sysinfo (as a user would call it) and beside
//! the floor (only reading the same files and calling statvfs, no parsing).
//!
//! `cargo bench -p ops-benches --bench collect`

#![allow(missing_docs, clippy::unwrap_used)]

use std::fs::File;
use std::hint::black_box;
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ops_metrics::{FsStat as _, MetricsSource as _, ProcSource, SystemFsStat};
use sysinfo::{
    CpuRefreshKind, Disks, MemoryRefreshKind, Networks, ProcessRefreshKind, ProcessesToUpdate,
    System,
};

/// The mounts ops-metrics measures on this machine (so the floor stats the same ones).
fn measured_mounts() -> Vec<PathBuf> {
    let mut source = ProcSource::new();
    source
        .collect()
        .unwrap()
        .disks
        .iter()
        .map(|d| PathBuf::from(&d.mountpoint))
        .collect()
}

/// The floor: read the files a sample needs and statvfs each mount, parse nothing.
fn raw_reads(buf: &mut Vec<u8>, mounts: &[PathBuf]) -> usize {
    let mut total = 0;
    for path in [
        "/proc/stat",
        "/proc/meminfo",
        "/proc/net/dev",
        "/proc/self/mounts",
        "/proc/loadavg",
    ] {
        buf.clear();
        File::open(path).unwrap().read_to_end(buf).unwrap();
        total += buf.len();
    }
    for m in mounts {
        total += SystemFsStat.stat(m).unwrap().blocks as usize;
    }
    total += std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref().is_ok_and(|e| {
                e.file_name()
                    .as_encoded_bytes()
                    .iter()
                    .all(u8::is_ascii_digit)
            })
        })
        .count();
    total
}

/// sysinfo used the natural way for the same figures.
struct Sysinfo {
    system: System,
    disks: Disks,
    networks: Networks,
}

impl Sysinfo {
    fn new() -> Self {
        Sysinfo {
            system: System::new().unwrap(),
            disks: Disks::new_with_refreshed_list().unwrap(),
            networks: Networks::new_with_refreshed_list().unwrap(),
        }
    }

    fn collect(&mut self) -> usize {
        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        self.disks.refresh(true);
        self.networks.refresh(true);
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing(),
        );
        self.system.processes().len()
            + self
                .disks
                .iter()
                .map(|d| d.available_space() as usize)
                .sum::<usize>()
            + self
                .networks
                .values()
                .map(|n| n.total_received() as usize)
                .sum::<usize>()
            + (self.system.available_memory() as usize)
            + (self.system.global_cpu_usage() as usize)
    }
}

fn bench_collect(c: &mut Criterion) {
    let mounts = measured_mounts();
    let mut g = c.benchmark_group("collect");
    g.measurement_time(Duration::from_secs(4)).sample_size(60);

    let mut ops = ProcSource::new();
    g.bench_function("ops_metrics", |b| {
        b.iter(|| black_box(ops.collect().unwrap()));
    });

    let mut sys = Sysinfo::new();
    g.bench_function("sysinfo", |b| b.iter(|| black_box(sys.collect())));

    let mut buf = Vec::with_capacity(16 * 1024);
    g.bench_function("raw_reads", |b| {
        b.iter(|| black_box(raw_reads(&mut buf, &mounts)));
    });
    g.finish();
}

/// The same with 200 extra threads in this process: ops-metrics opens nothing per thread, so
/// its cost must not move; sysinfo's default process refresh walks every task.
fn bench_collect_threads(c: &mut Criterion) {
    let stop = Arc::new(Barrier::new(201));
    let threads: Vec<_> = (0..200)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                stop.wait();
            })
        })
        .collect();
    let mut g = c.benchmark_group("collect_200_threads");
    g.measurement_time(Duration::from_secs(4)).sample_size(60);
    let mut ops = ProcSource::new();
    g.bench_function("ops_metrics", |b| {
        b.iter(|| black_box(ops.collect().unwrap()));
    });
    let mut sys = Sysinfo::new();
    g.bench_function("sysinfo", |b| b.iter(|| black_box(sys.collect())));
    let mounts = measured_mounts();
    let mut buf = Vec::with_capacity(16 * 1024);
    g.bench_function("raw_reads", |b| {
        b.iter(|| black_box(raw_reads(&mut buf, &mounts)));
    });
    g.finish();
    stop.wait();
    for t in threads {
        t.join().unwrap();
    }
}

criterion_group!(benches, bench_collect, bench_collect_threads);
criterion_main!(benches);
