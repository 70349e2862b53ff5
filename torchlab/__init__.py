"""torchlab: a hands-on lab for PyTorch internals and custom GPU kernels.

Importing torchlab loads the compiled extension ``torchlab._C``, whose static initializers
register every operator with the dispatcher (``torch.ops.torchlab.*``), then registers the
fake kernels and autograd formulas written in Python (``torchlab.ops``).
"""

import torch  # noqa: F401  (the extension links against libtorch: load it first)

__version__ = "0.1.0"
__all__ = ["add_rms_norm", "bias_gelu", "layer_norm", "log_softmax", "nn", "rms_norm",
           "softmax"]

try:
    from torchlab import _C  # noqa: F401
except ImportError as error:
    # Keep the package importable, so that `torchlab doctor` can say what went wrong.
    extension_error: ImportError | None = error
else:
    extension_error = None
    from torchlab import nn  # noqa: F401
    from torchlab.ops.add_rms_norm import add_rms_norm
    from torchlab.ops.bias_gelu import bias_gelu
    from torchlab.ops.layer_norm import layer_norm
    from torchlab.ops.rms_norm import rms_norm
    from torchlab.ops.softmax import log_softmax, softmax


def __getattr__(name: str):
    if name in __all__ and extension_error is not None:
        raise ImportError(
            f"torchlab.{name} needs the compiled extension torchlab._C, which did not load: "
            f"{extension_error}\nRun `torchlab doctor` to see why and how to fix it."
        ) from extension_error
    raise AttributeError(f"module 'torchlab' has no attribute {name!r}")
