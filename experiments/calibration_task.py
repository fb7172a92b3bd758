"""The rollout task's residual calibration (`algorithm.sampling.calibration`; issue 29): fitted at
each NFE on the dataset's calibration sequences before the rollouts are drawn."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from experiments.summaries import vector, write_json


def fit_rollout_calibration(cfg: DictConfig, datamodule: Any, algo: Any, nfe: int,
                            out_dir: Path) -> str:
    """`algorithm.sampling.calibration` (none by default): fit the sampler's residual
    calibration at this NFE on the dataset's calibration sequences (algorithms/base/
    calibrate.py), write its report to `calibration.json`, and return the kind."""
    from algorithms.base.calibrate import fit_closed_loop, fit_residual

    kind = OmegaConf.select(cfg, "algorithm.sampling.calibration", default=None) or "none"
    if kind == "none":
        return kind
    sampling, r = cfg.algorithm.sampling, cfg.experiment.rollout
    closed = kind.startswith("closed_loop")
    default = r.context_tokens + r.horizon if closed else datamodule.train_length
    length = int(sampling.calibration_length or default)
    sequences = datamodule.calibration_sequences(int(sampling.calibration_sequences), length)
    start = time.perf_counter()
    if closed:
        report = fit_closed_loop(
            algo, kind, sequences, nfe, int(sampling.calibration_rollouts),
            datamodule.metric_window(sequences), float(sampling.calibration_probe),
            int(sampling.calibration_iterations), r.batch_size, cfg.seed,
            r.context_tokens, float(sampling.calibration_rcond))
    else:
        report = fit_residual(algo, kind, sequences, nfe, r.batch_size, cfg.seed)
    report["fit_seconds"] = time.perf_counter() - start
    write_json(report, out_dir / "calibration.json")
    print(f"calibration ({kind}, {nfe} NFE, {len(sequences)} sequences of {length} tokens): "
          f"correction per token {vector(report['bias_data'])} (data units), "
          f"{report['fit_seconds']:.1f} s", flush=True)
    return kind
