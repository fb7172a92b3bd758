"""`python -m main` on frames, as a user runs it: the tokenizer task, then every algorithm trains
and rolls out on shrunk Pong reusing that tokenizer (`dataset.tokenizer.load`), the videos and
frame scores written, and the play task serving the model live over HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO, SHRINK, run_main

pytestmark = pytest.mark.slow

RUN = [o for o in SHRINK if not o.startswith(("dataset.", "experiment.rollout.horizon"))]
PONG = ["dataset=pong", "dataset.episodes.train=3", "dataset.episodes.validation=1",
        "dataset.episodes.test=2", "dataset.episode_length=64", "dataset.train_length=8",
        "dataset.context_tokens=2", "dataset.forecast_horizon=6", "dataset.forecast_stride=16",
        "dataset.rollout_horizon=16", "dataset.num_eval_batches=1", "dataset.tokenizer.steps=30",
        "dataset.tokenizer.width=8", "dataset.frame_eval_samples=3", "dataset.video_samples=2",
        "experiment.rollout.horizon=32", "experiment.rollout.eval_horizons=[16,32]",
        "experiment.rollout.num_samples=6", "experiment.forecast.num_samples=3",
        "experiment.forecast.num_windows=4", "experiment.validation.num_samples=4"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root, cwd = tmp_path_factory.mktemp("pong"), tmp_path_factory.mktemp("cwd")
    cache = f"dataset.cache_dir={tmp_path_factory.mktemp('video')}"
    runs = {"flow_forcing": root / "flow_forcing"}
    run_main("algorithm=flow_forcing", *RUN, *PONG, cache,
             "experiment.tasks=[tokenizer,training,rollout,forecast]",
             f"hydra.run.dir={runs['flow_forcing']}", cwd=cwd)
    for algorithm in ("diffusion_forcing", "predictive"):
        runs[algorithm] = root / algorithm
        extra = ["experiment.rollout.nfe=[1,2]", "experiment.validation.nfe=2"] \
            if algorithm == "diffusion_forcing" else []
        run_main(f"algorithm={algorithm}", *RUN, *PONG, *extra, cache,
                 f"dataset.tokenizer.load={runs['flow_forcing']}",
                 "experiment.tasks=[training,rollout,forecast]",
                 f"hydra.run.dir={runs[algorithm]}", cwd=cwd)
    assert list(cwd.iterdir()) == [], "nothing may be written relative to the current directory"
    return runs


def test_the_tokenizer_task_writes_its_file_metrics_and_figure(runs):
    folder = runs["flow_forcing"] / "tokenizer"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["steps"] == 30 and metrics["latent_dim"] == 4 * 8 * 8
    assert np.isfinite(metrics["validation_psnr"])
    assert (folder / "tokenizer.pt").is_file() and (folder / "reconstructions.png").is_file()
    for other in ("diffusion_forcing", "predictive"):  # reused, not retrained
        assert not (runs[other] / "tokenizer").exists()


@pytest.mark.parametrize("algorithm", ["flow_forcing", "diffusion_forcing", "predictive"])
def test_every_algorithm_trains_and_rolls_out_on_frames(runs, algorithm):
    run = runs[algorithm]
    sub = "nfe_1" if algorithm == "diffusion_forcing" else ""
    scores = json.loads((run / "rollout" / sub / "metrics.json").read_text())
    for key in ("histogram_distance_last@32", "sharpness_ratio_last", "edge_energy_ratio_first",
                "frames_ok_rate_last", "frames_ok_rate_data", "energy_distance_last"):
        assert key in scores and scores[key] is not None, key
    assert scores["frames_ok_rate_data"] > 0.9  # the emulator's own frames pass the checks
    with np.load(run / "rollout" / sub / "samples.npz") as f, \
            np.load(run / "rollout" / sub / "conditioning.npz") as c:
        assert f["samples"].shape == (6, 32, 256 + 3)
        # the actions are the test episodes' recorded ones: given, never generated
        assert np.array_equal(f["samples"][..., 256:], c["samples"][:, 2:, 256:])
    gif = Image.open(run / "rollout" / sub / "rollout.gif")
    assert gif.n_frames == 32
    assert (run / "rollout" / sub / "frame_strip.png").is_file()
    forecast = json.loads((run / "forecast" / sub / "metrics.json").read_text())
    for key in ("psnr_mean", "ssim_mean", "psnr_first", "tokenizer_psnr_mean", "crps_norm"):
        assert np.isfinite(forecast[key]), key
    first = json.loads((runs["flow_forcing"] / "forecast" / "metrics.json").read_text())
    # one tokenizer, the same windows: the same round-trip ceiling for every algorithm
    assert forecast["tokenizer_psnr_mean"] == pytest.approx(first["tokenizer_psnr_mean"])
    assert (run / "forecast" / sub / "forecast_frames.png").is_file()
    curves = (run / "forecast" / sub / "forecast_curves.csv").read_text().splitlines()
    assert curves[0].split(",")[:3] == ["step", "psnr", "ssim"] and len(curves) == 7


def test_the_play_task_serves_the_model_one_frame_per_action(runs, tmp_path):
    """`experiment.tasks=[play] load=<run>`: the printed URL answers /info and /step with frames
    of the data's shape, in both modes (the run at 1 NFE, Diffusion Forcing compared at 2)."""
    command = [sys.executable, "-m", "main", *RUN, *PONG, "experiment.tasks=[play]",
               f"load={runs['flow_forcing']}", "experiment.play.port=0",
               "experiment.play.max_seconds=60", f"experiment.play.compare={runs['diffusion_forcing']}",
               "experiment.play.compare_nfe=[2]", f"hydra.run.dir={tmp_path / 'play'}",
               f"dataset.cache_dir={runs['flow_forcing'].parent.parent}/none"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env={"PYTHONPATH": str(REPO), "WANDB_SILENT": "true",
                                    "WANDB_MODE": "offline", "PATH": "/usr/bin:/bin"})
    try:
        url, lines, deadline = None, [], time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"play: (http://127\.0\.0\.1:\d+/?)", line)
            url = found.group(1).rstrip("/") if found else None
        assert url, "".join(lines[-20:])
        info = json.loads(urllib.request.urlopen(f"{url}/info", timeout=30).read())
        assert info["action_names"] == ["NOOP", "UP", "DOWN"] and len(info["modes"]) == 2
        assert info["frame_shape"] == [64, 64, 1]
        for mode in info["modes"]:
            for action in (0, 1, 2):
                request = urllib.request.Request(
                    f"{url}/step", data=json.dumps({"action": action, "mode": mode}).encode(),
                    headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=30) as response:
                    frame = np.asarray(Image.open(response))
                    assert frame.shape == (64, 64) and float(response.headers["X-Step-Ms"]) > 0
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_crafter_trains_and_rolls_out_in_colour(tmp_path):
    """crafter's RGB world through the same tasks (no object checks: frame statistics only)."""
    crafter = [o.replace("dataset=pong", "dataset=crafter") for o in PONG]
    run = tmp_path / "crafter"
    run_main(*RUN, *crafter, f"dataset.cache_dir={tmp_path / 'cache'}",
             "experiment.tasks=[tokenizer,training,rollout]", f"hydra.run.dir={run}",
             cwd=tmp_path)
    scores = json.loads((run / "rollout" / "metrics.json").read_text())
    assert 0 <= scores["histogram_distance_tokenizer"] <= 1 and 0 <= scores["histogram_distance_last"] <= 1
    assert "frames_ok_rate_last" not in scores  # no objects to check in crafter
    for key in ("sharpness_ratio_last", "edge_energy_ratio_last", "motion_ratio_last"):
        assert scores[key] is not None and scores[key] >= 0, key
    frame = np.asarray(Image.open(run / "rollout" / "rollout.gif").convert("RGB"))
    assert frame.ndim == 3 and frame.std() > 1


def test_two_process_ddp_trains_the_tokenizer_once_and_shares_it(tmp_path):
    """Real DDP (gloo, 2 processes) from frames: rank 0 trains the tokenizer, rank 1 waits for
    its file, and both train on the same tokens."""
    import torch

    run = tmp_path / "ddp"
    run_main(*RUN, *PONG, f"dataset.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={run}",
             "experiment.tasks=[tokenizer,training]", "experiment.training.devices=2",
             "experiment.training.strategy=ddp", cwd=tmp_path)
    assert (run / "train_ddp_process_1.log").is_file(), "rank 1 did not run"
    assert json.loads((run / "tokenizer" / "metrics.json").read_text())["steps"] == 30
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 12
