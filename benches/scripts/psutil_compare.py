#!/usr/bin/env python3
"""Times psutil's five calls (the playbook's collect_metrics without the one-second sleep)
and one ops-metrics sample in the same run, alternating, and prints the medians and the ratio.

    cargo build --release -p ops-benches --bin collect-timer
    python3 benches/scripts/psutil_compare.py [ITERATIONS] [TRIALS]
"""
import os
import statistics
import subprocess
import sys
import time

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
TIMER = os.path.join(HERE, "..", "..", "target", "release", "collect-timer")


def psutil_sample():
    cpu = psutil.cpu_percent(interval=None)
    mem = psutil.virtual_memory().percent
    disks = {}
    for p in psutil.disk_partitions():
        try:
            disks[p.mountpoint] = psutil.disk_usage(p.mountpoint).percent
        except PermissionError:
            continue
    net = psutil.net_io_counters()
    procs = len(psutil.pids())
    return cpu, mem, disks, net, procs


def psutil_median(n):
    psutil_sample()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        psutil_sample()
        times.append((time.perf_counter() - t) * 1e6)
    return statistics.median(times)


def ours_median(n):
    out = subprocess.run([TIMER, str(n)], check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if not os.path.exists(TIMER):
        sys.exit(f"build it first: cargo build --release -p ops-benches --bin collect-timer ({TIMER})")
    py, rs = [], []
    for _ in range(trials):
        py.append(psutil_median(n))
        rs.append(ours_median(n))
    p, r = statistics.median(py), statistics.median(rs)
    print(f"psutil {psutil.__version__} five calls: median {p:.1f} us  (trials {', '.join(f'{x:.1f}' for x in py)})")
    print(f"ops-metrics ProcSource sample: median {r:.1f} us  (trials {', '.join(f'{x:.1f}' for x in rs)})")
    print(f"ops-metrics is {p / r:.2f}x faster than psutil")


if __name__ == "__main__":
    main()
