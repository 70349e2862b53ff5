"""Drop-in modules: ``torchlab.nn.LayerNorm`` and ``torchlab.nn.RMSNorm`` are
``torch.nn.LayerNorm`` and ``torch.nn.RMSNorm`` (same constructor arguments, parameters,
state_dict keys, initialization and repr; isinstance of them) whose forward runs
torchlab's fused kernels. Swap one for the other, or load one's state_dict into the other.
"""

from __future__ import annotations

import torch
from torch import Tensor

from torchlab.ops.layer_norm import layer_norm
from torchlab.ops.rms_norm import rms_norm

__all__ = ["LayerNorm", "RMSNorm"]


class LayerNorm(torch.nn.LayerNorm):
    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class RMSNorm(torch.nn.RMSNorm):
    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)
