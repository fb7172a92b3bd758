"""What a benchmark ran on: CPU model, cores, torch version and threads, and the load."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), or what `platform` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def describe() -> dict[str, object]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_model(), "logical_cores": os.cpu_count(), "usable_cores": usable,
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "python": platform.python_version(), "platform": platform.platform(terse=True),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def machine_line() -> str:
    m = describe()
    return (f"machine: {m['cpu']}, {m['usable_cores']} usable of {m['logical_cores']} cores, "
            f"torch {m['torch']} with {m['torch_threads']} threads "
            f"(OMP_NUM_THREADS={m['OMP_NUM_THREADS']}), CUDA: {m['cuda']}, "
            f"python {m['python']}, {m['platform']}, load average {m['load_average_1min']}")
