#!/usr/bin/env python3
"""The playbook's StructuredLogger (json.dumps + RotatingFileHandler 10 MiB x 5), timed per call
and end to end, for comparison with ops-logging.

    python3 benches/scripts/python_logger.py [EVENTS]
"""
import json
import logging
import logging.handlers
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    d = tempfile.mkdtemp(prefix="ops-rs-pylog-")
    logger = logging.getLogger("seed")
    logger.setLevel(logging.INFO)
    handler = logging.handlers.RotatingFileHandler(os.path.join(d, "seed.log"), maxBytes=10 * 1024 * 1024, backupCount=5)
    handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    logger.addHandler(handler)
    times = []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter_ns()
        data = {"timestamp": datetime.now().isoformat(), "level": "info", "message": "HTTP Request",
                "service": "seed", "method": "GET", "path": "/api/users", "status_code": 200,
                "response_time_ms": i * 0.5}
        logger.info(json.dumps(data, ensure_ascii=False))
        times.append(time.perf_counter_ns() - t)
    total = time.perf_counter() - start
    times.sort()
    print(f"python {sys.version.split()[0]} seed logger, {n} events: p50 {times[n // 2] / 1e3:.1f} us, "
          f"p99 {times[int(n * 0.99)] / 1e3:.1f} us, mean {statistics.fmean(times) / 1e3:.1f} us, "
          f"{n / total:,.0f} lines/s")


if __name__ == "__main__":
    main()
