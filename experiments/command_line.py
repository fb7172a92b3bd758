"""The command line, checked before Hydra creates or touches any run folder.

`prepare(argv)` returns the arguments Hydra should run with, or exits: with 2 and one line on
stderr for bad input, with 0 for a finished run that has nothing left to do. It
- checks group choices (`algorithm=nope`) and unknown keys, naming the closest valid keys;
- expands `resume=<run folder or wandb id>` into that run's saved overrides, its folder and a
  fresh `.hydra/resume_<N>/` record (a resume never overwrites the run's original config);
- composes every job's config (each combination of a multirun) and validates it;
- checks the run folder can be written, wandb is installed when asked for, and `load=`/`resume=`
  checkpoints fit the algorithm.
"""

from __future__ import annotations

import difflib
import importlib.util
import itertools
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Iterator, NoReturn

import yaml
from omegaconf import DictConfig, OmegaConf

from utils.config_checks import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configurations"
GROUPS = ("experiment", "algorithm", "dataset", "cluster")
# Hydra's own flags that print, inspect or pick another config: passed through unchecked.
INSPECT_FLAGS = {"--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--version",
                 "--shell-completion", "-sc", "--resolve", "-p", "--package",
                 # another config than ours: Hydra composes and reports it as it is
                 "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                 "--experimental-rerun"}
MULTIRUN_FLAGS = {"-m", "--multirun"}


class FinishedRun(Exception):
    """`resume=` named a run with nothing left to do."""


def fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def key_of(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def value_of(overrides: list[str], key: str) -> str | None:
    values = [o.partition("=")[2] for o in overrides if key_of(o) == key and "=" in o]
    return values[-1] if values else None


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def check_group_choices(overrides: list[str]) -> None:
    """Catch `algorithm=nope` before Hydra, whose own message spans many lines. A multirun's
    `a,b` is checked name by name; other sweep syntax (`choice(...)`, ...) is left to Hydra."""
    for arg in overrides:
        key, sep, value = arg.lstrip("+~").partition("=")
        if not sep or key not in GROUPS or "(" in value or value == "null":
            continue
        for name in value.split(","):
            if name not in group_options(key):
                fail(f"{key}={name}: unknown; choose one of {', '.join(group_options(key))}")


# ----- resume --------------------------------------------------------------------------------
def saved_overrides(run_dir: Path) -> tuple[list[str], int]:
    """The task overrides a run last ran with, and how many resume records it has."""
    records = sorted((run_dir / ".hydra").glob("resume_*/overrides.yaml"),
                     key=lambda p: int(p.parent.name.split("_")[1]))
    latest = records[-1] if records else run_dir / ".hydra" / "overrides.yaml"
    try:
        overrides = yaml.safe_load(latest.read_text()) or []
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"resume={run_dir}: cannot read its saved overrides {latest} "
                          f"({type(error).__name__})") from None
    return [o for o in overrides if key_of(o) not in ("resume", "load")], len(records)


def expand_resume(overrides: list[str]) -> list[str]:
    """`resume=X extra...` -> the run's saved overrides, then `extra` (replacing any saved
    value of the same key), its folder as the run folder, and a new `.hydra/resume_<N>/`."""
    from utils.run_lookup import find_run

    token = value_of(overrides, "resume")
    if token in (None, "", "null"):
        return overrides
    if value_of(overrides, "load") not in (None, "", "null"):
        raise ConfigError("resume= and load= are exclusive: resume= continues a run (weights, "
                          "optimiser, step, data, wandb run); load= starts a new run from weights")
    roots = run_roots(overrides)
    try:
        run_dir = find_run(token, "resume", roots)
    except ConfigError:
        if value_of(overrides, "wandb.mode") != "online":
            raise
        from utils.run_lookup import fetch_online_run

        wandb_cfg = compose([o for o in overrides if key_of(o).startswith("wandb.")]).wandb
        run_dir = fetch_online_run(token, wandb_cfg.entity, wandb_cfg.project, roots[0])
    # Only the run's own folder may be named (as Lightning's DDP launcher does for rank > 0).
    given = value_of(overrides, "hydra.run.dir")
    if value_of(overrides, "hydra.sweep.dir") is not None or (
            given is not None and Path(given.strip("'\"")).expanduser().resolve() != run_dir):
        raise ConfigError("resume= sets the run folder itself: drop hydra.run.dir/hydra.sweep.dir")
    saved, records = saved_overrides(run_dir)
    extra = [o for o in overrides if key_of(o) != "resume"]
    extra_keys = {key_of(o) for o in extra}
    merged = [o for o in saved if key_of(o) not in extra_keys] + extra
    # A given hydra.output_subdir is kept: a Slurm job's tasks other than 0 pass null (one record).
    record = ([] if "hydra.output_subdir" in extra_keys
              else [f"hydra.output_subdir=.hydra/resume_{records + 1}"])
    merged = [o for o in merged if key_of(o) != "hydra.run.dir"]
    return [*merged, f"resume={run_dir}", f"hydra.run.dir={run_dir}", *record]


def run_roots(overrides: list[str]) -> list[str]:
    from utils.run_lookup import DEFAULT_ROOTS

    raw = value_of(overrides, "run_roots")
    if raw is None:
        return list(DEFAULT_ROOTS)
    value = yaml.safe_load(raw)
    return [str(v) for v in (value if isinstance(value, list) else [value])]


# ----- composition ---------------------------------------------------------------------------
def sweep_jobs(overrides: list[str]) -> Iterator[list[str]]:
    """Every combination of a multirun's comma lists and sweeps (as Hydra's basic sweeper)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    choices = []
    for override in parsed:
        if override.is_sweep_override():
            key = override.get_key_element()
            choices.append([f"{key}={v}" for v in override.sweep_string_iterator()])
        else:
            choices.append([override.input_line])
    yield from (list(job) for job in itertools.product(*choices))


def all_keys(cfg: DictConfig, prefix: str = "") -> list[str]:
    keys = []
    for key, value in cfg.items_ex(resolve=False) if isinstance(cfg, DictConfig) else []:
        path = f"{prefix}{key}"
        keys.append(path)
        if isinstance(value, DictConfig):
            keys.extend(all_keys(value, f"{path}."))
    return keys


def composition_error(error: Exception, overrides: list[str], base: DictConfig) -> str:
    """Hydra's multi-line composition error, as one line naming the key."""
    text = str(error)
    missing = re.search(r"Could not (?:override|delete) '([^']+)'", text)
    if missing and ("not in struct" in text or "To append" in text or "not found" in text):
        key = missing.group(1)
        given = next((o for o in overrides if key_of(o) == key), key)
        close = difflib.get_close_matches(key, all_keys(base), n=3, cutoff=0.5)
        hint = f"closest valid keys: {', '.join(close)}" if close else "no similar key"
        return f"{given}: unknown key; {hint} (prefix with + to add a new key)"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    return f"{' '.join(overrides)}: {first}" if len(first) < 40 else first


def compose(overrides: list[str]) -> DictConfig:
    """The config a Hydra job with these overrides gets (with its `hydra` node)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        try:
            return hydra_compose("config", overrides=overrides, return_hydra_config=True)
        except Exception as error:
            base = hydra_compose("config", return_hydra_config=False)
            raise ConfigError(composition_error(error, overrides, base)) from None


def check_writable(folder: str, key: str) -> None:
    path = Path(folder).expanduser().absolute()
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{key}={folder}: {probe} exists and is not a folder")
    try:  # a real probe: permissions, read-only mounts and root's special cases alike
        os.rmdir(tempfile.mkdtemp(prefix=".write-probe-", dir=probe))
    except OSError as error:
        raise ConfigError(f"{key}={folder}: cannot write under {probe} ({error.strerror}); "
                          f"choose another folder with {key}=...") from None


def check_job(cfg: DictConfig, multirun: bool) -> None:
    """Everything about one job that can fail before training, without writing anything."""
    from experiments.run_config import validate_config

    hydra_node = cfg.hydra
    folder = hydra_node.sweep.dir if multirun else hydra_node.run.dir
    check_writable(str(folder), "hydra.sweep.dir" if multirun else "hydra.run.dir")
    cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    validate_config(cfg)
    check_data(cfg)  # a recorded file's columns, values and length, before any folder exists
    if cfg.wandb.mode != "disabled" and importlib.util.find_spec("wandb") is None:
        raise ConfigError(f"wandb.mode={cfg.wandb.mode}: the wandb package is not installed; "
                          f"pip install wandb, or run with wandb.mode=disabled (CSV log only)")
    if cfg.get("resume"):
        check_resume(cfg, Path(cfg.resume))
    elif cfg.get("load"):
        check_load(cfg)


def check_data(cfg: DictConfig) -> None:
    """The dataset's own check of its data (`check_data(cfg)`, where it has one: recorded series
    load their file here, so a bad one fails before Hydra creates the run folder)."""
    from datasets import DATASET_REGISTRY

    dataset = DATASET_REGISTRY[cfg.dataset.name]
    if hasattr(dataset, "check_data"):
        dataset.check_data(cfg)


def check_load(cfg: DictConfig) -> None:
    from experiments.components import build_algorithm
    from utils.checkpoints import load_weights
    from utils.run_lookup import resolve_checkpoint

    path = resolve_checkpoint(str(cfg.load), "load", list(cfg.run_roots))
    load_weights(build_algorithm(cfg), path, key="load")


def check_resume(cfg: DictConfig, run_dir: Path) -> None:
    from experiments.components import build_algorithm, build_datamodule
    from utils.checkpoints import load_weights
    from utils.run_info import read_run_info

    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return  # killed before its first checkpoint: it starts again from step 0
    data = build_datamodule(cfg, run_dir)  # frames: the run's own tokenizer
    checkpoint = load_weights(build_algorithm(cfg, data), last, key="resume",
                              algorithm=cfg.algorithm.name)
    step, max_steps = int(checkpoint.get("global_step", 0)), cfg.experiment.training.max_steps
    if read_run_info(run_dir).get("status") == "finished" and step >= max_steps:
        raise FinishedRun(f"run {run_dir} already finished at step {step} "
                          f"(experiment.training.max_steps={max_steps}); nothing to do. Raise "
                          f"experiment.training.max_steps to train it further, or use load= "
                          f"to evaluate it in a new run")


def prepare(argv: list[str]) -> list[str]:
    """Checked arguments for Hydra (see the module docstring)."""
    if INSPECT_FLAGS & {a.partition("=")[0] for a in argv}:
        return argv
    flags = [a for a in argv if a.startswith("-")]
    overrides = [a for a in argv if not a.startswith("-")]
    unknown_flags = [f for f in flags if f not in MULTIRUN_FLAGS]
    multirun = bool(MULTIRUN_FLAGS & set(flags))
    try:
        if unknown_flags:
            raise ConfigError(f"{unknown_flags[0]}: unknown flag; use -m for a multirun, "
                              f"--help for help")
        check_group_choices(overrides)
        if multirun and value_of(overrides, "resume") not in (None, "null"):
            raise ConfigError("resume= continues one run: drop -m")
        overrides = expand_resume(overrides)
        for job in (sweep_jobs(overrides) if multirun else [overrides]):
            check_job(compose(job), multirun)
    except ConfigError as error:
        fail(str(error))
    except FinishedRun as done:
        print(str(done), flush=True)
        sys.exit(0)
    return flags + overrides
