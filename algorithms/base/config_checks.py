"""Checks of the `algorithm` keys every trajectory model shares (network, context, frame, EMA):
ranges and the rules between keys. Names, types and choices are the schema's
(`config_schema.py`); the rules that need the dataset get what it declares handed in."""

from __future__ import annotations

from omegaconf import DictConfig, ListConfig, OmegaConf

from algorithms.networks.backbones import resolve_layers
from algorithms.networks.context import AUTO_NOISE_UNIT
from algorithms.networks.frame import FRAME_NEEDS
from utils.config_checks import (
    ConfigError,
    check,
    is_int,
    is_number,
    non_negative,
    positive,
    positive_int,
    probability,
)


def check_network_config(cfg: DictConfig) -> None:
    """Raise `ConfigError` naming the first bad `algorithm.*` key of the shared network: the
    ranges and the rules between keys (names, types and choices: `config_schema.py`)."""
    a = cfg.algorithm
    if a.network.kind == "seed" and \
            OmegaConf.select(cfg, "experiment.training.compile", default=False):
        raise ConfigError("algorithm.network.kind=seed: experiment.training.compile=true compiles "
                          "the per-token head, which the seed's network does not have")
    check(cfg, "algorithm.backbone.hidden_size", positive_int, "a positive integer")
    check(cfg, "algorithm.backbone.num_layers", lambda v: positive_int(v) or v == "auto",
          "a positive integer or auto")
    check(cfg, "algorithm.backbone.dropout", lambda v: is_number(v) and 0 <= v < 1, "in [0, 1)")
    if a.context.corruption == "surrogate" and a.token_space != "absolute":
        raise ConfigError("algorithm.context.corruption=surrogate: needs "
                          "algorithm.token_space=absolute (the seed's recipe)")
    if a.context.corruption == "surrogate" and a.name != "flow_forcing":
        raise ConfigError(f"algorithm.context.corruption=surrogate: only flow_forcing draws flow "
                          f"times, not {a.name}")
    check(cfg, "algorithm.context.noise_max", non_negative, "a non-negative number")
    if OmegaConf.select(cfg, "algorithm.context.clean_prob", default=None) is not None:
        check(cfg, "algorithm.context.clean_prob", probability, "in [0, 1]")
    if OmegaConf.select(cfg, "algorithm.context.walk_max", default=None) is not None:
        check(cfg, "algorithm.context.walk_max", non_negative, "a non-negative number")
        if cfg.algorithm.context.walk_max > 0 and cfg.algorithm.context.corruption != "gaussian":
            raise ConfigError("algorithm.context.walk_max: needs algorithm.context.corruption="
                              "gaussian (the walk is added to the Gaussian corruption)")
    if a.context.level_input:
        check_level_input(cfg)
    check(cfg, "algorithm.context.features", lambda v: len(v) > 0, "a non-empty list")
    check(cfg, "algorithm.head.width", positive_int, "a positive integer")
    check(cfg, "algorithm.head.depth", lambda v: is_int(v) and v >= 0, "a non-negative integer")
    check(cfg, "algorithm.head.time_dim", lambda v: positive_int(v) and v % 2 == 0,
          "a positive even integer")
    check(cfg, "algorithm.head.time_scale", positive, "a positive number")
    check_frame_config(cfg)
    check_burn_in(cfg)
    check_generation_context(cfg)
    check_calibration_config(cfg)
    check_clip_config(cfg)
    check_evaluation_config(cfg)
    check(cfg, "algorithm.ema.decay", lambda v: v is None or (is_number(v) and 0 <= v < 1),
          "null or a number in [0, 1)")


def check_burn_in(cfg: DictConfig) -> None:
    """`algorithm.burn_in.loss_tokens`: null or a positive integer, with a network whose
    recurrence reads the context alone (the seed's reruns it per flow time) and a context that
    does not depend on the flow times (the surrogate is drawn from them)."""
    tokens = OmegaConf.select(cfg, "algorithm.burn_in.loss_tokens", default=None)
    if tokens is None:
        return
    check(cfg, "algorithm.burn_in.loss_tokens", lambda v: is_int(v) and v >= 2,
          "null or an integer >= 2")
    if cfg.algorithm.network.kind == "seed":
        raise ConfigError("algorithm.burn_in.loss_tokens: needs algorithm.network.kind=split (the "
                          "seed's network reruns its recurrence at every flow time)")
    if cfg.algorithm.context.corruption == "surrogate":
        raise ConfigError("algorithm.burn_in.loss_tokens: needs algorithm.context.corruption="
                          "gaussian or clean (the surrogate is drawn from every token's flow time)")


def check_level_input(cfg: DictConfig) -> None:
    """`algorithm.context.level_input`: the recurrence reads each context token's corruption
    level (context.py). It needs a known level: the Gaussian context, the split network, and a
    sampler that feeds back clean or stabilisation-noised tokens (not pyramid estimates)."""
    if cfg.algorithm.context.corruption == "surrogate":
        raise ConfigError("algorithm.context.level_input=true: needs algorithm.context.corruption="
                          "gaussian or clean (the surrogate context has no level in data units)")
    if cfg.algorithm.network.kind != "split":
        raise ConfigError("algorithm.context.level_input=true: needs algorithm.network.kind=split")
    if OmegaConf.select(cfg, "algorithm.sampling.schedule", default=None) == "pyramid":
        raise ConfigError("algorithm.context.level_input=true: the pyramid schedule feeds back "
                          "estimates of unknown level; use algorithm.sampling.schedule="
                          "autoregressive")


def check_generation_context(cfg: DictConfig) -> None:
    """`algorithm.sampling.stabilization_noise` (noise added to the generated tokens fed back)
    and `sampling.context_level` (the level a network with `context.level_input` is told they
    have; null: the stabilisation noise), both in `context.noise_unit`, where they are given."""
    if OmegaConf.select(cfg, "algorithm.sampling.stabilization_noise", default=None) is not None:
        check(cfg, "algorithm.sampling.stabilization_noise", non_negative,
              "a non-negative number")
    if OmegaConf.select(cfg, "algorithm.sampling.context_level", default=None) is None:
        return
    check(cfg, "algorithm.sampling.context_level", non_negative, "null or a non-negative number")
    if OmegaConf.select(cfg, "algorithm.context.level_input", default=False) is not True:
        raise ConfigError("algorithm.sampling.context_level: only a network that reads its "
                          "context's level uses it; set algorithm.context.level_input=true or "
                          "leave it null")


def check_calibration_config(cfg: DictConfig) -> None:
    """`algorithm.sampling.calibration` (generation/calibration.py) and its sizes: the fit runs
    the split network's recurrence over real contexts and corrects global-frame tokens, so it
    needs the split network, the global frame and the autoregressive schedule."""
    kind = OmegaConf.select(cfg, "algorithm.sampling.calibration", default=None)
    if kind in (None, "none"):
        return
    check(cfg, "algorithm.sampling.calibration_sequences", positive_int, "a positive integer")
    if OmegaConf.select(cfg, "algorithm.sampling.calibration_length", default=None) is not None:
        check(cfg, "algorithm.sampling.calibration_length", lambda v: is_int(v) and v >= 3,
              "null or an integer >= 3")
    if kind.startswith("closed_loop"):
        check(cfg, "algorithm.sampling.calibration_rollouts", positive_int, "a positive integer")
        check(cfg, "algorithm.sampling.calibration_probe", positive, "a positive number")
        check(cfg, "algorithm.sampling.calibration_iterations", positive_int,
              "a positive integer")
        check(cfg, "algorithm.sampling.calibration_rcond", lambda v: is_number(v) and 0 <= v < 1,
              "a number in [0, 1)")
    a = cfg.algorithm
    if a.network.kind != "split" or OmegaConf.select(cfg, "algorithm.frame",
                                                     default="global") == "heading":
        raise ConfigError(f"algorithm.sampling.calibration={kind}: needs algorithm.network."
                          f"kind=split and algorithm.frame=global (it corrects global-frame tokens)")
    if OmegaConf.select(cfg, "algorithm.sampling.schedule", default=None) == "pyramid":
        raise ConfigError(f"algorithm.sampling.calibration={kind}: the pyramid schedule is not "
                          f"calibrated; use algorithm.sampling.schedule=autoregressive")


def check_clip_config(cfg: DictConfig) -> None:
    """`algorithm.clip` (generation/token_clip.py): a margin >= 0, and a sampler that decodes
    token by token (the pyramid schedule denoises a chunk at once, unclipped)."""
    if OmegaConf.select(cfg, "algorithm.clip.range", default="none") == "none":
        return
    check(cfg, "algorithm.clip.margin", lambda v: is_number(v) and v >= 0, "a number >= 0")
    if OmegaConf.select(cfg, "algorithm.sampling.schedule", default=None) == "pyramid":
        raise ConfigError("algorithm.clip.range=data: the pyramid schedule is not clipped; use "
                          "algorithm.sampling.schedule=autoregressive")


def auto_frame(cfg: DictConfig, declared: frozenset[str]) -> str:
    """What `algorithm.frame=auto` means for this config: `heading` where the dataset declares
    (`declared`: its `SYMMETRIES`) the symmetries it needs and the model supports it (the split
    network, relative tokens, no pyramid schedule), else `global`. The data's symmetries are
    declared, never assumed."""
    a = cfg.algorithm
    supported = (a.network.kind == "split" and a.token_space == "relative" and
                 OmegaConf.select(cfg, "algorithm.sampling.schedule", default=None) != "pyramid")
    return "heading" if supported and FRAME_NEEDS["heading"] <= declared else "global"


def resolve_auto(cfg: DictConfig, declared: frozenset[str],
                 noise_unit: str = AUTO_NOISE_UNIT) -> None:
    """Replace every `auto` choice of the root config by what it means for this run, so that the
    model, its checkpoint, its logs and the report hold concrete values: `algorithm.frame`
    (`auto_frame`, given the dataset's declared symmetries), `algorithm.backbone.num_layers`
    (`backbones.resolve_layers`) and `algorithm.context.noise_unit` (the dataset's declared
    `noise_unit`: `rms_step` but for frame latents)."""
    if OmegaConf.select(cfg, "algorithm.context.noise_unit", default=None) == "auto":
        cfg.algorithm.context.noise_unit = noise_unit
    if OmegaConf.select(cfg, "algorithm.frame", default=None) == "auto":
        cfg.algorithm.frame = auto_frame(cfg, declared)
    if OmegaConf.select(cfg, "algorithm.backbone.num_layers", default=None) == "auto":
        cfg.algorithm.backbone.num_layers = resolve_layers(cfg.algorithm.backbone.name, "auto")


def check_frame_symmetries(cfg: DictConfig, declared: frozenset[str]) -> None:
    """The moving frame assumes the data's continuations are rotation- and translation-
    equivariant, so `algorithm.frame=heading` needs a dataset that declares both (`declared`:
    its `SYMMETRIES`; `frame=auto` only picks it where they are declared)."""
    frame = OmegaConf.select(cfg, "algorithm.frame", default=None)
    missing = sorted(FRAME_NEEDS.get(frame, frozenset()) - declared)
    if missing:
        raise ConfigError(f"algorithm.frame={frame}: dataset {cfg.dataset.name} does not declare "
                          f"the symmetries it needs ({', '.join(missing)}); use algorithm.frame=global")


def check_evaluation_config(cfg: DictConfig) -> None:
    """`algorithm.evaluation`: the network calls per token this algorithm is evaluated at by
    default (the experiment's `validation.nfe` and `rollout.nfe` read them)."""
    if OmegaConf.select(cfg, "algorithm.evaluation", default=None) is None:
        return  # an older config without the key: the experiment's own values
    check(cfg, "algorithm.evaluation.validation_nfe", positive_int, "a positive integer")
    check(cfg, "algorithm.evaluation.rollout_nfe", lambda v: positive_int(v) or (
        isinstance(v, ListConfig) and len(v) > 0 and all(positive_int(n) for n in v)),
        "a positive integer or a non-empty list of them, e.g. [1,10]")


def check_frame_config(cfg: DictConfig) -> None:
    """`algorithm.frame` (global | heading | auto, frame.py) against the rest of the model: the
    moving frame needs the split network, relative tokens and the autoregressive schedule. Whether
    the data allow it is `check_frame_symmetries`, given the dataset's declared symmetries."""
    frame = OmegaConf.select(cfg, "algorithm.frame", default=None)
    if OmegaConf.select(cfg, "algorithm.frame_noise_scale", default=None) is not None:
        check(cfg, "algorithm.frame_noise_scale", non_negative, "a non-negative number")
    if frame in (None, "global", "auto"):
        return  # None: an older config without the key (global); auto picks what fits
    if cfg.algorithm.network.kind != "split":
        raise ConfigError(f"algorithm.frame={frame}: needs algorithm.network.kind=split")
    if cfg.algorithm.token_space != "relative":
        raise ConfigError(f"algorithm.frame={frame}: needs algorithm.token_space=relative (the "
                          f"output is the step in the moving frame)")
    if OmegaConf.select(cfg, "algorithm.sampling.schedule", default=None) == "pyramid":
        raise ConfigError(f"algorithm.frame={frame}: the pyramid schedule has no moving frame; "
                          f"use algorithm.sampling.schedule=autoregressive")
