"""Benchmarks as ratios, measured side by side in one run (issue 17): `python -m benchmarks`.

    training.py         training steps/s at the first seed's size: default vs seed-faithful vs
                        the predictive baseline
    generation.py       µs per token at batch 1 and tokens/s at batch 1 024: 1 NFE, Diffusion
                        Forcing K = 10 and 50, predictive (eager; exported; AOTInductor)
    memory.py           peak memory generating 1k and 100k tokens (streaming vs rollout)
    time_to_quality.py  wall time until the default recipe keeps its circles, against the
                        seed-faithful configuration (separate: minutes to hours)

Shared pieces: machine.py (what the figures ran on), recipes.py (the configurations, composed
from the real YAML), timing.py (interleaved repetitions and medians). See README_fragment.md.
"""
