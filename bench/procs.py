"""What the benchmarks read off a server process."""

from __future__ import annotations


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB, from ``/proc/PID/status``."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
