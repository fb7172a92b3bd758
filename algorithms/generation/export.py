"""Export of the streaming step with torch.export, and a runner for the exported programs.

    python -m algorithms.generation.export run/checkpoints/last.ckpt out/ [--nfe 1] [--raw] [--aoti]

writes `out/token_0.pt2`, `token_1.pt2`, ... and `steady.pt2`, each loadable with
`torch.export.load` alone (no code of this repository); with `--aoti` the same programs
compiled by AOTInductor (`<name>.aoti.pt2`, `torch._inductor.aoti_load_package`): run from Python
an exported program costs what eager PyTorch costs per op, the compiled one does not (the latency
benchmark measures both). Every program is the pure function

    (context `[B, D]`, previous `[B, D]`, noise `[B, D]`, *state) -> (token `[B, D]`, *state)

of one token of a batch of B streams (B is dynamic): `context` is the token the stream shows
this token (the last generated one; zeros before the first), `previous` the one before it,
`state` the recurrent state as a flat list of tensors (zeros before the first token; shapes in
the metadata). After a call: previous, context = context, token (plus the stabilisation noise
for diffusion_forcing, `context_noise` in the metadata, as `StreamingSampler` does).

Why torch.export: it is PyTorch's maintained exporter (TorchScript is deprecated; ONNX export
needs the `onnx`/`onnxscript` packages, which this environment does not install), it traces the
real Python of `StreamingSampler.step` instead of needing scriptable code, and `.pt2` files run
from Python or, through AOTInductor, from C++.

The first tokens: token 0 draws an absolute position, token 1 a step from it, and with
`algorithm.frame=heading` token 2 has no step before its context's to turn from (frame.py).
Those rules are Python branches on the token index, and torch.export fixes every such branch
when it traces, so each of the first `steady_index` tokens (2, or 3 with the heading frame) is
its own program, and `steady.pt2` serves every token from then on. All of them are traced from
the same `StreamingSampler.step` (no second copy of its logic); `ExportedStreams` picks the one
for each call. Doing it in one program with the index as a tensor would mean rewriting those
branches with `torch.where` (or `torch.cond`, which cannot trace `nn.GRU`).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.utils import _pytree as pytree

from algorithms.generation.sampler import StreamingSampler
from algorithms.generation.streaming import load_generation_network, make_sampler
from algorithms.networks.context import has_noise

METADATA = "stream.json"  # the extra file of every program: how to run it


def steady_index(network: nn.Module) -> int:
    """The first token from which every token runs the same code (see the module docstring)."""
    return 3 if getattr(network, "frame", "global") == "heading" else 2


class TokenStep(nn.Module):
    """Token `index` of a stream as a pure function of flat tensors (the module docstring).

    It sets a fresh `StreamingSampler` to that point of a stream and calls its `step`, so it
    computes exactly what the sampler computes. `spec` is the state's pytree structure. Traced at
    `steady_index`, it serves every later token: the networks use a token's index only in tests
    against 0, 1 and 2 (tests/test_export.py compares tokens well past it).
    """

    def __init__(self, sampler: StreamingSampler, index: int, spec: pytree.TreeSpec) -> None:
        super().__init__()
        self.network, self.index, self.spec = sampler.network, index, spec
        self.nfe, self.solver = sampler.nfe, sampler.solver  # the fed-back noise: the caller's

    def forward(self, context: Tensor, previous: Tensor, noise: Tensor, *state: Tensor
                ) -> tuple[Tensor, ...]:
        sampler = StreamingSampler(self.network, self.nfe, self.solver)
        sampler.context, sampler.previous, sampler.index = context, previous, self.index
        sampler.state = pytree.tree_unflatten(list(state), self.spec)
        token = sampler.step(noise)
        return (token, *pytree.tree_leaves(sampler.state))


def zero_state(sampler: StreamingSampler, num_streams: int) -> Any:
    """The state before token 0, as zeros of the carried state's structure (a backbone given
    zeros computes what it computes from None: nn.GRU/LSTM, min-RNNs and the SSM all start at
    zeros). Found by one step of a fresh sampler on the same network."""
    probe = StreamingSampler(sampler.network, sampler.nfe, sampler.solver)
    probe.reset(num_streams)
    probe.step(torch.zeros(num_streams, sampler.network.token_dim))
    return pytree.tree_map(torch.zeros_like, probe.state)


def batch_dims(sampler: StreamingSampler) -> list[int]:
    """The batch dimension of every state leaf (found from two batch sizes)."""
    two, three = (pytree.tree_leaves(zero_state(sampler, b)) for b in (2, 3))
    dims = []
    for a, b in zip(two, three):
        differ = [d for d in range(a.dim()) if a.shape[d] != b.shape[d]]
        if len(differ) != 1:
            raise ValueError(f"a state leaf of shape {tuple(a.shape)} has no single batch dim")
        dims.append(differ[0])
    return dims


def token_steps(sampler: StreamingSampler, metadata: dict[str, Any] | None = None
                ) -> tuple[list[TokenStep], dict[str, Any]]:
    """The eager functions of tokens 0, 1, ... and of every token from `steady_index` on, and
    the metadata that runs them (state shapes with None for the batch dim; `metadata` added)."""
    network = sampler.network.eval()
    if getattr(network, "reads_level", False) and has_noise(sampler.context_noise):
        raise ValueError("a network that reads its context's level (algorithm.context."
                         "level_input=true) with stabilisation noise cannot be exported yet: "
                         "StreamingSampler.step draws the fed-back noise itself, and the level "
                         "it tells the network is that noise's scale")
    leaves, spec = pytree.tree_flatten(zero_state(sampler, 2))
    noise = sampler.context_noise  # a number, or per channel a list (the metadata is JSON)
    info = {"steady_index": steady_index(network), "nfe": sampler.nfe,
            "token_dim": network.token_dim,
            "context_noise": noise.tolist() if isinstance(noise, Tensor) else noise,
            "state_shapes": [[None if d == b else n for d, n in enumerate(leaf.shape)]
                             for leaf, b in zip(leaves, batch_dims(sampler))],
            **(metadata or {})}
    steps = [TokenStep(sampler, index, spec) for index in range(info["steady_index"] + 1)]
    return steps, info


def export_streams(sampler: StreamingSampler, metadata: dict[str, Any] | None = None
                   ) -> tuple[dict[str, torch.export.ExportedProgram], dict[str, Any]]:
    """The programs `token_0`, ..., `steady` of `sampler`'s step (its network, nfe, solver;
    `context_noise` is left to the caller, see the module docstring), batch size dynamic, and
    their metadata (`token_steps`). The network is put in eval mode."""
    steps, info = token_steps(sampler, metadata)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    state = [torch.zeros([2 if n is None else n for n in shape]) for shape in info["state_shapes"]]
    # `*state` is one entry of the signature, so its shapes are one tuple.
    dynamic = ({0: batch}, {0: batch}, {0: batch},
               tuple({shape.index(None): batch} for shape in info["state_shapes"]))
    D = info["token_dim"]
    example = (torch.zeros(2, D), torch.zeros(2, D), torch.zeros(2, D), *state)
    names = [f"token_{i}" for i in range(info["steady_index"])] + ["steady"]
    programs = {}
    for name, step in zip(names, steps):
        try:
            with warnings.catch_warnings():  # nn.GRU/LSTM re-assign their flat weights: harmless
                warnings.simplefilter("ignore")
                programs[name] = torch.export.export(step, example, dynamic_shapes=dynamic)
        except Exception as error:
            backbone = sampler.network.backbone
            kind = getattr(backbone, "kind", type(backbone).__name__)
            raise RuntimeError(f"backbone {kind!r} cannot be exported with torch.export "
                               f"({name}): {type(error).__name__}: "
                               f"{str(error).strip().splitlines()[0]}") from error
    return programs, info


def save_streams(programs: dict[str, torch.export.ExportedProgram], info: dict[str, Any],
                 folder: str | Path, compile_aoti: bool = False) -> Path:
    """Write every program as `<folder>/<name>.pt2` with the metadata (`stream.json` inside);
    with `compile_aoti`, also `<name>.aoti.pt2`, compiled by AOTInductor (needs a C++ compiler;
    about 30 s a program on 2 CPU cores; runs without Python overhead per op)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, program in programs.items():
        torch.export.save(program, folder / f"{name}.pt2", extra_files={METADATA: json.dumps(info)})
        if compile_aoti:
            compile_program(program, folder / f"{name}.aoti.pt2")
    return folder


def compile_program(program: torch.export.ExportedProgram, path: str | Path) -> Path:
    """AOTInductor: the program compiled to a shared library packaged as `path`
    (`torch._inductor.aoti_compile_and_package`, the documented entry point)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Path(torch._inductor.aoti_compile_and_package(program, package_path=str(path)))


def load_program(path: str | Path) -> Callable[..., Any]:
    """A callable of the flat inputs, from a `.pt2` of `torch.export.save` or, for a name ending
    in `.aoti.pt2`, from an AOTInductor package."""
    if str(path).endswith(".aoti.pt2"):
        return torch._inductor.aoti_load_package(str(path))
    return torch.export.load(path).module()


class ExportedStreams:
    """A batch of streams run by exported programs: `reset(B)`, then `step(noise)` returns the
    next token `[B, D]`, as `StreamingSampler.step` does (noise drawn if not given).

    `programs`: callables of the flat signature for tokens 0, 1, ... and for every token from
    `info["steady_index"]` on (loaded ones, `TokenStep`s, or a mix); `load` reads a folder.
    """

    def __init__(self, programs: list[Callable[..., Any]], info: dict[str, Any]) -> None:
        if len(programs) != info["steady_index"] + 1:
            raise ValueError(f"{len(programs)} programs for steady index {info['steady_index']}")
        self.programs, self.info = programs, info
        self.reset(1)

    @classmethod
    def load(cls, folder: str | Path, compiled: bool = False) -> ExportedStreams:
        """The programs `save_streams` wrote; `compiled`: their AOTInductor packages."""
        folder = Path(folder)
        extra = {METADATA: ""}
        torch.export.load(folder / "steady.pt2", extra_files=extra)
        info = json.loads(extra[METADATA])
        suffix = ".aoti.pt2" if compiled else ".pt2"
        names = [f"token_{i}" for i in range(info["steady_index"])] + ["steady"]
        return cls([load_program(folder / f"{name}{suffix}") for name in names], info)

    def reset(self, num_streams: int) -> None:
        self.index = 0
        self.state = [torch.zeros([num_streams if n is None else n for n in shape])
                      for shape in self.info["state_shapes"]]
        self.context = torch.zeros(num_streams, self.info["token_dim"])
        self.previous = torch.zeros_like(self.context)

    @torch.no_grad()
    def step(self, noise: Tensor | None = None, generator: torch.Generator | None = None
             ) -> Tensor:
        if noise is None:
            noise = torch.randn(self.context.shape, generator=generator)
        program = self.programs[min(self.index, len(self.programs) - 1)]
        token, *self.state = program(self.context, self.previous, noise, *self.state)
        context = token
        scale = self.info["context_noise"]
        scale = torch.tensor(scale) if isinstance(scale, list) else scale
        if has_noise(scale):
            context = token + scale * torch.randn(
                token.shape, generator=generator)
        self.previous, self.context = self.context, context
        self.index += 1
        return token


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m algorithms.generation.export",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a .ckpt written by python -m main")
    parser.add_argument("out", help="the folder to write token_<i>.pt2 and steady.pt2 into")
    parser.add_argument("--nfe", type=int, default=1, help="network calls per token")
    parser.add_argument("--raw", action="store_true", help="the trained weights, not the EMA")
    parser.add_argument("--aoti", action="store_true",
                        help="also compile each program with AOTInductor (<name>.aoti.pt2)")
    args = parser.parse_args(argv)
    loaded = load_generation_network(args.checkpoint, ema=not args.raw)
    sampler = make_sampler(loaded.network, loaded.config, args.nfe)
    meta = {"algorithm": loaded.config.get("name"), "weights": loaded.weights,
            "global_step": loaded.global_step, "checkpoint": str(Path(args.checkpoint).resolve())}
    try:
        folder = save_streams(*export_streams(sampler, meta), args.out, args.aoti)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    files = ", ".join(sorted(p.name for p in folder.glob("*.pt2")))
    print(f"exported {meta['algorithm']} ({loaded.weights} weights, step {loaded.global_step}, "
          f"{args.nfe} NFE) to {folder}: {files}")


if __name__ == "__main__":
    main()
