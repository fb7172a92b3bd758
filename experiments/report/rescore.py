"""`--horizons`: score runs at horizons they did not write (`<metric>@<H>`), from their samples.

A rollout written before `experiment.rollout.eval_horizons` existed holds only its full horizon's
scores; its `samples.npz` holds every token, so the first H tokens can be scored now, by the run's
own dataset (built from its `.hydra/config.yaml`), exactly as the rollout task scores them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from experiments.report.runs import RolloutRecord


def samples_path(record: RolloutRecord) -> Path:
    """The record's `samples.npz`: `rollout/nfe_<K>/` when the run wrote one per NFE."""
    per_nfe = record.run_dir / "rollout" / f"nfe_{record.nfe}" / "samples.npz"
    return per_nfe if per_nfe.is_file() else record.run_dir / "rollout" / "samples.npz"


def score_prefix(run_dir: Path, samples: torch.Tensor, horizon: int) -> dict[str, float]:
    """The run's dataset's `evaluate` on the first `horizon` tokens, keys suffixed `@<horizon>`."""
    from datasets import DATASET_REGISTRY

    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    data = DATASET_REGISTRY[cfg.dataset.name](cfg.dataset, seed=cfg.seed, batch_size=8, max_steps=1)
    scores = data.evaluate(samples[:, :horizon])
    return {f"{k}@{horizon}": v for k, v in scores.items()
            if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))}


def rescore(records: list[RolloutRecord], horizons: list[int]) -> list[RolloutRecord]:
    """Records with `<metric>@<H>` added for every H in `horizons` that a rollout reaches and did
    not score itself (a rollout shorter than H is left as it is)."""
    out = []
    for record in records:
        missing = [h for h in horizons if not any(k.endswith(f"@{h}") for k in record.metrics)]
        if missing:
            with np.load(samples_path(record)) as archive:
                samples = torch.from_numpy(archive["samples"])
            added: dict[str, float] = {}
            for h in missing:
                if h <= samples.shape[1]:
                    added.update(score_prefix(record.run_dir, samples, h))
            record = dataclasses.replace(record, metrics={**record.metrics, **added})
        out.append(record)
    return out
