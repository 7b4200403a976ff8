import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def tiny_scenario() -> dict:
    """A scenario small enough to run in a second: 3 photos at 64x64."""
    return {
        "name": "tiny",
        "seed": 7,
        "dataset": {"name": "samples", "options": {"size": 64, "limit": 3}},
        "transceivers": [{"name": "softcast", "options": {"chunks_per_side": 4}}],
        "channels": [{"name": "awgn"}, {"name": "rayleigh_block", "label": "rayleigh"}],
        "sweep": {"snr_db": [0, 10], "cbr": ["1/12", "1/6"]},
        "metrics": ["psnr", "ssim"],
        "batch_size": 2,
    }


os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session", autouse=True)
def gscsim_cache(tmp_path_factory):
    """Keep the tests' caches (Inception reference features, the kodak5 wheel) out of ~/.cache."""
    path = tmp_path_factory.mktemp("gscsim-cache")
    os.environ["GSCSIM_CACHE"] = str(path)
    return path


@pytest.fixture(scope="module")
def scenes32_batch():
    """Four test-split scenes at 32x32 with their captions, as a transceiver's Batch."""
    from gscsim.data.scenes.shards import SceneSplit
    from gscsim.plugins import Batch

    scenes = SceneSplit("test", 4, 32, progress=False)
    return Batch(images=scenes.images.float() / 255, captions=scenes.captions,
                 ids=[str(i) for i in range(4)])


def interrupt_on_call(function, n: int):
    """`function` wrapped so that its n-th call raises KeyboardInterrupt (a run stopped
    mid-way, for resume tests)."""
    calls = 0

    def wrapper(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == n:
            raise KeyboardInterrupt
        return function(*args, **kwargs)

    return wrapper
