"""Datasets, offline by default. Every loader returns float32 tensors scaled to [-1, 1].

* ``load_digits``: scikit-learn's bundled 8x8 digits (1,797 images), ``[N, 1, 8, 8]`` or upsampled
  to ``[N, 1, 16, 16]``;
* ``load_photo``: scikit-learn's bundled sample photos (``"china.jpg"``, ``"flower.jpg"``), ``[C, H, W]``;
* ``make_toy_2d``: 2-D toy distributions generated in code, ``[N, 2]``;
* ``load_mnist``: optional MNIST / Fashion-MNIST, downloaded once, checksum-verified, cached.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
import struct
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ._checks import check_choice, check_positive_int


def load_digits(size: int = 8, split: str = "all", return_labels: bool = False):
    """scikit-learn's 8x8 handwritten digits as ``[N, 1, size, size]`` in [-1, 1] (pixel 0..16 -> -1..1).

    ``size`` 8 or 16 (bilinear upsampling). ``split``: "all" (1,797), "train" (the first 1,000,
    used to fit the quality score's classifier) or "test" (the other 797, held out).
    """
    from sklearn.datasets import load_digits as sk_load_digits

    check_choice("size", size, (8, 16))
    check_choice("split", split, ("all", "train", "test"))
    d = sk_load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0
    y = torch.tensor(d.target)
    part = {"all": slice(None), "train": slice(0, 1000), "test": slice(1000, None)}[split]
    x, y = x[part], y[part]
    if size == 16:
        x = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False).clamp(-1, 1)
    return (x, y) if return_labels else x


def load_photo(name: str = "china.jpg", size: int = 64, grayscale: bool = False) -> torch.Tensor:
    """One of scikit-learn's bundled sample photos, centre-cropped square and resized: ``[C, size, size]``."""
    from sklearn.datasets import load_sample_image

    check_choice("name", name, ("china.jpg", "flower.jpg"))
    check_positive_int("size", size)
    img = torch.tensor(load_sample_image(name), dtype=torch.float32).permute(2, 0, 1) / 127.5 - 1.0
    h, w = img.shape[1:]
    s = min(h, w)
    img = img[:, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    img = F.interpolate(img[None], size=(size, size), mode="area")[0]
    if grayscale:
        img = (img * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0, keepdim=True)
    return img.clamp(-1, 1)


# ----------------------------------------------------------------------------- 2-D toy data

def _moons(n, rng):
    from sklearn.datasets import make_moons

    return make_moons(n, noise=0.06, random_state=rng.integers(2**31))[0]


def _swiss_roll(n, rng):
    from sklearn.datasets import make_swiss_roll

    return make_swiss_roll(n, noise=0.3, random_state=rng.integers(2**31))[0][:, [0, 2]]


def _gaussian_mixture(n, rng, k=8, radius=2.0, std=0.12):
    angles = 2 * math.pi * rng.integers(k, size=n) / k
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centres + std * rng.standard_normal((n, 2))


def _circles(n, rng):
    from sklearn.datasets import make_circles

    return make_circles(n, noise=0.04, factor=0.5, random_state=rng.integers(2**31))[0]


def _checkerboard(n, rng):
    x = rng.uniform(-2, 2, size=(4 * n, 2))
    keep = (np.floor(x[:, 0]) + np.floor(x[:, 1])) % 2 == 0
    return x[keep][:n]


TOY_2D = {"moons": _moons, "swiss_roll": _swiss_roll, "gaussian_mixture": _gaussian_mixture,
          "circles": _circles, "checkerboard": _checkerboard}
# Fixed affine maps to [-1, 1] per dataset, so that fresh samples share one scale.
_TOY_SCALE = {"moons": ((0.5, 0.25), (1.5, 0.75)), "swiss_roll": ((0.0, 0.0), (13.0, 13.0)),
              "gaussian_mixture": ((0.0, 0.0), (2.5, 2.5)), "circles": ((0.0, 0.0), (1.1, 1.1)),
              "checkerboard": ((0.0, 0.0), (2.0, 2.0))}


def make_toy_2d(name: str = "moons", n: int = 2000, seed: int = 0) -> torch.Tensor:
    """``n`` points of a 2-D toy distribution, ``[n, 2]``, mapped to about [-1, 1] by a fixed affine map."""
    check_choice("name", name, TOY_2D)
    check_positive_int("n", n)
    rng = np.random.default_rng(seed)
    (cx, cy), (sx, sy) = _TOY_SCALE[name]
    pts = (TOY_2D[name](n, rng) - np.array([cx, cy])) / np.array([sx, sy])
    return torch.tensor(pts, dtype=torch.float32)


# ----------------------------------------------------------------------------- optional MNIST

MNIST_FILES = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}),
    "fashion": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}),
}


def default_cache_dir() -> Path:
    """``$COURSE_LIB_CACHE`` if set, else ``~/.cache/course_lib``."""
    return Path(os.environ.get("COURSE_LIB_CACHE", Path.home() / ".cache" / "course_lib"))


def md5sum(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_verified(url: str, path: Path, md5: str, download: bool = True) -> Path:
    """Return ``path`` if it exists with checksum ``md5``; else download ``url`` there (atomically) and verify.

    Raises ``RuntimeError`` with a clear message when offline, on a checksum mismatch, or when
    ``download=False`` and the file is missing.
    """
    path = Path(path)
    if path.exists():
        if md5sum(path) == md5:
            return path
        raise RuntimeError(f"{path} is corrupt (md5 {md5sum(path)}, expected {md5}); delete it and retry")
    if not download:
        raise RuntimeError(f"{path.name} is not in the cache {path.parent} and download=False; "
                           f"pass download=True (needs internet) or copy the file there")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as response:
            shutil.copyfileobj(response, out)
        got = md5sum(Path(tmp))
        if got != md5:
            raise RuntimeError(f"download of {url} has md5 {got}, expected {md5}: not keeping it")
        os.replace(tmp, path)
    except (urllib.error.URLError, OSError) as err:
        raise RuntimeError(f"could not download {url} ({err}). You seem to be offline: the course's "
                           f"default datasets (load_digits, make_toy_2d) need no download") from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (gzipped or not): the format of MNIST's images and labels."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (header {data[:4]!r})")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_mnist(kind: str = "mnist", split: str = "train", root: str | Path | None = None,
               download: bool = False, return_labels: bool = False, size: int = 28):
    """MNIST or Fashion-MNIST as ``[N, 1, size, size]`` in [-1, 1] (optional; needs one download).

    Files are cached in ``root`` (default ``default_cache_dir() / kind``) and verified by MD5.
    ``size`` 28, or 32 (zero-padded) / 16 (area-resized) to fit U-Nets of depth up to 5 or 4.
    """
    check_choice("kind", kind, MNIST_FILES)
    check_choice("split", split, ("train", "test"))
    check_choice("size", size, (16, 28, 32))
    base, files = MNIST_FILES[kind]
    root = Path(root) if root is not None else default_cache_dir() / kind
    prefix = "train" if split == "train" else "t10k"
    img_name, lab_name = f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"
    images = read_idx(fetch_verified(base + img_name, root / img_name, files[img_name], download))
    labels = read_idx(fetch_verified(base + lab_name, root / lab_name, files[lab_name], download))
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 127.5 - 1.0
    if size == 32:
        x = F.pad(x, (2, 2, 2, 2), value=-1.0)
    elif size == 16:
        x = F.interpolate(x, size=(16, 16), mode="area")
    y = torch.tensor(labels.astype(np.int64))
    return (x, y) if return_labels else x
