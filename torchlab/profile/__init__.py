"""Profiling one operator: ``torch_profiler`` (kernel table and Chrome trace, with NVTX
ranges) and ``ncu`` (Nsight Compute's counters and a roofline verdict).
``torchlab profile`` drives them (``torchlab.cli``)."""
