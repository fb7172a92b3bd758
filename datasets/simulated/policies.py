"""Behaviour policies that cover a control task's state space, built from a plain dict spec.

A policy has `reset(rng)` (called once at the start of every episode) and
`__call__(observation, rng) -> action`; every random draw comes from the `np.random.Generator`
handed in, so the episodes are a pure function of the seed that made it.

- `PersistentRandomPolicy`: a uniform random action held for a geometric number of steps
  (white-noise actions average out and barely move a MuJoCo body or a pendulum).
- `EnergyPumpingPolicy`: Åström-style energy pumping for gymnasium's Pendulum-v1, so that the data
  hold swing-ups, rotations over the top and the upright region, which random torques rarely reach.
- `MixturePolicy`: one member per episode, drawn with given probabilities.

`build_policy(spec, action_space)` builds one from e.g.
`{"kind": "mixture", "members": [{"kind": "persistent_random", "hold_mean": 5, "weight": 0.5},
{"kind": "energy_pumping", "noise": 0.3, "weight": 0.5}]}`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np


class Policy(Protocol):
    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode (draw whatever is fixed for the episode)."""

    def __call__(self, observation: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """observation `[obs_dim]` -> action `[act_dim]` (float64, not yet clipped)."""


class PersistentRandomPolicy:
    """Uniform random actions in `[low, high]`, each held for a geometric number of steps with
    mean `hold_mean` (>= 1; 1 gives white noise). `low`, `high`: `[act_dim]`."""

    def __init__(self, low: np.ndarray, high: np.ndarray, hold_mean: float) -> None:
        self.low = np.asarray(low, dtype=np.float64).reshape(-1)
        self.high = np.asarray(high, dtype=np.float64).reshape(-1)
        if self.low.shape != self.high.shape or not (
                np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high))
                and np.all(self.low <= self.high)):
            raise ValueError(f"persistent_random needs finite bounds low <= high of one shape, got "
                             f"low={self.low.tolist()} high={self.high.tolist()}")
        if not hold_mean >= 1:
            raise ValueError(f"policy.hold_mean must be >= 1 (steps), got {hold_mean}")
        self.hold_mean = float(hold_mean)
        self._action = np.zeros_like(self.low)
        self._left = 0

    def reset(self, rng: np.random.Generator) -> None:
        self._left = 0

    def __call__(self, observation: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self._left == 0:
            self._action = rng.uniform(self.low, self.high)
            self._left = int(rng.geometric(1.0 / self.hold_mean))
        self._left -= 1
        return self._action.copy()


class EnergyPumpingPolicy:
    """Energy pumping for gymnasium's Pendulum-v1 (observation `[cos θ, sin θ, θdot]`, θ = 0
    upright; action `[1]`, a torque in `[-max_torque, max_torque]`), with noise and a catch.

    The env's dynamics are θ'' = w² sin θ + b u with w² = 3g / (2l), b = 3 / (m l²), so the
    energy E = θdot² / 2 + w² (cos θ - 1) (0 upright at rest, -2w² hanging at rest) changes as
    dE/dt = b θdot u. For a torque-driven pendulum the pumping law is therefore along sign(θdot)
    (the sign(θdot cos θ) of Åström and Furuta is for a pendulum driven through its pivot's
    acceleration): u = max_torque · clip(gain · (E* - E) / (2w²) · θdot, -1, 1), plus Gaussian
    noise of std `noise · max_torque`, then clipped.

    The episode runs in segments of a geometric number of steps (mean `segment_mean`); each draws
    a relative target energy E* / (2w²) uniformly from `target_energy` (below 0: swings that turn
    short of the top; near 0: slow passes through the upright; above 0: rotations over the top)
    and, with probability `balance_probability`, allows the catch: within `balance_angle` of the
    upright a saturated PD law (closed loop θ'' + 7 θ' + 25 θ = 0) balances it, the noise still
    on. A segment without the catch lets a balanced pendulum fall off, so the data hold
    swing-ups, balancing, falls and rotations."""

    def __init__(self, max_torque: float, noise: float = 0.3, gain: float = 1.0,
                 target_energy: Sequence[float] = (-0.1, 0.1), segment_mean: float = 50.0,
                 balance_probability: float = 0.5, balance_angle: float = 0.4,
                 gravity: float = 10.0, length: float = 1.0, mass: float = 1.0) -> None:
        if not (math.isfinite(max_torque) and max_torque > 0):
            raise ValueError(f"energy_pumping needs a finite positive torque bound, got "
                             f"{max_torque}")
        if not noise >= 0:
            raise ValueError(f"policy.noise must be >= 0 (a fraction of the torque bound), got "
                             f"{noise}")
        if not gain > 0:
            raise ValueError(f"policy.gain must be > 0, got {gain}")
        low_high = [float(v) for v in target_energy]
        if len(low_high) != 2 or not low_high[0] <= low_high[1]:
            raise ValueError(f"policy.target_energy must be [low, high] with low <= high (0 = upright "
                             f"at rest, -1 = hanging at rest), got {list(target_energy)}")
        if not segment_mean >= 1:
            raise ValueError(f"policy.segment_mean must be >= 1 (steps), got {segment_mean}")
        if not 0 <= balance_probability <= 1:
            raise ValueError(f"policy.balance_probability must be in [0, 1], got "
                             f"{balance_probability}")
        if not 0 <= balance_angle <= math.pi:
            raise ValueError(f"policy.balance_angle must be in [0, π] (radians), got "
                             f"{balance_angle}")
        if not (gravity > 0 and length > 0 and mass > 0):
            raise ValueError(f"policy.gravity, length and mass must be > 0, got {gravity}, "
                             f"{length}, {mass}")
        self.max_torque = float(max_torque)
        self.noise = float(noise)
        self.gain = float(gain)
        self.target_energy = (low_high[0], low_high[1])
        self.segment_mean = float(segment_mean)
        self.balance_probability = float(balance_probability)
        self.balance_angle = float(balance_angle)
        self.w2 = 3.0 * gravity / (2.0 * length)
        self.b = 3.0 / (mass * length ** 2)
        self._target, self._balance, self._left = 0.0, False, 0

    def reset(self, rng: np.random.Generator) -> None:
        self._left = 0

    def relative_energy(self, observation: np.ndarray) -> float:
        """E / (2w²) of an observation `[cos θ, sin θ, θdot]`: 0 upright at rest, -1 hanging."""
        cos_theta, _, theta_dot = (float(v) for v in observation)
        return (0.5 * theta_dot ** 2 + self.w2 * (cos_theta - 1.0)) / (2.0 * self.w2)

    def __call__(self, observation: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if np.shape(observation) != (3,):
            raise ValueError(f"energy_pumping is for Pendulum-v1 observations [cos θ, sin θ, θdot], "
                             f"got shape {np.shape(observation)}")
        if self._left == 0:
            self._target = float(rng.uniform(*self.target_energy))
            self._balance = bool(rng.random() < self.balance_probability)
            self._left = int(rng.geometric(1.0 / self.segment_mean))
        self._left -= 1
        cos_theta, sin_theta, theta_dot = (float(v) for v in observation)
        theta = math.atan2(sin_theta, cos_theta)
        if self._balance and abs(theta) < self.balance_angle:
            # θ'' ≈ w² θ + b u; u = -((25 + w²) θ + 7 θ') / b gives θ'' + 7 θ' + 25 θ = 0
            push = -((25.0 + self.w2) * theta + 7.0 * theta_dot) / (self.b * self.max_torque)
        else:
            push = self.gain * (self._target - self.relative_energy(observation)) * theta_dot
        torque = self.max_torque * (min(1.0, max(-1.0, push)) + self.noise * rng.standard_normal())
        return np.array([min(self.max_torque, max(-self.max_torque, torque))])


class MixturePolicy:
    """One member per episode, drawn at `reset` with probabilities `weights` (normalised);
    `active` is the index of the episode's member."""

    def __init__(self, members: Sequence[Policy], weights: Sequence[float]) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if len(members) == 0 or w.shape != (len(members),) or not (
                np.all(np.isfinite(w)) and np.all(w >= 0) and w.sum() > 0):
            raise ValueError(f"a mixture needs at least one member and one weight >= 0 per member "
                             f"(not all 0), got {len(members)} members and weights {w.tolist()}")
        self.members = list(members)
        self.weights = w / w.sum()
        self.active = 0

    def reset(self, rng: np.random.Generator) -> None:
        self.active = int(rng.choice(len(self.members), p=self.weights))
        self.members[self.active].reset(rng)

    def __call__(self, observation: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.members[self.active](observation, rng)


# kind -> the keys its spec may hold besides "kind" (all optional)
POLICY_KEYS: dict[str, tuple[str, ...]] = {
    "persistent_random": ("hold_mean",),
    "energy_pumping": ("noise", "gain", "target_energy", "segment_mean", "balance_probability",
                       "balance_angle", "gravity", "length", "mass"),
    "mixture": ("members",),
}


def build_policy(spec: Mapping[str, Any], action_space: Any, observation_space: Any = None,
                 _where: str = "policy") -> Policy:
    """A policy from a plain dict spec (`{"kind": ..., <its keys>}`; `POLICY_KEYS` lists them)
    for a gymnasium Box `action_space` (its `low`, `high`: `[act_dim]`). Mixture members carry a
    `weight` (default 1). `observation_space`, when given, is checked against what the kind reads.
    Errors are one line naming the key and what is allowed."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"{_where} must be a mapping with a 'kind' (one of "
                         f"{', '.join(POLICY_KEYS)}), got {type(spec).__name__}")
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if not isinstance(kind, str) or kind not in POLICY_KEYS:
        raise ValueError(f"{_where}.kind={kind!r}: must be one of {', '.join(POLICY_KEYS)}")
    unknown = sorted(set(spec) - set(POLICY_KEYS[kind]))
    if unknown:
        raise ValueError(f"{_where}.{unknown[0]}: not a key of a {kind} policy; allowed: "
                         f"{', '.join(POLICY_KEYS[kind]) or 'none'}")
    low = np.asarray(action_space.low, dtype=np.float64).reshape(-1)
    high = np.asarray(action_space.high, dtype=np.float64).reshape(-1)
    if kind == "persistent_random":
        return PersistentRandomPolicy(low, high, _number(spec, "hold_mean", 5, _where))
    if kind == "energy_pumping":
        if low.shape != (1,) or low[0] != -high[0]:
            raise ValueError(f"{_where}.kind=energy_pumping is for Pendulum-v1 (one torque in "
                             f"[-a, a]); this action space is {low.tolist()}..{high.tolist()}")
        if observation_space is not None and tuple(observation_space.shape) != (3,):
            raise ValueError(f"{_where}.kind=energy_pumping is for Pendulum-v1 (observation "
                             f"[cos θ, sin θ, θdot]); this observation is "
                             f"{tuple(observation_space.shape)}")
        numbers = {k: _number(spec, k, None, _where) for k in spec if k != "target_energy"}
        if "target_energy" in spec:
            pair = spec["target_energy"]
            if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise ValueError(f"{_where}.target_energy must be [low, high], got {pair!r}")
            numbers["target_energy"] = tuple(
                _finite(v, f"{_where}.target_energy[{i}]") for i, v in enumerate(pair))
        return EnergyPumpingPolicy(float(high[0]), **numbers)
    members = spec.get("members")
    if isinstance(members, (str, bytes)) or not isinstance(members, Sequence) or not members:
        raise ValueError(f"{_where}.members: a mixture needs a non-empty list of member specs")
    built, weights = [], []
    for i, member in enumerate(members):
        where = f"{_where}.members[{i}]"
        if not isinstance(member, Mapping):
            raise ValueError(f"{where} must be a mapping with a 'kind', got "
                             f"{type(member).__name__}")
        member = dict(member)
        weights.append(_number(member, "weight", 1.0, where))
        member.pop("weight", None)
        if not weights[-1] >= 0:
            raise ValueError(f"{where}.weight must be a finite number >= 0, got {weights[-1]}")
        built.append(build_policy(member, action_space, observation_space, where))
    if sum(weights) <= 0:
        raise ValueError(f"{_where}.members: at least one weight must be > 0, got {weights}")
    return MixturePolicy(built, weights)


def _number(spec: Mapping[str, Any], key: str, default: float | None, where: str) -> float:
    """`spec[key]` (or `default`) as a finite float; one line naming the key otherwise."""
    return _finite(spec.get(key, default), f"{where}.{key}")


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)
