"""The deterministic baseline of the first seed: the same network, a clean teacher-forced
context, a noise input at (t_start, t_end) = (0, 1), and plain MSE to the next token.

Where the future is multimodal (a first point fits a circle of centres) MSE regresses to the
mean, so its rollouts collapse onto one average path: the failure one-step diffusion fixes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from algorithms.base.trajectory_model import TrajectoryModel
from algorithms.networks.context import shift_right
from algorithms.networks.flow_network import FlowNetwork


class PredictiveBaseline(TrajectoryModel):
    def training_loss(self, network: FlowNetwork, x: Tensor, given: Tensor | None = None,
                      burn_in: int = 0) -> tuple[Tensor, dict[str, Tensor]]:
        context = shift_right(x)
        y = network.token_space.encode(x, context)[:, burn_in:]
        h = network.encode(context, None, given, burn_in)
        z = torch.randn_like(y)
        t_start = torch.zeros(y.shape[:-1], device=y.device)
        prediction = z + network.velocity(h, z, t_start, t_start + 1)
        mse = F.mse_loss(prediction, y)
        return mse, {"mse": mse.detach()}
