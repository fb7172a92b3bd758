"""The exported step (algorithms/generation/export.py): saved with torch.export.save, loaded with
torch.export.load, it gives the eager StreamingSampler's tokens, the first tokens included, for
real checkpoints and for every backbone; a step that cannot be exported names its backbone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from algorithms.generation.export import (
    ExportedStreams,
    compile_program,
    export_streams,
    load_program,
    save_streams,
    steady_index,
    zero_state,
)
from algorithms.generation.sampler import StreamingSampler
from algorithms.generation.streaming import load_generation_network, make_sampler
from algorithms.networks.backbones import BACKBONES
from algorithms.networks.build import build_network
from tests.conftest import REPO
from tests.test_network_and_sampler import STATS
from tests.test_streaming import RUNS, shrunk_runs  # noqa: F401  (a fixture, shared)

TOKENS = 9  # past the first tokens' programs (steady index 2, or 3 with the heading frame)


def eager_and_exported(sampler: StreamingSampler, folder: Path, batch: int,
                       generator_seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The same TOKENS tokens of `batch` streams from the sampler and from the programs saved
    in `folder`, with the same generator (noise, then any stabilisation noise, per token)."""
    exported = ExportedStreams.load(folder)
    out = []
    for streams in (sampler, exported):
        streams.reset(batch)
        generator = torch.Generator().manual_seed(generator_seed)
        out.append(torch.stack([streams.step(generator=generator) for _ in range(TOKENS)], 1))
    return out[0], out[1]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RUNS))
def test_exported_programs_give_the_samplers_tokens(shrunk_runs: dict[str, Path], name: str,
                                                    tmp_path: Path) -> None:
    """Real checkpoints: the default (GRU), the heading frame, diffusion_forcing (K = 3, the
    stabilisation noise fed back) and the seed's network; batch 3, then 1 (dynamic batch)."""
    loaded = load_generation_network(shrunk_runs[name] / "checkpoints" / "last.ckpt")
    sampler = make_sampler(loaded.network, loaded.config, RUNS[name][1])
    save_streams(*export_streams(sampler), tmp_path)
    expected_files = {f"token_{i}.pt2" for i in range(steady_index(loaded.network))}
    assert {p.name for p in tmp_path.iterdir()} == expected_files | {"steady.pt2"}
    for batch in (3, 1):
        eager, exported = eager_and_exported(sampler, tmp_path, batch)
        torch.testing.assert_close(exported, eager, rtol=0, atol=1e-6)


def small_network(backbone: str, frame: str = "global", kind: str = "split",
                  level_input: bool = False) -> nn.Module:
    cfg = OmegaConf.create({
        "token_space": "absolute" if kind == "seed" else "relative", "frame": frame,
        "network": {"kind": kind},
        "context": {"features": ["position", "delta"], "level_input": level_input},
        "backbone": {"name": backbone, "hidden_size": 12, "num_layers": 2, "dropout": 0.0},
        "head": {"width": 16, "depth": 1, "time_dim": 8, "prediction": "endpoint"},
    })
    torch.manual_seed(0)
    return build_network(cfg, 2, STATS).eval()


@pytest.mark.parametrize("backbone,frame", [*((b, "global") for b in BACKBONES if b != "gru"),
                                            ("selective_ssm", "heading")])
def test_every_backbone_exports(backbone: str, frame: str, tmp_path: Path) -> None:
    """The GRU is exported from real checkpoints above; the heading frame nests the backbone's
    state in a tuple (the SSM's is a tuple itself)."""
    sampler = StreamingSampler(small_network(backbone, frame), nfe=2)
    save_streams(*export_streams(sampler), tmp_path)
    eager, exported = eager_and_exported(sampler, tmp_path, batch=4)
    torch.testing.assert_close(exported, eager, rtol=0, atol=1e-6)


def test_the_first_program_starts_from_a_zero_state() -> None:
    """Token 0's program is given zeros where the sampler starts from None: the same token."""
    sampler = StreamingSampler(small_network("gru"), nfe=1)
    programs, info = export_streams(sampler)
    noise = torch.randn(3, 2)
    sampler.reset(3)
    eager = sampler.step(noise)
    zeros = torch.utils._pytree.tree_leaves(zero_state(sampler, 3))
    token, *state = programs["token_0"].module()(torch.zeros(3, 2), torch.zeros(3, 2), noise,
                                                 *zeros)
    assert torch.equal(token, eager)
    assert [list(s.shape) for s in state] == [[2, 3, 12]]
    assert info["state_shapes"] == [[2, None, 12]] and info["steady_index"] == 2


def test_the_level_input_exports_without_stabilisation_noise(tmp_path: Path) -> None:
    """A network reading its context's level is told 0 at generation, which the programs hold;
    with stabilisation noise the level would be that noise's scale: refused, with a reason."""
    network = small_network("gru", level_input=True)
    assert network.reads_level
    sampler = StreamingSampler(network, nfe=2)
    save_streams(*export_streams(sampler), tmp_path)
    eager, exported = eager_and_exported(sampler, tmp_path, batch=2)
    torch.testing.assert_close(exported, eager, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="level_input=true"):
        export_streams(StreamingSampler(network, nfe=2, context_noise=0.02))


class UnexportableBackbone(nn.Module):
    """A backbone whose step branches on a tensor's value (torch.export cannot trace that)."""

    kind = "data_dependent"

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def step(self, inputs: torch.Tensor, state):
        out, state = self.inner.step(inputs, state)
        return (out if out.sum() > 0 else -out), state


def test_a_backbone_that_cannot_export_is_named() -> None:
    network = small_network("gru")
    network.backbone = UnexportableBackbone(network.backbone)
    with pytest.raises(RuntimeError, match="backbone 'data_dependent' cannot be exported"):
        export_streams(StreamingSampler(network, nfe=1))


@pytest.mark.slow
def test_the_command_line_exports_a_checkpoint(shrunk_runs: dict[str, Path],
                                               tmp_path: Path) -> None:
    checkpoint = shrunk_runs["heading"] / "checkpoints" / "last.ckpt"
    result = subprocess.run([sys.executable, "-m", "algorithms.generation.export", str(checkpoint),
                             str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "exported flow_forcing (ema weights, step 12, 1 NFE)" in result.stdout
    exported = ExportedStreams.load(tmp_path / "out")
    assert exported.info["steady_index"] == 3 and exported.info["weights"] == "ema"


@pytest.mark.slow
def test_the_aoti_compiled_step_matches(tmp_path: Path) -> None:
    """AOTInductor (a C++ compiler, about 30 s): the steady step, compiled, gives the exported
    program's outputs to float32 rounding (its kernels fuse the ops)."""
    sampler = StreamingSampler(small_network("gru"), nfe=1)
    programs, _ = export_streams(sampler)
    compiled = load_program(compile_program(programs["steady"], tmp_path / "steady.aoti.pt2"))
    sampler.reset(5)
    for _ in range(4):
        sampler.step()
    inputs = (sampler.context, sampler.previous, torch.randn(5, 2),
              *torch.utils._pytree.tree_leaves(sampler.state))
    for got, want in zip(compiled(*inputs), programs["steady"].module()(*inputs)):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
