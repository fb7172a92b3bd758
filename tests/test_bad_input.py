"""Bad input: one line on stderr naming the key and what is allowed, exit code 2, and an
existing run folder left exactly as it was (every command below points at one)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import SHRINK, run_main, run_main_without

pytestmark = pytest.mark.slow

TINY = [*[o for o in SHRINK if not o.startswith("experiment.training.max_steps")],
        "experiment.training.max_steps=4", "experiment.training.checkpoint_every_n_steps=4"]


@pytest.fixture(scope="module")
def existing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of the default algorithm, and a second folder claiming its wandb id."""
    root = tmp_path_factory.mktemp("runs")
    run = root / "existing"
    run_main(*TINY, "experiment.tasks=[training]", f"hydra.run.dir={run}", cwd=root)
    twin = root / "twin"
    twin.mkdir()
    shutil.copy(run / "run.json", twin / "run.json")
    return run


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def wandb_id(run: Path) -> str:
    return json.loads((run / "run.json").read_text())["wandb_id"]


# (overrides, the start of the one line after "error: "); "{run}", "{id}", "{file}" and "{root}"
# are filled in from the fixture.
BAD_INPUTS = [
    (["algorithm=nope"], "algorithm=nope: unknown; choose one of diffusion_forcing, ets, "
                         "flow_forcing, flow_forcing_seed, meanflow, predictive, seasonal_naive"),
    (["dataset=nope"], "dataset=nope: unknown; choose one of breakout, circular_arcs, crafter, "
                       "csv, elecdemand, eu_stock_markets, half_cheetah, hopper, pendulum, "
                       "pointmaze_large, pointmaze_medium, pointmaze_umaze, pong"),
    (["experiment=nope"], "experiment=nope: unknown; choose one of sequence_generation"),
    (["foo=bar"], "foo=bar: unknown key; "),
    (["algorithm.backbone.nme=gru"], "algorithm.backbone.nme=gru: unknown key; closest valid "
                                     "keys: algorithm.backbone.name"),
    (["experiment.training.max_step=5"], "experiment.training.max_step=5: unknown key; closest "
                                         "valid keys: experiment.training.max_steps"),
    (["seed=[1"], "seed=[1"),
    (["+dataset.colour=red"], "dataset.colour: unknown key; allowed: name, radius, "),
    (["dataset.radius=big"], "dataset.radius=big: must be a number"),
    (["experiment.training.compile=maybe"], "experiment.training.compile=maybe: must be true or "
                                            "false"),
    (["-x"], "-x: unknown flag"),
    (["dataset.train_length=-5"], "dataset.train_length=-5: must be an integer >= 3"),
    (["algorithm.context.walk_max=-1"], "algorithm.context.walk_max=-1: must be a non-negative "
     "number"),
    (["algorithm.context.corruption=clean", "algorithm.context.walk_max=0.1"],
     "algorithm.context.walk_max: needs algorithm.context.corruption=gaussian"),
    (["algorithm.sampling.calibration=median"], "algorithm.sampling.calibration=median: must "
                                                "be one of none, bias, affine, closed_loop"),
    (["algorithm.sampling.calibration=bias", "algorithm.frame=heading"],
     "algorithm.sampling.calibration=bias: needs algorithm.network.kind=split and "
     "algorithm.frame=global"),
    (["algorithm.sampling.calibration=closed_loop", "algorithm.sampling.calibration_probe=0"],
     "algorithm.sampling.calibration_probe=0: must be a positive number"),
    (["dataset=elecdemand", "algorithm.sampling.calibration=bias"],
     "algorithm.sampling.calibration=bias: dataset elecdemand gives no calibration sequences; it "
     "runs on circular_arcs"),
    (["algorithm.clip.range=box"], "algorithm.clip.range=box: must be one of none, data"),
    (["algorithm.clip.range=data", "algorithm.clip.margin=-0.1"],
     "algorithm.clip.margin=-0.1: must be a number >= 0"),
    (["algorithm=diffusion_forcing", "algorithm.sampling.schedule=pyramid",
      "algorithm.clip.range=data"], "algorithm.clip.range=data: the pyramid schedule is not "
                                    "clipped"),
    (["dataset.metric_window=2"], "dataset.metric_window=2: must be null (the training length) "
     "or an integer >= 3"),
    (["experiment.rollout.horizon=8"], "experiment.rollout.horizon=8: must be an integer >= "),
    (["algorithm.backbone.name=transformer"], "algorithm.backbone.name=transformer: must be one"),
    (["algorithm.backbone.num_layers=deep"], "algorithm.backbone.num_layers=deep: must be a "
                                             "positive integer or auto"),
    (["algorithm=diffusion_forcing", "algorithm.evaluation.rollout_nfe=[1,0]"],
     "algorithm.evaluation.rollout_nfe=[1, 0]: must be a positive integer or a non-empty list"),
    (["experiment.tasks=[training,nope]"], "experiment.tasks=['training', 'nope']: must be a "
                                          "non-empty list of tasks from forecast, planning, play, rollout, test, "
                                          "tokenizer, training, validation"),
    (["experiment.training.precision=8-bit"], "experiment.training.precision=8-bit: must be one"),
    (["algorithm.context.corruption=surrogate"], "algorithm.context.corruption=surrogate: needs"),
    (["algorithm.burn_in.loss_tokens=1"], "algorithm.burn_in.loss_tokens=1: must be null or an "
                                          "integer >= 2"),
    (["algorithm=flow_forcing_seed", "algorithm.burn_in.loss_tokens=16"],
     "algorithm.burn_in.loss_tokens: needs algorithm.network.kind=split"),
    (["algorithm.burn_in.loss_tokens=100"], "algorithm.burn_in.loss_tokens=100: more than the 64 "
                                            "tokens of the dataset's training sequences"),
    (["wandb.mode=sometimes"], "wandb.mode=sometimes: must be one of offline, online, disabled"),
    (["experiment.training.max_steps=0"], "experiment.training.max_steps=0: must be a positive"),
    (["experiment.training.batch_size=2.5"], "experiment.training.batch_size=2.5: must be"),
    (["algorithm.time_sampler.full_jump_prob=2"], "algorithm.time_sampler.full_jump_prob=2: "),
    (["-m", "seed=0,-1"], "seed=-1: must be a non-negative integer"),
    (["load=/no/such/file.ckpt"], "load=/no/such/file.ckpt: no run folder and no run with this"),
    (["load={file}"], "load={file}: not a readable checkpoint"),
    (["load={run}", "algorithm=predictive"], "load={run}/checkpoints/last.ckpt: weights do not "
                                             "fit this algorithm (checkpoint algorithm: flow_forcing"),
    (["load={run}", "algorithm.backbone.hidden_size=24"], "load={run}/checkpoints/last.ckpt: "
                                                          "weights do not fit"),
    (["resume=nosuchid", "run_roots=[{root}]"], "resume=nosuchid: no run folder and no run with "
                                                "this wandb id under {root}"),
    (["resume={id}", "run_roots=[{root}]"], "resume={id}: wandb id found in 2 run folders"),
    (["resume={run}", "load={run}"], "resume= and load= are exclusive"),
    (["resume={run}", "algorithm=predictive"], "resume={run}: the run trains algorithm "
                                               "flow_forcing, not predictive"),
    (["resume={run}", "algorithm.head.width=24"], "resume={run}/checkpoints/last.ckpt: weights "
                                                  "do not fit this algorithm"),
    (["resume={run}", "experiment.training.max_steps=8", "hydra.run.dir=/tmp/elsewhere"],
     "resume= sets the run folder itself"),
    (["-m", "resume={run}"], "resume= continues one run: drop -m"),
    (["resume={file}"], "resume={file}: not a run folder"),
    (["hydra.run.dir={file}/run"], "hydra.run.dir={file}/run: {file} exists and is not a folder"),
    (["hydra.run.dir=/proc/run"], "hydra.run.dir=/proc/run: cannot write under /proc"),
]


@pytest.mark.parametrize("overrides,message", BAD_INPUTS,
                         ids=[" ".join(o) for o, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_touches_nothing(overrides: list[str], message: str,
                                                   existing: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes((existing / "checkpoints" / "last.ckpt").read_bytes()[:1000])
    fill = {"{run}": str(existing.resolve()), "{id}": wandb_id(existing), "{file}": str(broken),
            "{root}": str(existing.parent)}
    for key, value in fill.items():
        overrides = [o.replace(key, value) for o in overrides]
        message = message.replace(key, value)
    if not any(o.startswith(("resume=", "hydra.run.dir=")) for o in overrides):
        overrides.append(f"hydra.run.dir={existing}")  # a rejected command must not touch it
    before = snapshot(existing)
    result = run_main(*overrides, cwd=tmp_path, check=False, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.stdout[-2000:], result.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), lines
    assert snapshot(existing) == before
    assert [p.name for p in tmp_path.iterdir()] == ["broken.ckpt"], "nothing new may be written"


def test_missing_wandb_package_says_how_to_install_or_disable(tmp_path: Path) -> None:
    result = run_main_without("wandb", *TINY, f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == (
        "error: wandb.mode=offline: the wandb package is not installed; pip install wandb, or "
        "run with wandb.mode=disabled (CSV log only)")
    assert not (tmp_path / "r").exists()
