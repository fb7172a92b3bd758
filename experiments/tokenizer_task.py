"""The `tokenizer` task of video datasets, and where a run's tokenizer comes from.

`experiment.tasks=[tokenizer, training, ...]` trains a frame tokenizer on the training episodes'
frames (`algorithms.tokenizer.fit.fit_tokenizer`, settings `dataset.tokenizer.*`) and writes
`<run>/tokenizer/tokenizer.pt`, `metrics.json` (the round trip's PSNR on the validation
episodes) and `reconstructions.png`; a run that already has one (a resumed run) reuses it rather
than overwriting it. Later runs reuse a tokenizer by `dataset.tokenizer.load=<run folder, wandb id
or tokenizer.pt>`, and `load=<run>` brings its run's tokenizer with the weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from utils.config_checks import ConfigError
from utils.run_lookup import find_run, resolve_checkpoint

TOKENIZER_FILE = Path("tokenizer") / "tokenizer.pt"


def find_tokenizer(token: str, key: str, roots: Any) -> Path:
    """A tokenizer file as given, or the `tokenizer/tokenizer.pt` of the run a token names (a
    folder or a wandb id)."""
    path = Path(str(token)).expanduser()
    if path.is_file():
        return path
    run = find_run(str(token), key, roots)
    if not (run / TOKENIZER_FILE).is_file():
        raise ConfigError(f"{key}={token}: run {run} has no {TOKENIZER_FILE} (run its tokenizer "
                          f"task first)")
    return run / TOKENIZER_FILE


def tokenizer_path(cfg: DictConfig, output_dir: Path | None) -> Path | None:
    """The tokenizer a run uses: `dataset.tokenizer.load`; else this run's own (written by its
    tokenizer task, or by the run it resumes); else that of the run `load=` names; None when
    there is none yet (the tokenizer task will train it)."""
    load = cfg.dataset.tokenizer.get("load")
    if load:
        return find_tokenizer(load, "dataset.tokenizer.load", cfg.run_roots)
    if output_dir is not None and (output_dir / TOKENIZER_FILE).is_file():
        return output_dir / TOKENIZER_FILE
    if cfg.get("load"):
        checkpoint = resolve_checkpoint(cfg.load, "load", cfg.run_roots)
        beside = checkpoint.parent.parent / TOKENIZER_FILE
        if beside.is_file():
            return beside
    return None


def attach_tokenizer(data: Any, path: Path) -> Any:
    """Load the tokenizer at `path` and hand it to the dataset (a clear error if its frames are
    not the dataset's)."""
    from algorithms.tokenizer.frame_tokenizer import FrameTokenizer

    tokenizer = FrameTokenizer.load(path)
    try:
        data.attach_tokenizer(tokenizer)
    except ValueError as error:
        raise ConfigError(f"{path}: {error}") from None
    return tokenizer


def wait_for_tokenizer(data: Any, output_dir: Path, poll_seconds: float = 2.0) -> Any:
    """A DDP rank other than 0: wait until rank 0 has written the run's tokenizer (written
    atomically, so a file that exists is whole), then attach it."""
    import time

    path = output_dir / TOKENIZER_FILE
    while not path.is_file():
        time.sleep(poll_seconds)
    return attach_tokenizer(data, path)


def train_tokenizer(cfg: DictConfig, data: Any, output_dir: Path, device: Any,
                    loggers: list) -> Any:
    """Train the run's tokenizer on the dataset's training frames, write it with its metrics and
    a figure of reconstructions, attach it, and return it."""
    from algorithms.tokenizer.fit import fit_tokenizer

    settings = OmegaConf.to_container(cfg.dataset.tokenizer, resolve=True)
    frames = data.split_frames("train")
    train = frames.reshape(-1, *frames.shape[2:])
    held = data.split_frames("validation")
    validation = held.reshape(-1, *held.shape[2:])

    def log(step: int, values: dict[str, float]) -> None:
        for logger in loggers:
            logger.log_metrics(values, step=step)

    print(f"tokenizer: training on {len(train)} frames for {settings['steps']} steps", flush=True)
    tokenizer, metrics = fit_tokenizer(train, validation, settings, int(cfg.seed), device, log)
    tokenizer.to("cpu")
    out = output_dir / TOKENIZER_FILE.parent
    tokenizer.save(output_dir / TOKENIZER_FILE)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    pick = validation[np.linspace(0, len(validation) - 1, 12).astype(int)]
    from utils.video import frame_strip

    frame_strip(tokenizer.decode(tokenizer.encode(pick))[None], pick[None],
                out / "reconstructions.png",
                title=f"tokenizer round trip, validation PSNR {metrics['validation_psnr']:.1f} dB")
    for logger in loggers:
        logger.log_metrics({"tokenizer/validation_psnr": metrics["validation_psnr"]})
    print(f"tokenizer: {output_dir / TOKENIZER_FILE}; validation PSNR "
          f"{metrics['validation_psnr']:.2f} dB, {metrics['fit_seconds']:.0f} s", flush=True)
    data.attach_tokenizer(tokenizer)
    return tokenizer
