"""`run.json`: what a run folder holds, written beside its checkpoints.

Keys: `wandb_id` (null with `wandb.mode=disabled`), `wandb_mode`, `name`, `output_dir`,
`status` (`running` until every task has finished, then `finished`) and `resumes` (how many
times the run was resumed). `resume=<id>` and `load=<id>` find runs through it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RUN_INFO = "run.json"


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """The run's record, or {} when it has none (or an unreadable one)."""
    try:
        info = json.loads((Path(run_dir) / RUN_INFO).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def update_run_info(run_dir: Path, **values: Any) -> dict[str, Any]:
    """Merge `values` into `run.json`, written atomically (temp file, then rename)."""
    info = {**read_run_info(run_dir), **values}
    path = Path(run_dir) / RUN_INFO
    temporary = path.with_name(f".{RUN_INFO}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(info, indent=2) + "\n")
    os.replace(temporary, path)
    return info
