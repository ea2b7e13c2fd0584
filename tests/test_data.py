import gzip
import hashlib
import struct

import numpy as np
import pytest
import torch

from course_lib import data
from course_lib.data import TOY_2D, load_digits, load_mnist, load_photo, make_toy_2d, read_idx


def test_digits_shapes_range_and_splits():
    x, y = load_digits(return_labels=True)
    assert x.shape == (1797, 1, 8, 8) and x.dtype == torch.float32 and y.shape == (1797,)
    assert x.min() == -1 and x.max() == 1
    assert len(load_digits(split="train")) + len(load_digits(split="test")) == 1797
    up = load_digits(16)
    assert up.shape == (1797, 1, 16, 16) and up.min() >= -1 and up.max() <= 1
    # upsampling keeps the image: area-downsampling it back is close to the original
    back = torch.nn.functional.interpolate(up, size=(8, 8), mode="area")
    assert (back - x).abs().mean() < 0.15


def test_photo_is_square_in_range():
    img = load_photo("flower.jpg", size=32)
    assert img.shape == (3, 32, 32) and img.min() >= -1 and img.max() <= 1 and img.std() > 0.2
    assert load_photo(size=16, grayscale=True).shape == (1, 16, 16)


@pytest.mark.parametrize("name", TOY_2D)
def test_toy_2d_is_seeded_and_scaled(name):
    a, b = make_toy_2d(name, 1000, seed=1), make_toy_2d(name, 1000, seed=1)
    assert a.shape == (1000, 2) and torch.equal(a, b)
    assert not torch.equal(a, make_toy_2d(name, 1000, seed=2))
    assert a.abs().max() < 1.6 and a.abs().max() > 0.7


def write_idx(path, array):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """Small IDX files written by the test, served from a file:// 'mirror' with their real checksums."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (5, 28, 28)), rng.integers(0, 10, 5)
    sums = {"train-images-idx3-ubyte.gz": write_idx(mirror / "train-images-idx3-ubyte.gz", images),
            "train-labels-idx1-ubyte.gz": write_idx(mirror / "train-labels-idx1-ubyte.gz", labels)}
    monkeypatch.setitem(data.MNIST_FILES, "mnist", (mirror.as_uri() + "/", sums))
    return images, labels, tmp_path / "cache"


def test_mnist_downloads_verifies_caches_and_parses(fake_mnist):
    images, labels, cache = fake_mnist
    x, y = load_mnist(root=cache, download=True, return_labels=True)
    assert x.shape == (5, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(y, torch.tensor(labels))
    assert torch.allclose((x[:, 0] + 1) * 127.5, torch.tensor(images, dtype=torch.float32), atol=1e-3)
    assert read_idx(cache / "train-images-idx3-ubyte.gz").shape == (5, 28, 28)
    # cached: works without download now, and the mirror is not needed
    for f in (cache.parent / "mirror").iterdir():
        f.unlink()
    assert load_mnist(root=cache, size=32).shape == (5, 1, 32, 32)
    assert load_mnist(root=cache, size=16).shape == (5, 1, 16, 16)


def test_mnist_checksum_mismatch_is_refused(fake_mnist, monkeypatch):
    _, _, cache = fake_mnist
    base, sums = data.MNIST_FILES["mnist"]
    monkeypatch.setitem(data.MNIST_FILES, "mnist", (base, {k: "0" * 32 for k in sums}))
    with pytest.raises(RuntimeError, match=r"has md5 .* expected 0000"):
        load_mnist(root=cache, download=True)
    assert not list(cache.glob("*.gz")), "a file that failed its checksum is not kept"


def test_mnist_without_download_or_offline_says_so(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match=r"not in the cache .* download=False"):
        load_mnist(root=tmp_path)
    monkeypatch.setitem(data.MNIST_FILES, "mnist", ("http://127.0.0.1:9/", data.MNIST_FILES["mnist"][1]))
    with pytest.raises(RuntimeError, match="You seem to be offline"):
        load_mnist(root=tmp_path, download=True)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"size=12 is not supported; allowed: 8, 16"):
        load_digits(12)
    with pytest.raises(ValueError, match=r"name='spiral' is not supported"):
        make_toy_2d("spiral")
