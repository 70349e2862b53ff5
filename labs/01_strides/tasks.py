"""Lab 01 exercises, graded with the checks the reference passes."""

import torch

from torchlab.labs import Task
from torchlab.testing import randn

SOURCES = ["strided.cpp"]


def layouts():
    """Tensors whose elements sit in their storage in every way the lab shows."""
    base = randn((6, 10), torch.float64, "cpu")
    return {
        "contiguous": base,
        "transposed": base.t(),
        "sliced with an offset": base[1:5, 3:9],
        "every other column": base[:, ::2],
        "broadcast (stride 0)": randn((10,), torch.float64, "cpu").expand(4, 10),
        "permuted 3-d": randn((2, 3, 4), torch.float64, "cpu").permute(2, 0, 1),
        "channels_last": randn((2, 3, 4, 5), torch.float64, "cpu").to(
            memory_format=torch.channels_last),
        "0-d": torch.tensor(3.5, dtype=torch.float64),
    }


def check_offset_of(ops):
    for name, t in layouts().items():
        storage = torch.tensor([], dtype=t.dtype).set_(t.untyped_storage())
        flat = t.reshape(-1)
        for index in range(t.numel()):
            offset = ops.offset_of(index, list(t.shape), list(t.stride()), t.storage_offset())
            assert 0 <= offset < storage.numel() and storage[offset] == flat[index], (
                f"{name} tensor of shape {list(t.shape)}, strides {list(t.stride())}, storage "
                f"offset {t.storage_offset()}: element {index} is not at offset {offset}")


def check_strided_copy(ops):
    for name, t in layouts().items():
        out = ops.strided_copy(t)
        assert out.is_contiguous(), f"{name}: the copy is not contiguous"
        assert torch.equal(out, t.contiguous()), f"{name}: the copy differs from the tensor"


TASKS = [
    Task("offset_of",
         "In strided.cpp, `offset_of(index, sizes, strides, storage_offset)`: where element "
         "`index` (in row-major order) of a tensor lives in its storage. Graded on contiguous, "
         "transposed, sliced, strided, broadcast (stride 0), permuted, channels_last and 0-d "
         "tensors, element by element.",
         check_offset_of),
    Task("strided_copy",
         "In strided.cpp, `strided_copy(src)`: a contiguous copy of a float64 tensor, reading "
         "each element of src's storage through offset_of. Graded against src.contiguous() on "
         "the same layouts.",
         check_strided_copy),
]
