#!/usr/bin/env python3
"""psutil oracle for the ops-metrics golden tests.

    python3 psutil_oracle.py cases/<case>  >  cases/<case>/psutil.json

Feeds each fixture step (cases/<case>/steps/<i>, a fake proc root) to psutil 7.2.2 through
psutil.PROCFS_PATH, answers statvfs from cases/<case>/statvfs.json, and prints one JSON
document with psutil's figures per step. Every figure comes from psutil's own functions;
the only logic added here is the crate's documented dedupe of partitions by device.

The figures depend on two host constants psutil reads at import: USER_HZ (CLOCK_TICKS,
must be 100) and the page size (PAGESIZE, must be 4096, zoneinfo pages -> bytes); and on
the number of fields of the host's /proc/stat `cpu` line (must be 10). The script refuses
to run otherwise.
"""

import errno
import json
import os
import sys
import warnings

import psutil
from psutil import _pslinux

EXPECTED_VERSION = "7.2.2"


def check_host():
    problems = []
    if psutil.__version__ != EXPECTED_VERSION:
        problems.append(f"psutil {psutil.__version__} (want {EXPECTED_VERSION})")
    if _pslinux.CLOCK_TICKS != 100:
        problems.append(f"CLOCK_TICKS {_pslinux.CLOCK_TICKS} (want 100)")
    if _pslinux.PAGESIZE != 4096:
        problems.append(f"PAGESIZE {_pslinux.PAGESIZE} (want 4096)")
    if len(_pslinux.scputimes._fields) != 10:
        problems.append(f"host /proc/stat cpu line has {len(_pslinux.scputimes._fields)} fields (want 10)")
    if problems:
        sys.exit("psutil_oracle: unsuitable host: " + "; ".join(problems))


def install_fake_statvfs(table):
    """psutil._psposix.disk_usage calls os.statvfs(path); answer from statvfs.json."""

    def fake_statvfs(path):
        key = os.fsdecode(path)
        try:
            entry = table[key]
        except KeyError:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), key) from None
        if "error" in entry:
            code = getattr(errno, entry["error"])
            raise OSError(code, os.strerror(code), key)
        return os.statvfs_result((
            entry["f_bsize"], entry["f_frsize"], entry["f_blocks"], entry["f_bfree"],
            entry["f_bavail"], entry["f_files"], entry["f_ffree"],
            entry["f_ffree"],  # f_favail
            0,  # f_flag
            255,  # f_namemax
        ))

    os.statvfs = fake_statvfs


def dedupe_by_device(parts):
    """The crate's rule (psutil has none): one partition per device string, the one with the
    shortest mount point (bytes), the first in table order on a tie; survivors keep table
    order."""
    best = {}
    for i, p in enumerate(parts):
        j = best.get(p.device)
        if j is None or len(os.fsencode(p.mountpoint)) < len(os.fsencode(parts[j].mountpoint)):
            best[p.device] = i
    keep = set(best.values())
    return [p for i, p in enumerate(parts) if i in keep]


NET_KEYS = ("bytes_sent", "bytes_recv", "packets_sent", "packets_recv",
            "errin", "errout", "dropin", "dropout")


def netio(n):
    return {k: getattr(n, k) for k in NET_KEYS}


def run_step(i, root):
    psutil.PROCFS_PATH = root

    # psutil seeded its last CPU times from the real /proc at import: the call at step 0
    # re-seeds them from the fixture and its (meaningless) result is not reported.
    cpu = psutil.cpu_percent(interval=None)
    cpu_percent = None if i == 0 else cpu

    vm = psutil.virtual_memory()

    parts = dedupe_by_device(psutil.disk_partitions(all=False))
    disks, mount_errors, disk_usage = [], [], {}
    for p in parts:
        try:
            u = psutil.disk_usage(p.mountpoint)
        except OSError:
            mount_errors.append(p.mountpoint)
            continue
        disks.append({"mountpoint": p.mountpoint, "device": p.device, "fstype": p.fstype,
                      "total": u.total, "used": u.used, "avail": u.free,
                      "percent": u.percent})
        disk_usage[p.mountpoint] = u.percent

    # Network. Both pernic=True and pernic=False use the same wrap cache key
    # ('psutil.net_io_counters'): _wrap_numbers runs on the raw per-NIC dict either way and
    # pernic=False only sums the wrapped per-NIC tuples afterwards. Calling it twice within
    # one step is harmless: the second call sees the very same raw values as the cached
    # ones, so it detects no new wrap and adds the same reminders. We call both, pernic=True
    # first, and check that the totals equal the sums of the per-NIC figures.
    pernic = psutil.net_io_counters(pernic=True, nowrap=True)
    total = psutil.net_io_counters(pernic=False, nowrap=True)
    pernic_out = {nic: netio(v) for nic, v in pernic.items()}
    total_out = netio(total)
    for k in NET_KEYS:
        assert total_out[k] == sum(v[k] for v in pernic_out.values()), k

    return {
        "cpu_percent": cpu_percent,
        "memory_percent": vm.percent,
        "memory": {"total": vm.total, "available": vm.available, "used": vm.used,
                   "free": vm.free, "buffers": vm.buffers, "cached": vm.cached,
                   "shared": vm.shared},
        "disks": disks,
        "mount_errors": mount_errors,
        "disk_usage": disk_usage,
        "network_io": total_out,
        "pernic": pernic_out,
        "process_count": len(psutil.pids()),
        # psutil 7.2.2 does not cache boot_time(): it reads PROCFS_PATH/stat "btime" on every
        # call (_pslinux.boot_time), so the per-step value is the fixture's.
        "boot_time": psutil.boot_time(),
    }


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: psutil_oracle.py <case_dir>")
    check_host()
    warnings.simplefilter("ignore")  # virtual_memory() warns about fields it sets to 0
    case = os.path.abspath(argv[1])
    with open(os.path.join(case, "statvfs.json"), encoding="utf-8") as f:
        install_fake_statvfs(json.load(f))
    steps_dir = os.path.join(case, "steps")
    steps = sorted((int(d) for d in os.listdir(steps_dir) if d.isdigit()))
    assert steps == list(range(len(steps))), steps
    out = {"psutil_version": psutil.__version__,
           "steps": [run_step(i, os.path.join(steps_dir, str(i))) for i in steps]}
    sys.stdout.write(json.dumps(out, sort_keys=True, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv)
