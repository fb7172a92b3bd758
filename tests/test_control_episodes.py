"""Control-task episodes (datasets/simulated/control.py), behaviour policies (policies.py) and
physical-constraint scores (limits.py): reproducibility, the action convention, exact replay
from a stored state, coverage of the mixture, the constraint scores, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.spaces import Box

from datasets.simulated.control import (
    ENVIRONMENTS,
    Simulator,
    channel_names,
    replay,
    simulate_control,
    task_facts,
)
from datasets.simulated.episodes import Episodes
from datasets.simulated.limits import constraint_scores, joint_limit_excess
from datasets.simulated.policies import (
    EnergyPumpingPolicy,
    MixturePolicy,
    PersistentRandomPolicy,
    build_policy,
)

RANDOM = {"kind": "persistent_random", "hold_mean": 5}
MIXTURE = {"kind": "mixture", "members": [
    {"kind": "persistent_random", "hold_mean": 5, "weight": 0.5},
    {"kind": "energy_pumping", "noise": 0.3, "weight": 0.5}]}


@pytest.fixture(scope="module")
def pendulum() -> Episodes:
    return simulate_control("pendulum", 32, 300, 3, MIXTURE)


@pytest.fixture(scope="module")
def cheetah() -> Episodes:
    return simulate_control("half_cheetah", 3, 120, 4, RANDOM)


def test_the_seed_decides_everything(pendulum: Episodes) -> None:
    again = simulate_control("pendulum", 32, 300, 3, MIXTURE)
    for name in ("observation", "action", "sim_state"):
        assert np.array_equal(pendulum.groups[name], again.groups[name]), name
    assert pendulum.meta["policy_member"] == again.meta["policy_member"]
    other = simulate_control("pendulum", 32, 300, 4, MIXTURE)
    assert not np.allclose(pendulum.groups["observation"], other.groups["observation"])
    fewer = simulate_control("pendulum", 5, 300, 3, MIXTURE)  # episode i does not depend on N
    assert np.array_equal(fewer.groups["observation"], pendulum.groups["observation"][:5])
    a = simulate_control("half_cheetah", 2, 40, 9, RANDOM).groups["observation"]
    b = simulate_control("half_cheetah", 2, 40, 9, RANDOM).groups["observation"]
    c = simulate_control("half_cheetah", 2, 40, 10, RANDOM).groups["observation"]
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_shapes_and_the_action_convention(pendulum: Episodes, cheetah: Episodes) -> None:
    for episodes, dims, (low, high) in ((pendulum, (3, 1, 2), (-2.0, 2.0)),
                                        (cheetah, (17, 6, 18), (-1.0, 1.0))):
        g = episodes.groups
        assert [g[n].shape[2] for n in ("observation", "action", "sim_state")] == list(dims)
        assert all(v.dtype == np.float32 for v in g.values())
        assert np.all(g["action"][:, 0] == 0)  # nothing led to the start state
        assert g["action"].min() >= low and g["action"].max() <= high
        assert np.abs(g["action"][:, 1:]).max() > 0.9 * high
        assert np.all(np.isfinite(g["observation"]))
    # Pendulum: observation j is the state j, whose θdot is what action j pushed: θdot_j =
    # θdot_{j-1} + (15 sin θ_{j-1} + 3 u_j) dt (unclipped stretches), so u_j belongs to token j.
    s, u = pendulum.groups["sim_state"].astype(np.float64), pendulum.groups["action"][..., 0]
    predicted = s[:, :-1, 1] + (15 * np.sin(s[:, :-1, 0]) + 3 * u[:, 1:]) * 0.05
    free = np.abs(predicted) < 7.9
    assert np.abs(predicted - s[:, 1:, 1])[free].max() < 1e-5
    shifted = s[:, :-2, 1] + (15 * np.sin(s[:, :-2, 0]) + 3 * u[:, 1:-1]) * 0.05
    assert np.abs(shifted - s[:, 1:-1, 1])[free[:, 1:]].max() > 0.1  # the off-by-one fails


@pytest.mark.parametrize("env", ["pendulum", "half_cheetah"])
def test_replay_from_a_stored_state_reproduces_the_episode(env: str, pendulum: Episodes,
                                                           cheetah: Episodes, tmp_path) -> None:
    stored = pendulum if env == "pendulum" else cheetah
    stored.save(tmp_path / "episodes.npz")  # the float32 cache file
    g = Episodes.load(tmp_path / "episodes.npz").groups
    for i, j in ((0, 0), (1, 37), (2, 80)):
        out = replay(env, None, g["sim_state"][i, j], g["action"][i, j + 1:])
        assert out.shape == g["observation"][i, j:].shape
        assert np.abs(out - g["observation"][i, j:]).max() <= 1e-10, (i, j)
    # the replay really runs the actions: other actions give other observations
    other = replay(env, None, g["sim_state"][0, 0], -g["action"][0, 1:])
    assert np.abs(other - g["observation"][0]).max() > 0.1


def test_the_env_receives_clipped_actions() -> None:
    sim = Simulator("half_cheetah")
    sim.reset(0)
    assert np.array_equal(sim.step(np.array([3.0, -3.0, 0.5, 0, 0, 1.5]))[0],
                          np.array([1.0, -1.0, 0.5, 0, 0, 1.0], dtype=np.float32))
    state = sim.state()
    wild = np.random.default_rng(0).uniform(-3, 3, (20, 6))
    assert np.array_equal(sim.replay(state, wild), sim.replay(state, np.clip(wild, -1, 1)))


@pytest.mark.parametrize("env", ["hopper", "walker2d", "reacher"])
def test_every_task_replays_exactly(env: str) -> None:
    g = simulate_control(env, 2, 40, 0, RANDOM).groups
    sim = Simulator(env)
    out = sim.replay(g["sim_state"][1, 12], g["action"][1, 13:])
    assert np.abs(out - g["observation"][1, 12:]).max() <= 1e-10
    assert len(channel_names(env)) == g["observation"].shape[2]
    assert len(channel_names(env, "sim_state")) == g["sim_state"].shape[2]


def test_channel_names_follow_the_model(cheetah: Episodes) -> None:
    assert channel_names("pendulum") == ["cos_theta", "sin_theta", "theta_dot"]
    assert channel_names("Pendulum-v1", "action") == ["torque"]
    names = channel_names("half_cheetah")
    state_names = channel_names("half_cheetah", "sim_state")
    assert names[:3] == ["qpos_rootz", "qpos_rooty", "qpos_bthigh"] and "qvel_rootx" in names
    assert "qpos_rootx" not in names and state_names[0] == "qpos_rootx"
    assert len(channel_names("half_cheetah", "action")) == 6
    g = cheetah.groups  # a name means the same quantity in both groups
    for name in ("qpos_bthigh", "qpos_ffoot", "qvel_rootx", "qvel_fshin"):
        assert np.array_equal(g["observation"][..., names.index(name)],
                              g["sim_state"][..., state_names.index(name)]), name


def test_real_and_replayed_pendulum_data_keep_the_constraints(pendulum: Episodes) -> None:
    obs = pendulum.groups["observation"]
    real = constraint_scores("pendulum", obs)
    assert set(real) == {"unit_circle_error", "speed_limit_violation_rate"}
    assert real["unit_circle_error"] < 1e-6 and real["speed_limit_violation_rate"] == 0
    assert np.abs(obs[..., 2]).max() > 7.5  # the data do reach the speed limit
    g = pendulum.groups
    perfect = np.stack([replay("pendulum", None, g["sim_state"][i, 0], g["action"][i, 1:])
                        for i in range(4)])
    scores = constraint_scores("pendulum", torch.from_numpy(perfect))
    assert scores["unit_circle_error"] < 1e-6 and scores["speed_limit_violation_rate"] == 0
    bent = obs.copy()
    bent[..., :2] *= 1.1
    assert constraint_scores("pendulum", bent)["unit_circle_error"] == pytest.approx(0.21, abs=1e-4)
    fast = obs.copy()
    fast[:, ::2, 2] = 8.5
    assert constraint_scores("pendulum", fast)["speed_limit_violation_rate"] >= 0.5
    rate = constraint_scores("pendulum", fast)["speed_limit_violation_rate"]
    fast[0, 1, 2] = np.nan  # non-finite counts as a violation
    assert constraint_scores("pendulum", fast)["speed_limit_violation_rate"] > rate


def test_joint_limits_map_to_the_right_channels(cheetah: Episodes) -> None:
    obs = cheetah.groups["observation"]
    real = constraint_scores("half_cheetah", obs)
    assert real["joint_limit_violation_rate"] == 0 and real["joint_limit_excess_mean"] < 0.01
    names = channel_names("half_cheetah")
    bent = obs.copy()
    bent[..., names.index("qpos_bthigh")] = 3.0  # one of the 6 limited joints far outside
    bent_scores = constraint_scores("half_cheetah", bent)
    assert bent_scores["joint_limit_violation_rate"] == pytest.approx(1 / 6)
    root = obs.copy()
    root[..., names.index("qpos_rooty")] = 3.0  # the root's pitch has no limit
    root[..., names.index("qvel_bthigh")] = 30.0  # nor does a velocity
    assert constraint_scores("half_cheetah", root)["joint_limit_violation_rate"] == 0
    assert joint_limit_excess("half_cheetah", bent).shape == (obs.shape[0] * obs.shape[1], 6)
    with pytest.raises(ValueError, match=r"HalfCheetah-v5 observations must be \[\.\.\., 17\]"):
        constraint_scores("half_cheetah", obs[..., :16])


def test_hopper_scores_health_and_fixed_length_needs_no_termination() -> None:
    obs = simulate_control("hopper", 2, 60, 0, RANDOM).groups["observation"]
    real = constraint_scores("hopper", obs)
    assert real["joint_limit_violation_rate"] == 0 and real["velocity_clip_violation_rate"] == 0
    assert constraint_scores("hopper", obs[:, :1])["unhealthy_rate"] == 0  # the reset stands
    fallen = obs.copy()
    fallen[..., channel_names("hopper").index("qpos_rootz")] = 0.2
    assert constraint_scores("hopper", fallen)["unhealthy_rate"] == 1
    with pytest.raises(RuntimeError, match="terminate_when_unhealthy=False"):
        simulate_control("hopper", 1, 400, 0, RANDOM, {"terminate_when_unhealthy": True})


def test_the_mixture_yields_both_behaviours(pendulum: Episodes) -> None:
    member = np.array(pendulum.meta["policy_member"])
    assert 0.25 < member.mean() < 0.75
    theta = pendulum.groups["sim_state"][:, 20:, 0]
    upright = np.abs(theta) < 0.3
    pumping, random = upright[member == 1], upright[member == 0]
    assert pumping.any(axis=1).mean() >= 0.8  # most energy-pumping episodes get up
    assert pumping.mean() > 0.25 and random.mean() < 0.12 and pumping.mean() > 3 * random.mean()
    hanging = (np.abs(theta) > 2.8) & (np.abs(pendulum.groups["sim_state"][:, 20:, 1]) < 1)
    assert hanging[member == 0].mean() > hanging[member == 1].mean()


def test_energy_pumping_brings_the_energy_to_its_target() -> None:
    policy = EnergyPumpingPolicy(2.0, noise=0.0, target_energy=(0.0, 0.0), balance_probability=0)
    sim, rng = Simulator("pendulum"), np.random.default_rng(0)
    obs = sim.restore(np.array([np.pi - 0.05, 0.0]))  # hanging, nearly at rest
    policy.reset(rng)
    energies = [policy.relative_energy(obs)]
    for _ in range(200):
        obs = sim.step(policy(obs, rng))[1]
        energies.append(policy.relative_energy(obs))
    # up from hanging within 5 s, then held within the discrete integrator's wobble round 0
    assert energies[0] < -0.99 and max(abs(e) for e in energies[100:]) < 0.1


def test_persistent_random_holds_for_the_mean_number_of_steps() -> None:
    policy = PersistentRandomPolicy(np.array([-1.0]), np.array([1.0]), 5)
    rng = np.random.default_rng(0)
    policy.reset(rng)
    actions = np.array([policy(np.zeros(3), rng)[0] for _ in range(20000)])
    changes = np.count_nonzero(np.diff(actions)) + 1
    assert 4.7 < len(actions) / changes < 5.3 and -1 <= actions.min() and actions.max() <= 1
    white = PersistentRandomPolicy(np.array([-1.0]), np.array([1.0]), 1)
    assert np.count_nonzero(np.diff([white(np.zeros(3), rng)[0] for _ in range(100)])) == 99


def test_build_policy_and_its_errors() -> None:
    space = Box(-2.0, 2.0, (1,), np.float32)
    mixture = build_policy(MIXTURE, space)
    assert isinstance(mixture, MixturePolicy) and np.allclose(mixture.weights, [0.5, 0.5])
    cheetah = Box(-1.0, 1.0, (6,), np.float32)
    cases = [
        ({"kind": "bang_bang"}, space,
         "policy.kind='bang_bang': must be one of persistent_random, energy_pumping, mixture"),
        ({"hold_mean": 5}, space, "policy.kind=None: must be one of"),
        ({"kind": "persistent_random", "hold": 5}, space,
         "policy.hold: not a key of a persistent_random policy; allowed: hold_mean"),
        ({"kind": "persistent_random", "hold_mean": 0.5}, space, "policy.hold_mean must be >= 1"),
        ({"kind": "persistent_random", "hold_mean": "5"}, space,
         "policy.hold_mean must be a finite number"),
        ({"kind": "energy_pumping"}, cheetah, "policy.kind=energy_pumping is for Pendulum-v1"),
        ({"kind": "mixture", "members": []}, space, "policy.members: a mixture needs"),
        ({"kind": "mixture", "members": [{"kind": "nope", "weight": 1}]}, space,
         "policy.members[0].kind='nope': must be one of"),
        ({"kind": "mixture", "members": [{"kind": "persistent_random", "weight": -1}]}, space,
         "policy.members[0].weight must be a finite number >= 0"),
    ]
    for spec, action_space, message in cases:
        with pytest.raises(ValueError) as error:
            build_policy(spec, action_space)
        assert str(error.value).startswith(message) and "\n" not in str(error.value), spec


def test_unknown_names_give_one_line() -> None:
    with pytest.raises(ValueError) as error:
        simulate_control("CartPole-v1", 1, 10, 0, RANDOM)
    text = str(error.value)
    assert "\n" not in text and "'CartPole-v1'" in text
    assert all(name in text for name in ENVIRONMENTS) and "HalfCheetah-v5" in text
    with pytest.raises(ValueError, match="unknown channel group 'reward'; allowed: observation"):
        channel_names("pendulum", "reward")
    with pytest.raises(ValueError, match="^env_kwargs.reset_noise_scale: not an option of Pendulum-v1$"):
        simulate_control("pendulum", 1, 10, 0, RANDOM, {"reset_noise_scale": 0.1})
    with pytest.raises(ValueError, match="length must be an integer >= 1"):
        simulate_control("pendulum", 1, 0, 0, RANDOM)
    with pytest.raises(ValueError, match=r"Pendulum-v1 replays actions \[T, 1\]"):
        replay("pendulum", None, np.zeros(2), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="HalfCheetah-v5 needs a finite state of 18 values"):
        replay("half_cheetah", None, np.zeros(17), np.zeros((5, 6)))


def test_environment_defaults_and_facts() -> None:
    assert ENVIRONMENTS["hopper"]["env_kwargs"]["terminate_when_unhealthy"] is False
    facts = task_facts("half_cheetah")
    assert facts.joint_ranges["bthigh"] == pytest.approx((-0.52, 1.05)) and facts.dt == 0.05
    assert "rooty" not in facts.joint_ranges
    assert task_facts("pendulum").max_speed == 8
    assert task_facts("hopper").healthy["z"][0] == pytest.approx(0.7)
