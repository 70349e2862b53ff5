"""Lab 01: Tensors, storage and strides.

A tensor is a view: a storage (a flat run of bytes), an offset into it, and one stride per
dimension saying how far to jump for the next index. Views, transposes and broadcasts only
change that description; copies move bytes. Run: torchlab lab run 1 (or python this file).
"""

import time
from pathlib import Path

import torch

from torchlab.labs import Lab, check

lab = Lab(1, "Tensors, storage and strides")
HERE = Path(__file__).parent


def extension():
    """This lab's C++ (strided.cpp), built once and cached."""
    from torchlab.labs.build import build
    return build("lab01", [HERE / "strided.cpp"])


@lab.step("Storage, offset and strides")
def storage_offset_strides():
    """Element (i, j) of a 2-d tensor lives at storage_offset + i * stride[0] + j * stride[1]
    of its storage. A fresh tensor is row-major: the last dimension has stride 1."""
    x = torch.arange(12.0).reshape(3, 4)
    storage = torch.tensor([]).set_(x.untyped_storage())  # the flat storage, as a tensor
    print("shape", tuple(x.shape), "strides", x.stride(), "offset", x.storage_offset())
    check(x.stride() == (4, 1), "a fresh 3x4 tensor has strides (4, 1)")
    i, j = 2, 3
    check(x[i, j] == storage[x.storage_offset() + i * x.stride(0) + j * x.stride(1)],
          "x[2, 3] is storage[offset + 2*4 + 3*1]")


@lab.step("Views share storage; copies do not")
def views_and_copies():
    """Slicing, transposing and view() return tensors over the same storage: `_base` points at
    the tensor that owns the storage, `data_ptr` moves by the offset, and a write through one is seen
    through the other. Every in-place write bumps the storage's version counter (`_version`),
    which is how autograd notices a saved tensor was changed."""
    x = torch.arange(12.0).reshape(3, 4)
    owner = x._base
    check(owner is not None and owner.shape == (12,),
          "x itself is a view: of the 12-element tensor arange made")
    row = x[1]
    check(row._base is owner,
          "x[1]._base is that same owner: _base always names the tensor that is not a view")
    check(row.untyped_storage().data_ptr() == x.untyped_storage().data_ptr(),
          "x[1] shares x's storage")
    check(row.data_ptr() == x.data_ptr() + 4 * x.element_size(),
          "x[1] starts 4 elements into it: storage_offset 4")
    before = x._version
    row.fill_(-1)
    check(bool((x[1] == -1).all()), "writing through the view changes x")
    check(x._version > before, "and bumps the shared version counter")
    copy = x.clone()
    check(copy._base is None and copy.data_ptr() != x.data_ptr(), "clone() copies the bytes")


@lab.step("Transpose and permute swap strides, not data")
def transpose_permute():
    """t() and permute() reorder the strides. The result reads the same bytes in another
    order, so it is no longer contiguous (row-major); contiguous() makes a row-major copy."""
    x = torch.arange(12.0).reshape(3, 4)
    t = x.t()
    print("x.t() strides", t.stride())
    check(t.stride() == (1, 4) and t.data_ptr() == x.data_ptr(),
          "x.t() has strides (1, 4) over the same storage")
    check(not t.is_contiguous(), "so it is not contiguous")
    c = t.contiguous()
    check(c.is_contiguous() and c.data_ptr() != x.data_ptr() and c.stride() == (3, 1),
          "contiguous() copies into a new row-major storage")
    images = torch.randn(8, 3, 32, 32).to(memory_format=torch.channels_last)
    print("channels_last NCHW strides", images.stride())
    check(images.stride() == (3 * 32 * 32, 1, 32 * 3, 3),
          "channels_last keeps NCHW sizes but stores channels innermost (stride 1)")


@lab.step("expand: stride 0")
def expand_stride_zero():
    """expand() repeats a tensor without copying it: the repeated dimension gets stride 0, so
    every index along it reads the same bytes. That is how broadcasting costs no memory."""
    bias = torch.arange(4.0)
    rows = bias.expand(1000, 4)
    print("expanded strides", rows.stride())
    check(rows.stride() == (0, 1), "the expanded dimension has stride 0")
    check(rows.untyped_storage().nbytes() == 4 * bias.element_size(),
          "1000 rows, still 16 bytes of storage")


@lab.step("as_strided: any view you can describe")
def as_strided_windows():
    """as_strided(size, stride) builds a view from raw strides. Overlapping windows of a
    signal are a view with stride 1 along the window and stride `step` between windows."""
    signal = torch.arange(10.0)
    windows = signal.as_strided(size=(4, 4), stride=(2, 1))
    print(windows)
    check(torch.equal(windows, signal.unfold(0, 4, 2)), "as_strided((4, 4), (2, 1)) == unfold(0, 4, 2)")
    check(windows.data_ptr() == signal.data_ptr(), "without copying")


@lab.step("Why view fails where reshape copies")
def view_versus_reshape():
    """view() must express the new shape with strides over the same storage. For a transposed
    tensor, flattening needs elements in an order no single stride gives, so view() refuses;
    reshape() falls back to a copy."""
    t = torch.arange(12.0).reshape(3, 4).t()
    try:
        t.view(12)
        refused = False
    except RuntimeError as error:
        print("view:", str(error).splitlines()[0])
        refused = True
    check(refused, "t.view(12) is refused")
    flat = t.reshape(12)
    check(flat.data_ptr() != t.data_ptr() and torch.equal(flat, t.contiguous().view(12)),
          "t.reshape(12) copies")
    check(torch.arange(12.0).reshape(3, 4).view(12)._base is not None,
          "on a contiguous tensor, view(12) is a view")


@lab.step("In C++: walking the strides by hand, and TensorIterator")
def cpp_strided_walk():
    """strided.cpp reads every element through offset_of(index, sizes, strides, offset), the
    formula of step 1 for any number of dimensions, and copies the same tensor through
    TensorIterator, which coalesces dimensions and hands a loop a pointer and a byte stride
    per operand. Both are checked against PyTorch on non-contiguous and broadcast inputs.
    (The first run compiles the C++: about a minute.)"""
    ops = extension()
    inputs = {
        "transposed": torch.randn(5, 7, dtype=torch.float64).t(),
        "sliced": torch.randn(6, 9, dtype=torch.float64)[1:5, ::3],
        "broadcast": torch.randn(7, dtype=torch.float64).expand(3, 7),
        "permuted": torch.randn(2, 3, 4, dtype=torch.float64).permute(2, 0, 1),
    }
    for name, t in inputs.items():
        print(f"{name:<10} sizes {list(t.shape)} strides {list(t.stride())}")
        check(torch.equal(ops.strided_copy(t), t.contiguous()), f"{name}: hand-walked copy is right")
        check(torch.equal(ops.iterator_copy(t), t.contiguous()), f"{name}: TensorIterator copy is right")


@lab.step("The cost of reading across strides")
def cost_of_strides():
    """Memory moves in cache lines (64 bytes on a CPU, 32-byte sectors on a GPU). Reading a
    transposed tensor in row-major order touches a new line for every element, so the same
    hand-walked copy runs slower on it than on a contiguous tensor. On a GPU the same effect
    is called (un)coalesced access. The matrix (128 MB) is larger than a CPU's last-level
    cache, so that the transposed reads go to memory; the copy's index arithmetic (a
    division per dimension per element) still hides part of their cost."""
    ops = extension()
    x = torch.randn(4096, 4096, dtype=torch.float64)

    def best_of_each(fns, runs=10):
        # in turn, so that a slow moment of the machine slows every one of them alike; ten
        # rounds, as a shared machine can run slow for seconds (CI's 2-core one once gave
        # 255 ms against the usual 180-210 for the contiguous copy in all of five rounds)
        best = [float("inf")] * len(fns)
        for _ in range(runs):
            for k, fn in enumerate(fns):
                start = time.perf_counter()
                fn()
                best[k] = min(best[k], time.perf_counter() - start)
        return best

    along, across = best_of_each([lambda: ops.strided_copy(x), lambda: ops.strided_copy(x.t())])
    print(f"contiguous {along * 1e3:.1f} ms, transposed {across * 1e3:.1f} ms "
          f"({across / along:.1f}x)")
    check(across > 1.2 * along, "reading across the strides is more than 1.2x slower")


@lab.step("On the GPU: coalesced and strided reads", needs="cuda")
def gpu_coalescing():
    """A warp of 32 threads reading 32 consecutive floats needs 4 memory sectors; reading 32
    floats a row apart needs 32. Copying a transposed matrix therefore reads many more
    sectors than copying a contiguous one, unless the kernel goes through shared memory."""
    x = torch.randn(8192, 8192, device="cuda")
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def timed(fn):
        fn()
        start.record()
        for _ in range(10):
            fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 10

    along = timed(lambda: x.clone())
    across = timed(lambda: x.t().contiguous())
    print(f"clone {along:.3f} ms, transposed copy {across:.3f} ms")
    check(across > along, "the transposed copy is slower than a contiguous one")


if __name__ == "__main__":
    raise SystemExit(lab.main())
