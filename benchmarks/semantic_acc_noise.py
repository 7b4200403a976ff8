"""semantic_acc of the shipped recogniser on 200 clean test scenes against noisy copies.

    python benchmarks/semantic_acc_noise.py
"""
import torch

from gscsim.data.scenes.dataset import Scenes
from gscsim.metrics.semantic import SemanticAccuracy

ds = Scenes(Scenes.Options(count=200))
images = torch.stack([ds[i].image for i in range(len(ds))])
metric = SemanticAccuracy()
g = torch.Generator().manual_seed(0)
for sigma in (0.0, 0.05, 0.15, 0.3, 0.6):
    noisy = (images + sigma * torch.randn(images.shape, generator=g)).clamp(0, 1)
    print(f"sigma {sigma:4.2f}  semantic_acc {metric(images, noisy).mean().item():.3f}")
