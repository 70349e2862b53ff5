"""torchlab's operators, one module each: the Python API, the fake kernel, the autograd
formula and the native PyTorch reference. The kernels are in csrc/ops/<op>/.

Importing this package registers every operator's Python parts with the dispatcher."""

from torchlab.ops import add_rms_norm, bias_gelu, layer_norm, rms_norm, softmax  # noqa: F401
