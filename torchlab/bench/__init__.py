"""Benchmarking on the GPU: CUDA-event timing with the L2 cache flushed, medians, the
machine's ceilings measured in the same run, and the GPU's identity and clocks."""
