#!/usr/bin/env python3
"""Writes the fixture proc trees under cases/ (steps/N/... and statvfs.json).

The fixtures are committed; this script documents how their numbers were chosen and
rebuilds them. It never touches cases/<case>/psutil.json: run psutil_oracle.py for that.

    python3 make_fixtures.py            # rewrite every case
    python3 make_fixtures.py basic      # rewrite one case

Numbers are those of a 2-CPU x86_64 VM (USER_HZ 100, 4 KiB pages).
"""

import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")

# --------------------------------------------------------------------------------------
# File renderers (kernel formats)
# --------------------------------------------------------------------------------------

CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
              "guest", "guest_nice")


def render_stat(cpus, btime, processes, running, blocked, ctxt, intr):
    """cpus: list of per-CPU 10-tuples of ticks; the `cpu` line is their sum (as the kernel's)."""
    assert all(len(c) == 10 for c in cpus)
    total = [sum(c[i] for c in cpus) for i in range(10)]
    lines = ["cpu  " + " ".join(str(v) for v in total)]
    for n, c in enumerate(cpus):
        lines.append(f"cpu{n} " + " ".join(str(v) for v in c))
    # A shortened but well-formed intr line: total first, then per-IRQ counts.
    irqs = [intr // 2, intr // 4, intr // 8, intr - intr // 2 - intr // 4 - intr // 8]
    lines.append(f"intr {intr} 0 9 0 0 " + " ".join(str(v) for v in irqs) + " 0 0 0 0")
    lines.append(f"ctxt {ctxt}")
    lines.append(f"btime {btime}")
    lines.append(f"processes {processes}")
    lines.append(f"procs_running {running}")
    lines.append(f"procs_blocked {blocked}")
    lines.append(f"softirq {intr} 0 {intr // 3} 12 {intr // 5} {intr // 7} 0 44 {intr // 6} 0 {intr // 9}")
    return "\n".join(lines) + "\n"


def kb(label, value):
    return f"{label + ':':<16}{value:>8} kB"


def render_meminfo(m):
    """m: dict of the figures that matter (kB); the rest are derived or realistic constants.

    Keys: total, free, avail (None = line absent), buffers, cached, shmem, active_anon,
    inactive_anon, active_file, inactive_file, sreclaimable, sunreclaim.
    """
    lines = [kb("MemTotal", m["total"]), kb("MemFree", m["free"])]
    if m.get("avail") is not None:
        lines.append(kb("MemAvailable", m["avail"]))
    lines += [
        kb("Buffers", m["buffers"]),
        kb("Cached", m["cached"]),
        kb("SwapCached", 0),
        kb("Active", m["active_anon"] + m["active_file"]),
        kb("Inactive", m["inactive_anon"] + m["inactive_file"]),
        kb("Active(anon)", m["active_anon"]),
        kb("Inactive(anon)", m["inactive_anon"]),
        kb("Active(file)", m["active_file"]),
        kb("Inactive(file)", m["inactive_file"]),
        kb("Unevictable", 11356),
        kb("Mlocked", 10404),
        kb("SwapTotal", 2097148),
        kb("SwapFree", 2097148),
        kb("Zswap", 0),
        kb("Zswapped", 0),
        kb("Dirty", 1324),
        kb("Writeback", 0),
        kb("AnonPages", m["active_anon"] + m["inactive_anon"] - m["shmem"] // 2),
        kb("Mapped", 290008),
        kb("Shmem", m["shmem"]),
        kb("KReclaimable", m["sreclaimable"]),
        kb("Slab", m["sreclaimable"] + m["sunreclaim"]),
        kb("SReclaimable", m["sreclaimable"]),
        kb("SUnreclaim", m["sunreclaim"]),
        kb("KernelStack", 5560),
        kb("PageTables", 12120),
        kb("SecPageTables", 0),
        kb("NFS_Unstable", 0),
        kb("Bounce", 0),
        kb("WritebackTmp", 0),
        kb("CommitLimit", m["total"] // 2 + 2097148),
        kb("Committed_AS", 3326196),
        kb("VmallocTotal", 34359738367),
        kb("VmallocUsed", 34396),
        kb("VmallocChunk", 0),
        kb("Percpu", 1736),
        kb("HardwareCorrupted", 0),
        kb("AnonHugePages", 0),
        kb("ShmemHugePages", 0),
        kb("ShmemPmdMapped", 0),
        kb("FileHugePages", 0),
        kb("FilePmdMapped", 0),
        kb("Unaccepted", 0),
        f"{'HugePages_Total:':<16}{0:>8}",
        f"{'HugePages_Free:':<16}{0:>8}",
        f"{'HugePages_Rsvd:':<16}{0:>8}",
        f"{'HugePages_Surp:':<16}{0:>8}",
        kb("Hugepagesize", 2048),
        kb("Hugetlb", 0),
        kb("DirectMap4k", 251776),
        kb("DirectMap2M", 4990976),
        kb("DirectMap1G", 0),
    ]
    return "\n".join(lines) + "\n"


def _zone(name, free, wm_min, low, high, spanned, present, managed, protection, first=False,
          start_pfn=0, empty=False):
    out = [f"Node 0, zone {name:>8}"]
    if first:
        out.append("  per-node stats")
        for k, v in (("nr_inactive_anon", 28565), ("nr_active_anon", 60380),
                     ("nr_inactive_file", 124291), ("nr_active_file", 131170),
                     ("nr_unevictable", 2839), ("nr_slab_reclaimable", 22992),
                     ("nr_slab_unreclaimable", 6053), ("nr_isolated_anon", 0),
                     ("nr_isolated_file", 0), ("workingset_nodes", 14905),
                     ("nr_anon_pages", 89590), ("nr_mapped", 22527),
                     ("nr_file_pages", 257679), ("nr_dirty", 331), ("nr_writeback", 0),
                     ("nr_shmem", 2218), ("nr_kernel_stack", 1588),
                     ("nr_page_table_pages", 430)):
            out.append(f"      {k:<12} {v}")
    out += [
        f"  pages free     {free}",
        "        boost    0",
        f"        min      {wm_min}",
        f"        low      {low}",
        f"        high     {high}",
        f"        promo    {high + (high - low)}",
        f"        spanned  {spanned}",
        f"        present  {present}",
        f"        managed  {managed}",
        "        cma      0",
        f"        protection: ({', '.join(str(p) for p in protection)})",
    ]
    if empty:
        return out
    out += [
        f"      nr_free_pages {free}",
        "      nr_zone_inactive_anon 0",
        "      nr_zone_active_anon 0",
        "      nr_zone_inactive_file 0",
        "      nr_zone_active_file 0",
        "      nr_zone_unevictable 0",
        "      nr_zone_write_pending 0",
        "      nr_mlock     0",
        "      nr_zspages   0",
        "      nr_free_cma  0",
        "      numa_hit     0",
        "      numa_miss    0",
        "      numa_local   0",
        "      numa_other   0",
        "  pagesets",
    ]
    for cpu in (0, 1):
        out += [
            f"    cpu: {cpu}",
            "              count:    0",
            "              high:     0",
            "              batch:    63",
            "              high_min: 6435",
            "              high_max: 48307",
            "  vm stats threshold: 24",
        ]
    out += ["  node_unreclaimable:  0", f"  start_pfn:           {start_pfn}"]
    return out


def render_zoneinfo(low_dma, low_dma32, low_normal):
    """Zones of a 4 GiB VM; only the `low` watermarks (pages) matter to psutil, which sums
    every line starting with "low" (Movable's 32 and Device's 0 included)."""
    lines = []
    lines += _zone("DMA", 3840, low_dma * 4 // 5, low_dma, low_dma * 6 // 5, 4095, 3998, 3840,
                   (0, 2951, 3902, 3902, 3902), first=True, start_pfn=1)
    lines += _zone("DMA32", 512915, low_dma32 * 4 // 5, low_dma32, low_dma32 * 6 // 5, 1044480,
                   782298, 755579, (0, 0, 951, 951, 951), start_pfn=4096)
    lines += _zone("Normal", 102211, low_normal * 4 // 5, low_normal, low_normal * 6 // 5, 262144,
                   262144, 243651, (0, 0, 0, 0, 0), start_pfn=1048576)
    lines += _zone("Movable", 0, 32, 32, 32, 0, 0, 0, (0, 0, 0, 0, 0), empty=True)
    lines += _zone("Device", 0, 0, 0, 0, 0, 0, 0, (0, 0, 0, 0, 0), empty=True)
    return "\n".join(lines) + "\n"


def nic(rx_bytes, rx_packets, tx_bytes, tx_packets, rx_errs=0, rx_drop=0, tx_errs=0,
        tx_drop=0, multicast=0, rx_fifo=0, rx_frame=0, tx_colls=0, tx_carrier=0):
    """The 16 /proc/net/dev columns of one interface, in file order."""
    return (rx_bytes, rx_packets, rx_errs, rx_drop, rx_fifo, rx_frame, 0, multicast,
            tx_bytes, tx_packets, tx_errs, tx_drop, 0, tx_colls, tx_carrier, 0)


def render_net_dev(nics):
    lines = [
        "Inter-|   Receive                                                |  Transmit",
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
    ]
    widths = (7, 7, 4, 4, 4, 5, 10, 9, 8, 7, 4, 4, 4, 5, 7, 10)
    for name, cols in nics:
        assert len(cols) == 16
        lines.append(f"{name:>6}: " + " ".join(f"{v:>{w}}" for v, w in zip(cols, widths)))
    return "\n".join(lines) + "\n"


def render_mounts(mounts):
    """mounts: (device, mountpoint as written in the file, i.e. with \\040, fstype, options)."""
    return "".join(f"{d} {mp} {t} {o} 0 0\n" for d, mp, t, o in mounts)


FILESYSTEMS_BASE = [
    "nodev\tsysfs", "nodev\ttmpfs", "nodev\tbdev", "nodev\tproc", "nodev\tcgroup",
    "nodev\tcgroup2", "nodev\tcpuset", "nodev\tdevtmpfs", "nodev\tconfigfs", "nodev\tdebugfs",
    "nodev\ttracefs", "nodev\tsecurityfs", "nodev\tsockfs", "nodev\tbpf", "nodev\tpipefs",
    "nodev\tramfs", "nodev\thugetlbfs", "nodev\tdevpts", "\text3", "\text2", "\text4",
    "\tsquashfs", "\tvfat", "nodev\tecryptfs", "\tfuseblk", "nodev\tfuse", "nodev\tfusectl",
    "nodev\tefivarfs", "nodev\tmqueue", "nodev\tpstore", "\tbtrfs", "nodev\tautofs",
    "nodev\tbinfmt_misc", "nodev\toverlay", "\txfs",
]


def render_filesystems(extra=()):
    return "\n".join(FILESYSTEMS_BASE + list(extra)) + "\n"


# Mounts every Linux box has; all nodev, so psutil never selects them.
VIRTUAL_MOUNTS = [
    ("sysfs", "/sys", "sysfs", "rw,nosuid,nodev,noexec,relatime"),
    ("proc", "/proc", "proc", "rw,nosuid,nodev,noexec,relatime"),
    ("udev", "/dev", "devtmpfs", "rw,nosuid,relatime,size=1966708k,nr_inodes=491677,mode=755,inode64"),
    ("devpts", "/dev/pts", "devpts", "rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=000"),
    ("tmpfs", "/run", "tmpfs", "rw,nosuid,nodev,noexec,relatime,size=402600k,mode=755,inode64"),
]


# --------------------------------------------------------------------------------------
# Step writer
# --------------------------------------------------------------------------------------

def write_step(root, *, stat, meminfo, zoneinfo, net_dev, mounts, filesystems, pids,
               loadavg, uptime):
    os.makedirs(root)
    files = {
        "stat": stat,
        "meminfo": meminfo,
        "net/dev": net_dev,
        "self/mounts": mounts,
        "filesystems": filesystems,
        "loadavg": loadavg,
        "uptime": uptime,
        # Non-numeric entries of a real /proc, never counted as processes.
        "version": "Linux version 6.8.0-45-generic (buildd@lcy02-amd64-115) (x86_64-linux-gnu-gcc-13 (Ubuntu 13.2.0-23ubuntu4) 13.2.0, GNU ld (GNU Binutils for Ubuntu) 2.42) #45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024\n",
        "cmdline": "BOOT_IMAGE=/vmlinuz-6.8.0-45-generic root=UUID=1c3b5e2a-7f0e-4e55-9d2c-3a1f0b6c2d11 ro console=ttyS0\n",
        "sys/kernel/pid_max": "4194304\n",
        "thread-self/comm": "python3\n",
        "acpi/wakeup": "",
        "1x/placeholder": "",  # a name that starts with digits but is not all digits
    }
    if zoneinfo is not None:
        files["zoneinfo"] = zoneinfo
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    for pid in pids:
        assert str(pid).isdigit()
        open(os.path.join(root, str(pid)), "w").close()


def write_case(name, statvfs, steps):
    case = os.path.join(CASES, name)
    os.makedirs(case, exist_ok=True)
    shutil.rmtree(os.path.join(case, "steps"), ignore_errors=True)
    with open(os.path.join(case, "statvfs.json"), "w", encoding="utf-8") as f:
        json.dump(statvfs, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    for i, step in enumerate(steps):
        write_step(os.path.join(case, "steps", str(i)), **step)


def sv(blocks, bfree, bavail, bsize=4096, frsize=None, files=1000000, ffree=500000):
    return {"f_bsize": bsize, "f_frsize": bsize if frsize is None else frsize,
            "f_blocks": blocks, "f_bfree": bfree, "f_bavail": bavail,
            "f_files": files, "f_ffree": ffree}


def add(a, b):
    return tuple(x + y for x, y in zip(a, b))


def cpu_walk(start, deltas):
    """start: per-CPU 10-tuples; deltas: per step, per CPU 10-tuples. Returns per-step lists."""
    out = [list(start)]
    for d in deltas:
        out.append([add(c, dc) for c, dc in zip(out[-1], d)])
    return out


def pid_set(base, extra):
    return sorted(set(base) | set(extra))


BASE_PIDS = [1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 57, 58,
             91, 112, 245, 301, 388, 412, 533, 560, 601, 602, 745, 812, 901, 1022, 1203, 1204,
             1377, 2044]


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------

def case_basic():
    cpus = cpu_walk(
        [(160312, 1210, 70411, 8123410, 20433, 0, 3012, 912, 0, 0),
         (158907, 1050, 71920, 8130022, 18610, 0, 2201, 877, 0, 0)],
        [
            # ~5 s on 2 CPUs = ~1000 ticks
            [(61, 0, 22, 402, 6, 0, 3, 1, 0, 0), (47, 2, 19, 421, 4, 0, 2, 1, 0, 0)],
            [(212, 0, 61, 213, 9, 0, 8, 2, 0, 0), (190, 0, 55, 239, 7, 0, 5, 1, 0, 0)],
        ],
    )
    mem = [
        dict(total=8130372, free=3221840, avail=6105232, buffers=212944, cached=2543120,
             shmem=48220, active_anon=1240564, inactive_anon=410220, active_file=1402332,
             inactive_file=1105820, sreclaimable=301220, sunreclaim=91100),
        dict(total=8130372, free=3190512, avail=6081028, buffers=212960, cached=2546608,
             shmem=48220, active_anon=1268448, inactive_anon=410224, active_file=1402512,
             inactive_file=1109120, sreclaimable=301488, sunreclaim=91212),
        dict(total=8130372, free=2651004, avail=5544716, buffers=213012, cached=2549980,
             shmem=52316, active_anon=1794212, inactive_anon=420004, active_file=1402880,
             inactive_file=1111296, sreclaimable=301612, sunreclaim=91840),
    ]
    mounts = VIRTUAL_MOUNTS[:4] + [
        ("/dev/vda1", "/", "ext4", "rw,relatime,discard,errors=remount-ro"),
        ("securityfs", "/sys/kernel/security", "securityfs", "rw,nosuid,nodev,noexec,relatime"),
        ("tmpfs", "/dev/shm", "tmpfs", "rw,nosuid,nodev,inode64"),
        VIRTUAL_MOUNTS[4],
        ("cgroup2", "/sys/fs/cgroup", "cgroup2", "rw,nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot"),
        ("/dev/vda15", "/boot/efi", "vfat", "rw,relatime,fmask=0077,dmask=0077,codepage=437,iocharset=iso8859-1,shortname=mixed,errors=remount-ro"),
        ("overlay", "/var/lib/docker/overlay2/x/merged", "overlay",
         "rw,relatime,lowerdir=/var/lib/docker/overlay2/l/ABC:/var/lib/docker/overlay2/l/DEF,upperdir=/var/lib/docker/overlay2/x/diff,workdir=/var/lib/docker/overlay2/x/work"),
        # A file bind mount of the root device (as a container runtime makes): same device as
        # "/", so the crate's dedupe drops it while psutil lists it.
        ("/dev/vda1", "/etc/hosts", "ext4", "rw,relatime,discard,errors=remount-ro"),
        ("tmpfs", "/run/user/1000", "tmpfs", "rw,nosuid,nodev,relatime,size=813036k,nr_inodes=203259,mode=700,uid=1000,gid=1000,inode64"),
    ]
    # Root: 30 GiB, 5% reserved (393216 blocks): used/(used+avail) > (total-avail)/total.
    root = sv(7864320, 3019011, 2625795, files=1966080, ffree=1712331)
    statvfs = {
        "/": root,
        "/etc/hosts": root,
        "/boot/efi": sv(213716, 201316, 201316, bsize=512, files=0, ffree=0),
    }
    nets = [
        [("lo", nic(81234567, 301234, 81234567, 301234)),
         ("eth0", nic(7834120912, 6120344, 912334871, 2801223, rx_drop=14, multicast=1022))],
        [("lo", nic(81299103, 301506, 81299103, 301506)),
         ("eth0", nic(7834920012, 6121022, 912501211, 2801900, rx_drop=14, multicast=1025))],
        [("lo", nic(81410021, 301999, 81410021, 301999)),
         ("eth0", nic(7899120042, 6170020, 915001992, 2823300, rx_drop=15, multicast=1031))],
    ]
    pids = [BASE_PIDS, pid_set(BASE_PIDS, [2101, 2102]), pid_set(BASE_PIDS, [2101, 2110, 2111, 2112])]
    # btime is computed by the kernel from the wall clock and uptime, so it can move by a
    # second between reads: step 2 shows it, proving psutil does not cache boot_time().
    btimes = [1726500000, 1726500000, 1726500001]
    steps = []
    for i in range(3):
        steps.append(dict(
            stat=render_stat(cpus[i], btimes[i], 21044 + 10 * i, 2 + i % 2, 0, 98123456 + 51234 * i, 40123456 + 20111 * i),
            meminfo=render_meminfo(mem[i]),
            zoneinfo=render_zoneinfo(63, 12870, 4134),
            net_dev=render_net_dev(nets[i]),
            mounts=render_mounts(mounts),
            filesystems=render_filesystems(),
            pids=pids[i],
            loadavg=f"0.{42 + i} 0.38 0.31 {2 + i % 2}/{211 + i} {2044 + 10 * i}\n",
            uptime=f"{61234.56 + 5 * i:.2f} {120111.02 + 9.4 * i:.2f}\n",
        ))
    write_case("basic", statvfs, steps)


def case_no_memavailable():
    cpus = cpu_walk(
        [(50312, 210, 20411, 2123410, 3433, 0, 812, 0, 0, 0),
         (49907, 150, 21920, 2130022, 2610, 0, 701, 0, 0, 0)],
        [
            [(101, 0, 32, 352, 6, 0, 3, 0, 0, 0), (87, 2, 29, 371, 4, 0, 2, 0, 0, 0)],
            [(22, 0, 11, 461, 1, 0, 1, 0, 0, 0), (30, 0, 9, 459, 0, 0, 1, 0, 0, 0)],
        ],
    )
    # A 4 GiB VM. Watermarks (pages) per step: (DMA, DMA32, Normal); Movable adds 32.
    common = dict(total=4026012, buffers=98120, shmem=20120, active_anon=602210,
                  inactive_anon=180220, sunreclaim=60112)
    mem = [
        # Step 0: no MemAvailable; zoneinfo present; low sum = 63 + 12870 + 4134 + 32 =
        # 17099 pages = 70037504 B. pagecache/2 (~745 MB) and SReclaimable/2 (~93 MB) are
        # both > wm -> both min()s take the watermark.
        dict(common, free=1012344, avail=None, cached=1622120, active_file=820112,
             inactive_file=634500, sreclaimable=181234),
        # Step 1: "MemAvailable: 0 kB" (psutil#1915); the admin raised the watermarks
        # (vm.watermark_scale_factor): Normal low = 280000 pages, sum 292965 pages
        # = 1199984640 B > pagecache/2 (~732 MB) and > SReclaimable/2 (~41 MB) -> both
        # min()s take the half.
        dict(common, free=1190788, avail=0, cached=1599332, active_file=812004,
             inactive_file=618120, sreclaimable=80990),
        # Step 2: no MemAvailable and no zoneinfo: fallback MemFree + Cached (SReclaimable
        # not included, unlike the reported "cached").
        dict(common, free=1184500, avail=None, cached=1601004, active_file=812880,
             inactive_file=619004, sreclaimable=81002),
    ]
    zones = [render_zoneinfo(63, 12870, 4134), render_zoneinfo(63, 12870, 280000), None]
    mounts = VIRTUAL_MOUNTS + [("/dev/sda1", "/", "ext4", "rw,relatime")]
    statvfs = {"/": sv(10485504, 7302219, 6778955, files=2621440, ffree=2401100)}
    nets = [
        [("lo", nic(1234567, 12001, 1234567, 12001)),
         ("ens3", nic(512334120, 402112, 98334120, 210334))],
        [("lo", nic(1235567, 12011, 1235567, 12011)),
         ("ens3", nic(512934120, 402900, 98534120, 210934))],
        [("lo", nic(1236567, 12021, 1236567, 12021)),
         ("ens3", nic(513004120, 403011, 98554120, 210998))],
    ]
    steps = []
    for i in range(3):
        steps.append(dict(
            stat=render_stat(cpus[i], 1726400000, 9044 + 3 * i, 1, 0, 18123456 + 9234 * i, 10123456 + 3111 * i),
            meminfo=render_meminfo(dict(mem[i], **{k: v for k, v in common.items() if k not in mem[i]})),
            zoneinfo=zones[i],
            net_dev=render_net_dev(nets[i]),
            mounts=render_mounts(mounts),
            filesystems=render_filesystems(),
            pids=pid_set(BASE_PIDS[:30], [3000 + i]),
            loadavg=f"0.0{5 + i} 0.11 0.09 1/150 {3000 + i}\n",
            uptime=f"{9101.77 + 5 * i:.2f} {17001.40 + 9.9 * i:.2f}\n",
        ))
    write_case("no_memavailable", statvfs, steps)


def case_counter_wrap():
    cpus = cpu_walk(
        [(20312, 110, 10411, 1123410, 433, 0, 5812, 0, 0, 0),
         (19907, 50, 11920, 1130022, 610, 0, 6701, 0, 0, 0)],
        [[(31, 0, 40, 400, 1, 0, 30, 0, 0, 0), (29, 0, 42, 401, 0, 0, 28, 0, 0, 0)]] * 4,
    )
    mem = dict(total=2014228, free=801220, avail=1402112, buffers=40112, cached=602330,
               shmem=10120, active_anon=302210, inactive_anon=80220, active_file=300112,
               inactive_file=254500, sreclaimable=51234, sunreclaim=30112)
    lo = [nic(5123400 + 100000 * i, 40120 + 800 * i, 5123400 + 100000 * i, 40120 + 800 * i)
          for i in range(5)]
    # eth0 on a driver with 32-bit counters: rx bytes wraps between steps 1 and 2
    # (4294800000 -> 2100000, 2^32 = 4294967296), tx packets too (4294966000 -> 1500).
    eth0 = [
        nic(4293000000, 3120112, 2200112334, 4294960000, rx_errs=2, rx_drop=31, multicast=500),
        nic(4294800000, 3121400, 2201912334, 4294966000, rx_errs=2, rx_drop=31, multicast=502),
        nic(2100000, 3122700, 2203712334, 1500, rx_errs=2, rx_drop=32, multicast=503),
        nic(90000000, 3190200, 2290712334, 9000, rx_errs=3, rx_drop=32, multicast=510),
        nic(180000000, 3260210, 2380712334, 15000, rx_errs=3, rx_drop=32, multicast=517),
    ]
    # veth1 (a container's link): its tx bytes go backwards at step 2 (counter reset), so
    # psutil holds a reminder for it; it vanishes at step 3 (reminders forgotten) and comes
    # back at step 4 as a new interface with small raw counters.
    veth1 = [
        nic(52000000, 40100, 7100000, 30020, rx_drop=7),
        nic(52600000, 40600, 7300000, 30400, rx_drop=7),
        nic(53100000, 41000, 300000, 30700, rx_drop=8),
        None,
        nic(1800, 20, 2400, 24),
    ]
    mounts = VIRTUAL_MOUNTS + [("/dev/xvda1", "/", "xfs", "rw,relatime,attr2,inode64,logbufs=8,logbsize=32k,noquota")]
    statvfs = {"/": sv(5242363, 3100001, 3100001, files=10485232, ffree=10301122)}
    steps = []
    for i in range(5):
        nics = [("lo", lo[i]), ("eth0", eth0[i])]
        if veth1[i] is not None:
            nics.append(("veth1", veth1[i]))
        steps.append(dict(
            stat=render_stat(cpus[i], 1726300000, 5044 + 3 * i, 1, 0, 8123456 + 9234 * i, 5123456 + 3111 * i),
            meminfo=render_meminfo(mem),
            zoneinfo=render_zoneinfo(31, 6435, 2000),
            net_dev=render_net_dev(nics),
            mounts=render_mounts(mounts),
            filesystems=render_filesystems(),
            pids=pid_set(BASE_PIDS[:25], [4000 + j for j in range(i)]),
            loadavg=f"1.{10 + i} 0.91 0.80 2/120 {4000 + i}\n",
            uptime=f"{4101.70 + 5 * i:.2f} {7001.12 + 8.1 * i:.2f}\n",
        ))
    write_case("counter_wrap", statvfs, steps)


def case_guest_time():
    # A KVM host (guests' time shows in guest/guest_nice, already counted in user/nice)
    # that is itself a guest of something else (steal).
    cpus = cpu_walk(
        [(912312, 33110, 210411, 6123410, 40433, 0, 15812, 22011, 301220, 12011),
         (899907, 31050, 211920, 6130022, 39610, 0, 16701, 21877, 299870, 11877)],
        [
            # Step 1: aggregate deltas user 50 (guest 12), nice 6 (guest_nice 3), system 24,
            # idle 680, iowait 22, irq 3, softirq 7, steal 8: busy 98 of total 800 ticks,
            # i.e. 12.25 % in exact arithmetic; psutil's float arithmetic decides the side.
            [(27, 4, 12, 338, 12, 2, 4, 4, 7, 2), (23, 2, 12, 342, 10, 1, 3, 4, 5, 1)],
            # Step 2: iowait goes backwards on cpu1 (aggregate -35 ticks, the NO_HZ iowait
            # accounting bug): psutil clamps that delta to 0.
            [(160, 0, 44, 290, 5, 0, 6, 16, 50, 0), (140, 0, 46, 270, -40, 0, 6, 14, 50, 0)],
            # Step 3: nothing changed at all (two reads within one tick): total delta 0.
            [(0,) * 10, (0,) * 10],
        ],
    )
    assert all(v >= 0 for step in cpus for c in step for v in c)
    mem = dict(total=16318412, free=4801220, avail=9402112, buffers=340112, cached=4602330,
               shmem=110120, active_anon=5302210, inactive_anon=880220, active_file=2300112,
               inactive_file=2154500, sreclaimable=451234, sunreclaim=130112)
    mounts = VIRTUAL_MOUNTS + [
        ("/dev/nvme0n1p2", "/", "btrfs", "rw,relatime,ssd,space_cache=v2,subvolid=256,subvol=/@"),
        ("/dev/nvme0n1p2", "/home", "btrfs", "rw,relatime,ssd,space_cache=v2,subvolid=257,subvol=/@home"),
        ("/dev/nvme0n1p1", "/boot/efi", "vfat", "rw,relatime,fmask=0077,dmask=0077"),
    ]
    statvfs = {
        "/": sv(244190208, 150120331, 149900120, files=0, ffree=0),
        "/home": sv(244190208, 150120331, 149900120, files=0, ffree=0),
        "/boot/efi": sv(1046512, 1031280, 1031280, bsize=512, files=0, ffree=0),
    }
    nets = [[("lo", nic(91234567, 401234, 91234567, 401234)),
             ("enp3s0", nic(88834120912 + 7000000 * i, 71120344 + 6000 * i, 1912334871 + 900000 * i, 9801223 + 3000 * i)),
             ("virbr0", nic(1200000 + 1000 * i, 12000 + 10 * i, 3300000 + 2000 * i, 22000 + 20 * i))]
            for i in range(4)]
    steps = []
    for i in range(4):
        steps.append(dict(
            stat=render_stat(cpus[i], 1726000000, 121044 + 7 * i, 3, 1 if i == 2 else 0, 998123456 + 51234 * i, 540123456 + 20111 * i),
            meminfo=render_meminfo(mem),
            zoneinfo=render_zoneinfo(63, 12870, 40134),
            net_dev=render_net_dev(nets[i]),
            mounts=render_mounts(mounts),
            filesystems=render_filesystems(),
            pids=pid_set(BASE_PIDS, [7001, 7002, 7003]),
            loadavg=f"2.{10 + i} 1.91 1.80 3/420 {7003 + i}\n",
            uptime=f"{501234.70 + 4 * i:.2f} {901001.12 + 6.8 * i:.2f}\n",
        ))
    write_case("guest_time", statvfs, steps)


def case_odd_mounts():
    cpus = cpu_walk(
        [(30312, 110, 10411, 923410, 1433, 0, 812, 0, 0, 0),
         (29907, 50, 11920, 930022, 1610, 0, 701, 0, 0, 0)],
        [[(51, 0, 20, 420, 3, 0, 2, 0, 0, 0), (49, 0, 22, 421, 2, 0, 1, 0, 0, 0)]],
    )
    mem = dict(total=8130372, free=2221840, avail=5105232, buffers=212944, cached=2843120,
               shmem=48220, active_anon=1940564, inactive_anon=410220, active_file=1502332,
               inactive_file=1205820, sreclaimable=301220, sunreclaim=91100)
    mounts = VIRTUAL_MOUNTS + [
        ("/dev/sda2", "/", "ext4", "rw,relatime,errors=remount-ro"),
        ("/dev/sda1", "/boot/efi", "vfat", "rw,relatime,fmask=0077,dmask=0077,codepage=437,iocharset=iso8859-1,shortname=mixed,errors=remount-ro"),
        # Snap: squashfs on a loop device, always 100 % full.
        ("/dev/loop3", "/snap/core20/2318", "squashfs", "ro,nodev,relatime,errors=continue,threads=single"),
        # A mount point with a space, octal-escaped by the kernel.
        ("/dev/sdb1", "/mnt/my\\040disk", "ext4", "rw,nosuid,nodev,relatime"),
        # Device "none" on a physical fstype: psutil maps it to "" and skips it.
        ("none", "/mnt/none", "ext4", "rw,relatime"),
        # ZFS: listed as "nodev\tzfs" but psutil keeps it; the device is the dataset name.
        ("rpool/data", "/data", "zfs", "rw,relatime,xattr,noacl,casesensitive"),
        # NTFS through FUSE (fuseblk is a block filesystem: no nodev). Unplugged at step 1.
        ("/dev/sdc1", "/media/usb", "fuseblk", "rw,nosuid,nodev,relatime,user_id=0,group_id=0,default_permissions,allow_other,blksize=4096"),
        # A vfat stick whose statvfs fails with EACCES: goes to mount_errors.
        ("/dev/sdd1", "/mnt/secret", "vfat", "rw,nosuid,nodev,relatime,uid=1000,gid=1000,fmask=0077,dmask=0077"),
        # NFS is nodev: excluded.
        ("nas.lan:/export/media", "/mnt/nfs", "nfs4", "rw,relatime,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,hard,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=192.168.1.20,local_lock=none,addr=192.168.1.5"),
        # Two devices whose used/(used+avail)*100 is exactly 12.25 and 12.75 as doubles:
        # Python's round(x, 1) rounds half to even -> 12.2 and 12.8.
        ("/dev/nvme0n1p1", "/var/lib/postgresql", "ext4", "rw,noatime"),
        ("/dev/sde1", "/srv/backup", "xfs", "rw,relatime,attr2,inode64,logbufs=8,logbsize=32k,noquota"),
        # Same device twice, the longer mount point first: the survivor is the later /srv.
        ("/dev/sdf1", "/var/lib/archive", "ext4", "rw,relatime"),
        ("/dev/sdf1", "/srv", "ext4", "rw,relatime"),
        # Same device twice with equally long mount points: the first (/mnt/aa) survives.
        ("/dev/sdg1", "/mnt/aa", "btrfs", "rw,relatime,subvolid=5,subvol=/"),
        ("/dev/sdg1", "/mnt/bb", "btrfs", "rw,relatime,subvolid=5,subvol=/"),
    ]
    mounts_step1 = [m for m in mounts if m[1] != "/media/usb"]
    statvfs = {
        "/": sv(60719104, 41002311, 37967187, files=15179776, ffree=14101221),
        "/boot/efi": sv(1098628, 1084484, 1084484, bsize=512),
        "/snap/core20/2318": sv(512, 0, 0, bsize=131072, files=12000, ffree=0),
        "/mnt/my disk": sv(244190208, 101234567, 89024356, files=61054976, ffree=60999001),
        "/data": sv(7443214, 4102211, 4102211, bsize=131072, files=8402211, ffree=8400001),
        # f_frsize (1024) differs from f_bsize (4096): psutil multiplies by f_frsize.
        "/media/usb": sv(122091264, 80012345, 80012345, bsize=4096, frsize=1024, files=0, ffree=0),
        "/mnt/secret": {"error": "EACCES"},
        # 24901600 user-visible blocks, 3050446 used: 12.25 exactly.
        "/var/lib/postgresql": sv(26212320, 23161874, 21851154, files=6553600, ffree=6500000),
        # 7862000 blocks, 1002405 used, no reserve: 12.75 exactly.
        "/srv/backup": sv(7862000, 6859595, 6859595, files=15724000, ffree=15700000),
        "/srv": sv(2621440, 1500000, 1368928, files=655360, ffree=600000),
        "/var/lib/archive": sv(2621440, 1500000, 1368928, files=655360, ffree=600000),
        "/mnt/aa": sv(4194304, 3000000, 3000000, files=0, ffree=0),
        "/mnt/bb": sv(4194304, 3000000, 3000000, files=0, ffree=0),
    }
    nets = [[("lo", nic(1234567 + 1000 * i, 12001 + 10 * i, 1234567 + 1000 * i, 12001 + 10 * i)),
             ("wlp2s0", nic(2512334120 + 912000 * i, 2402112 + 700 * i, 198334120 + 52000 * i, 310334 + 300 * i, rx_drop=120, multicast=9123))]
            for i in range(2)]
    steps = []
    for i in range(2):
        steps.append(dict(
            stat=render_stat(cpus[i], 1726200000, 31044 + 5 * i, 1, 0, 38123456 + 9234 * i, 20123456 + 3111 * i),
            meminfo=render_meminfo(mem),
            zoneinfo=render_zoneinfo(63, 12870, 8134),
            net_dev=render_net_dev(nets[i]),
            mounts=render_mounts(mounts if i == 0 else mounts_step1),
            filesystems=render_filesystems(["nodev\tnfs", "nodev\tnfs4", "nodev\tzfs"]),
            pids=pid_set(BASE_PIDS, [5001 + i]),
            loadavg=f"0.3{i} 0.41 0.50 1/300 {5001 + i}\n",
            uptime=f"{3101.70 + 5 * i:.2f} {5001.12 + 8.1 * i:.2f}\n",
        ))
    write_case("odd_mounts", statvfs, steps)


def case_memory_edges():
    cpus = cpu_walk(
        [(10312, 110, 5411, 423410, 433, 0, 812, 0, 0, 0),
         (9907, 50, 5920, 430022, 610, 0, 701, 0, 0, 0)],
        [[(151, 0, 60, 270, 3, 0, 12, 0, 0, 0), (149, 0, 62, 271, 2, 0, 11, 0, 0, 0)]],
    )
    # MemTotal 4026000 kB: used/total*100 lands on "xx.x5" doubles.
    mem = [
        # Step 0: MemAvailable (the host's, inside an LXC container) > MemTotal: psutil uses
        # MemFree. used = 1511763 kB -> the double 37.55 is below 37.55 exactly: 37.5
        # (a naive round(x*10)/10 gives 37.6).
        dict(total=4026000, free=2514237, avail=16284112, buffers=80120, cached=1202330,
             shmem=30120, active_anon=1302210, inactive_anon=280220, active_file=700112,
             inactive_file=554500, sreclaimable=91234, sunreclaim=50112),
        # Step 1: MemAvailable 2518263 kB, used = 1507737 kB -> the double printed 37.45 is
        # above 37.45 exactly: 37.5 (rounding the shortest repr half-even gives 37.4).
        dict(total=4026000, free=1801220, avail=2518263, buffers=80120, cached=802330,
             shmem=30120, active_anon=1302210, inactive_anon=280220, active_file=400112,
             inactive_file=354500, sreclaimable=91234, sunreclaim=50112),
    ]
    mounts = VIRTUAL_MOUNTS + [("/dev/vda1", "/", "ext4", "rw,relatime")]
    statvfs = {"/": sv(2621440, 1310720, 1179648, files=655360, ffree=600000)}
    nets = [[("lo", nic(234567 + 1000 * i, 2001 + 10 * i, 234567 + 1000 * i, 2001 + 10 * i)),
             ("eth0", nic(12334120 + 91200 * i, 22112 + 70 * i, 8334120 + 5200 * i, 10334 + 30 * i))]
            for i in range(2)]
    steps = []
    for i in range(2):
        steps.append(dict(
            stat=render_stat(cpus[i], 1726100000, 1044 + 5 * i, 1, 0, 3123456 + 9234 * i, 2123456 + 3111 * i),
            meminfo=render_meminfo(mem[i]),
            zoneinfo=render_zoneinfo(31, 6435, 2000),
            net_dev=render_net_dev(nets[i]),
            mounts=render_mounts(mounts),
            filesystems=render_filesystems(),
            pids=BASE_PIDS[:12],
            loadavg=f"0.0{i} 0.01 0.00 1/90 {300 + i}\n",
            uptime=f"{1101.70 + 5 * i:.2f} {2001.12 + 8.1 * i:.2f}\n",
        ))
    write_case("memory_edges", statvfs, steps)


ALL = {
    "basic": case_basic,
    "no_memavailable": case_no_memavailable,
    "counter_wrap": case_counter_wrap,
    "guest_time": case_guest_time,
    "odd_mounts": case_odd_mounts,
    "memory_edges": case_memory_edges,
}


def main(argv):
    names = argv[1:] or list(ALL)
    for name in names:
        ALL[name]()
        print(f"wrote cases/{name}")


if __name__ == "__main__":
    main(sys.argv)
