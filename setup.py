"""Builds torchlab._C: the CPU kernels always, the CUDA kernels when torch is a CUDA build
and a CUDA toolkit is found (no GPU needed). TORCHLAB_CUDA=0 or 1 forces the choice;
TORCH_CUDA_ARCH_LIST picks the GPUs. See torchlab/build_config.py."""

import glob
import importlib.util
import os
import site
import sys

import torch
from setuptools import setup
from torch.utils import cpp_extension

ROOT = os.path.dirname(os.path.abspath(__file__))


def load_build_config():
    path = os.path.join(ROOT, "torchlab", "build_config.py")
    spec = importlib.util.spec_from_file_location("torchlab_build_config", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def relative_glob(pattern):
    return sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, pattern)))


def extension():
    config = load_build_config()
    try:
        cuda = config.decide_cuda(
            os.environ.get(config.CUDA_SWITCH), torch.version.cuda, cpp_extension.CUDA_HOME)
    except config.BuildConfigError as error:
        sys.exit(f"torchlab: {error}")
    print(f"torchlab: CUDA kernels {'on' if cuda.enabled else 'off'} ({cuda.reason})")

    sources = ["csrc/torchlab.cpp", "csrc/python_module.cpp", *relative_glob("csrc/ops/*/*_cpu.cpp")]
    include_dirs = [os.path.join(ROOT, "csrc")]
    # -fopenmp turns on at::parallel_for's threads; with no FP traps nor errno to honour, the
    # compiler vectorizes the CPU kernels' math (csrc/common/fast_math.h).
    cxx_flags = ["-O3", "-fopenmp", "-fno-trapping-math", "-fno-math-errno"]
    link_flags = ["-fopenmp"]
    if not cuda.enabled:
        return cpp_extension.CppExtension(
            "torchlab._C", sources, include_dirs=include_dirs,
            extra_compile_args={"cxx": cxx_flags}, extra_link_args=link_flags)

    gpus = [torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())]
    arch_list, why = config.cuda_arch_list(os.environ.get(config.ARCH_LIST_VAR), gpus)
    os.environ[config.ARCH_LIST_VAR] = arch_list
    print(f"torchlab: building for TORCH_CUDA_ARCH_LIST={arch_list} ({why})")
    include_dirs += config.cuda_library_include_dirs(cpp_extension.CUDA_HOME,
                                                     site.getsitepackages())
    return cpp_extension.CUDAExtension(
        "torchlab._C", sources + relative_glob("csrc/ops/*/*_cuda.cu"),
        include_dirs=include_dirs,
        extra_compile_args={"cxx": cxx_flags, "nvcc": ["-O3", "-lineinfo"]},
        extra_link_args=link_flags)


os.environ.setdefault("MAX_JOBS", str(os.cpu_count() or 1))
setup(
    ext_modules=[extension()],
    cmdclass={"build_ext": cpp_extension.BuildExtension.with_options(use_ninja=True)},
)
