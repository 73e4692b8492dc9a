#!/usr/bin/env python3
"""Times the playbook's Python `performance_monitor` decorator (two time.time() calls, a JSON
log line through logging.FileHandler) and `PerformanceProfiler.profile_function` around an
empty function, for comparison with `#[perf_monitor]`.

    python3 benches/scripts/python_decorator.py [CALLS]
"""
import functools
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime


class StructuredLogger:
    """The playbook's logger, reduced to what the decorator uses."""

    def __init__(self, name, log_dir):
        self.logger = logging.getLogger(name)
        self.name = name
        if not self.logger.handlers:
            handler = logging.FileHandler(os.path.join(log_dir, f"{name}.log"))
            handler.setFormatter(logging.Formatter("%(message)s"))
            self.logger.addHandler(handler)
            self.logger.setLevel(logging.INFO)

    def log_structured(self, level, message, **kwargs):
        entry = {"timestamp": datetime.now().isoformat(), "level": level, "message": message,
                 "service": self.name, **kwargs}
        getattr(self.logger, level)(json.dumps(entry))


LOG_DIR = tempfile.mkdtemp(prefix="ops-rs-pydecorator-")


def performance_monitor(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        start_time = time.time()
        try:
            result = func(*args, **kwargs)
            execution_time = time.time() - start_time
            logger = StructuredLogger("performance", LOG_DIR)
            logger.log_structured("info", "Function execution", function=func.__name__,
                                  execution_time_ms=execution_time * 1000, success=True)
            return result
        except Exception as e:
            execution_time = time.time() - start_time
            logger = StructuredLogger("performance", LOG_DIR)
            logger.log_structured("error", "Function execution failed", function=func.__name__,
                                  execution_time_ms=execution_time * 1000, error=str(e), success=False)
            raise
    return wrapper


class PerformanceProfiler:
    def __init__(self):
        self.metrics = {}
        self.lock = threading.Lock()

    def profile_function(self, func_name, execution_time):
        with self.lock:
            if func_name not in self.metrics:
                self.metrics[func_name] = {"count": 0, "total_time": 0, "min_time": float("inf"), "max_time": 0}
            m = self.metrics[func_name]
            m["count"] += 1
            m["total_time"] += execution_time
            m["min_time"] = min(m["min_time"], execution_time)
            m["max_time"] = max(m["max_time"], execution_time)


def empty(x):
    return x


decorated = performance_monitor(empty)
PROFILER = PerformanceProfiler()


def profiled(x):
    start = time.time()
    r = empty(x)
    PROFILER.profile_function("empty", time.time() - start)
    return r


def per_call_ns(f, calls):
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for i in range(calls):
            f(i)
        runs.append((time.perf_counter() - t) / calls * 1e9)
    return statistics.median(runs)


def main():
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    base = per_call_ns(empty, calls)
    dec = per_call_ns(decorated, calls)
    prof = per_call_ns(profiled, calls)
    print(f"python {sys.version.split()[0]}: undecorated {base:.0f} ns/call")
    print(f"performance_monitor decorator (JSON log line to a file): {dec / 1000:.1f} us/call (+{(dec - base) / 1000:.1f} us)")
    print(f"PerformanceProfiler.profile_function: {prof / 1000:.2f} us/call (+{(prof - base) / 1000:.2f} us)")


if __name__ == "__main__":
    main()
