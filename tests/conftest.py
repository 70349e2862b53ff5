import secrets

import pytest
import torch

import torchlab  # noqa: F401  (registers the operators)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    # Fresh inputs on every run (torch's own start-up seed is fixed); pytest shows the
    # printed seed with a failure, so torch.manual_seed(seed) reproduces it.
    seed = secrets.randbits(31)
    print(f"torch.manual_seed({seed})")
    torch.manual_seed(seed)
    yield seed
