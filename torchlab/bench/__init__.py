"""Benchmarks of torchlab's operators against native PyTorch, on the GPU or the CPU.

- ``spec``: what a benchmark of one operator is (declared next to the operator);
- ``timing``: CUDA-event and wall-clock timing with caches flushed, medians;
- ``ceilings``: the copy bandwidth and matrix-product rates, measured in the same run;
- ``environment``: software, git commit, the GPU's identity, clocks and power;
- ``runner``: checks every provider against the reference, then times it;
- ``report``: JSON, CSV, Markdown, plots and the console table.

``torchlab bench`` drives them (``torchlab.cli``).
"""

# The choices, named here without importing torch, so that the CLI parser stays light.
MODES = ("fwd", "bwd", "fwd+bwd")
DTYPE_NAMES = ("float32", "bfloat16", "float16")
SHAPE_SETS = ("quick", "full")
PROVIDERS = ("torchlab", "eager", "compile", "compile-max")
DEFAULT_PROVIDERS = ("torchlab", "eager", "compile")
