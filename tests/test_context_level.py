"""The context's corruption level as an input (`algorithm.context.level_input`, context.py),
without Lightning: the column it adds, step mode = sequence mode, what the sampler tells the
network, the default left alone, and the configs it refuses."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from algorithms.generation.sampler import StreamingSampler
from algorithms.networks.build import build_network
from algorithms.networks.context import (
    ContextFeatures,
    gaussian_corruption,
    rms_step,
    shift_right,
)
from algorithms.networks.frame import HeadingContextFeatures
from experiments import command_line as main
from experiments.run_config import validate_config
from utils.config_checks import ConfigError

STATS = {k: torch.tensor(v) for k, v in {
    "token_mean": [0.05, -0.02], "token_std": [1.4, 1.3], "first_mean": [0.1, -0.1],
    "first_std": [1.5, 1.4], "step_mean": [0.03, -0.04], "step_std": [0.06, 0.08]}.items()}
RMS = (0.06 ** 2 + 0.08 ** 2 + 0.03 ** 2 + 0.04 ** 2) ** 0.5


def network(frame: str = "global", level_input: bool = True, seed: int = 0):
    cfg = OmegaConf.load(main.CONFIG_DIR / "algorithm" / "flow_forcing.yaml")
    cfg.frame, cfg.context.level_input = frame, level_input
    cfg.backbone.hidden_size, cfg.head.width, cfg.head.time_dim = 16, 16, 8
    torch.manual_seed(seed)
    return build_network(cfg, 2, STATS).eval()


def test_rms_step_is_the_root_mean_square_step_length() -> None:
    assert rms_step(STATS).item() == pytest.approx(RMS, rel=1e-6)


def test_gaussian_corruption_returns_the_level_it_drew() -> None:
    torch.manual_seed(0)
    x = torch.zeros(4000, 3, 2)
    corrupted, sigma = gaussian_corruption(x, 0.05)
    assert sigma.shape == (4000, 3, 1) and 0 <= sigma.min() and sigma.max() <= 0.05
    # Each token's noise has the std it reports: (corrupted / σ) is N(0, 1).
    z = corrupted / sigma
    assert z.std().item() == pytest.approx(1.0, abs=0.03)


def test_clean_prob_keeps_whole_sequences_clean() -> None:
    x = torch.randn(4000, 5, 2)
    torch.manual_seed(1)
    default = gaussian_corruption(x, 0.05)
    torch.manual_seed(1)
    zero = gaussian_corruption(x, 0.05, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(default, zero)), "0: the same draws as before"
    corrupted, sigma = gaussian_corruption(x, 0.05, 1.0)
    assert torch.equal(corrupted, x) and (sigma == 0).all()
    corrupted, sigma = gaussian_corruption(x, 0.05, 0.3)
    clean = (sigma == 0).all(dim=(1, 2))
    assert clean.float().mean().item() == pytest.approx(0.3, abs=0.03)
    assert torch.equal(corrupted[clean], x[clean]) and (sigma[~clean] > 0).all()


def test_noise_unit_is_data_or_the_rms_step() -> None:
    from algorithms.networks.context import noise_unit

    assert noise_unit(OmegaConf.create({}), STATS) == 1.0
    assert noise_unit(OmegaConf.create({"noise_unit": "data"}), STATS) == 1.0
    assert noise_unit(OmegaConf.create({"noise_unit": "rms_step"}), STATS) == pytest.approx(RMS)
    per_dim = noise_unit(OmegaConf.create({"noise_unit": "rms_step_per_dim"}), STATS)
    assert per_dim == pytest.approx(RMS / STATS["step_std"].numel() ** 0.5)
    # `auto` means the dataset's unit: resolved before any model is built, never guessed here
    with pytest.raises(ValueError, match="resolved by the dataset"):
        noise_unit(OmegaConf.create({"noise_unit": "auto"}), STATS)
    with pytest.raises(ValueError, match="noise unit"):
        noise_unit(OmegaConf.create({"noise_unit": "cm"}), STATS)


@pytest.mark.parametrize("kind", ["global", "heading"])
def test_level_column_is_sigma_over_rms_step_and_zero_when_clean(kind: str) -> None:
    features = (ContextFeatures(["position", "delta"], 2, STATS, level_input=True) if kind == "global"
                else HeadingContextFeatures(STATS, level_input=True))
    plain = (ContextFeatures(["position", "delta"], 2, STATS) if kind == "global"
             else HeadingContextFeatures(STATS))
    assert features.size == plain.size + 1
    context = shift_right(torch.randn(3, 7, 2))
    level = torch.rand(3, 7, 1) * 0.05
    rows = features.sequence(context, level)
    assert torch.allclose(rows[..., -1:], level / RMS, atol=1e-6)
    assert torch.allclose(rows[..., :-1], plain.sequence(context), atol=1e-6)
    assert (features.sequence(context)[..., -1] == 0).all(), "no level given: clean"


@pytest.mark.parametrize("frame", ["global", "heading"])
def test_step_mode_matches_sequence_mode_with_a_level(frame: str) -> None:
    net = network(frame)
    x = torch.cumsum(0.1 * torch.randn(2, 9, 2), 1)
    context, level = shift_right(x), shift_right(0.05 * torch.rand(2, 9, 1))
    seq = net.encode(context, level)
    state, previous = None, torch.zeros(2, 2)
    for j in range(9):
        c, state = net.encode_step(context[:, j], previous, j, state, level[:, j])
        assert torch.allclose(c, seq[:, j], atol=1e-5), j
        previous = context[:, j]


def test_the_level_changes_the_conditioning() -> None:
    net = network()
    context = shift_right(torch.cumsum(0.1 * torch.randn(2, 6, 2), 1))
    level = torch.full((2, 6, 1), 0.05)
    assert not torch.allclose(net.encode(context, level)[:, 2:], net.encode(context)[:, 2:])


@pytest.mark.parametrize("context_noise,context_level,told", [
    (0.0, None, 0.0), (0.03, None, 0.03), (0.0, 0.02, 0.02), (0.03, 0.0, 0.0)])
def test_sampler_tells_the_network_the_level_it_is_given(
        context_noise: float, context_level: float | None, told: float) -> None:
    """By default the level told is the stabilisation noise; `context_level` overrides it."""
    net = network()
    seen: list[torch.Tensor] = []
    encode_step = net.encode_step

    def spy(context, previous, index, state, level=None):
        seen.append(level)
        return encode_step(context, previous, index, state, level)

    net.encode_step = spy
    sampler = StreamingSampler(net, nfe=1, context_noise=context_noise,
                               context_level=context_level)
    sampler.reset(5)
    for _ in range(4):
        sampler.step()
    assert [lv.shape for lv in seen] == [(5, 1)] * 4
    assert (seen[0] == 0).all(), "token 0 has no context"
    assert all((lv == told).all() for lv in seen[1:])


def test_a_told_level_changes_the_tokens_but_adds_no_noise() -> None:
    """`context_level` without stabilisation noise: the same draws, other tokens (the network
    reads the level), and the tokens fed back are the tokens returned."""
    net = network(frame="heading")
    noise = torch.randn(6, 3, 2, generator=torch.Generator().manual_seed(1))
    runs = {}
    for level in (None, 0.0, 0.05):
        sampler = StreamingSampler(net, nfe=1, context_level=level)
        sampler.reset(3)
        tokens = []
        for j in range(6):
            tokens.append(sampler.step(noise=noise[j]))
            assert torch.equal(sampler.context, tokens[-1])
        runs[level] = torch.stack(tokens)
    assert torch.equal(runs[None], runs[0.0])
    assert torch.equal(runs[0.05][0], runs[0.0][0]), "token 0 has no context, so no level"
    assert not torch.allclose(runs[0.05][1:], runs[0.0][1:])


def test_without_level_input_the_network_is_unchanged() -> None:
    on, off = network(level_input=True), network(level_input=False)
    assert not off.reads_level and on.reads_level
    extra = set(on.state_dict()) - set(off.state_dict())
    assert extra == {"context_features.level.scale"}
    assert off.context_features.size + 1 == on.context_features.size


def composed(*overrides: str):
    with initialize_config_dir(str(main.CONFIG_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


@pytest.mark.parametrize("overrides", [
    ["algorithm.context.level_input=true"],
    ["algorithm.context.level_input=true", "algorithm.frame=heading"],
    ["algorithm=diffusion_forcing", "algorithm.context.level_input=true"],
    ["algorithm=predictive", "algorithm.context.level_input=true"],
    ["algorithm.context.level_input=true", "algorithm.sampling.context_level=0.1"],
    ["algorithm=diffusion_forcing", "algorithm.context.level_input=true",
     "algorithm.sampling.context_level=0"],
])
def test_level_input_configs_are_valid(overrides: list[str]) -> None:
    validate_config(composed(*overrides))


@pytest.mark.parametrize("overrides,message", [
    (["algorithm.context.level_input=maybe"], "algorithm.context.level_input=maybe: must be true or false"),
    (["algorithm.context.clean_prob=1.5"], "algorithm.context.clean_prob=1.5: must be in [0, 1]"),
    (["algorithm.context.noise_unit=cm"], "algorithm.context.noise_unit=cm: must be one of"),
    (["algorithm.context.level_input=true", "algorithm.network.kind=seed"],
     "needs algorithm.network.kind=split"),
    (["algorithm.context.level_input=true", "algorithm.context.corruption=surrogate",
      "algorithm.token_space=absolute"], "needs algorithm.context.corruption=gaussian or clean"),
    (["algorithm=diffusion_forcing", "algorithm.context.level_input=true",
      "algorithm.sampling.schedule=pyramid"], "the pyramid schedule feeds back estimates"),
    (["algorithm.sampling.context_level=0.1"],
     "algorithm.sampling.context_level: only a network that reads its context's level uses it"),
    (["algorithm.context.level_input=true", "algorithm.sampling.context_level=-1"],
     "algorithm.sampling.context_level=-1: must be null or a non-negative number"),
    (["algorithm.sampling.stabilization_noise=-0.1"],
     "algorithm.sampling.stabilization_noise=-0.1: must be a non-negative number"),
])
def test_bad_level_input_configs(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate_config(composed(*overrides))
    assert message in str(error.value)
