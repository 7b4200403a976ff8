"""`gscsim score`: one metric on an image pair, or on two folders paired by file name."""
from __future__ import annotations

from pathlib import Path

from gscsim import registry
from gscsim.data.datasets import IMAGE_SUFFIXES, load_full


def pairs(reference: Path, distorted: Path) -> list[tuple[Path, Path]]:
    """(reference, distorted) files: the two paths, or two folders matched by file name."""
    if reference.is_file() and distorted.is_file():
        return [(reference, distorted)]
    if reference.is_dir() and distorted.is_dir():
        found = [(p, distorted / p.name) for p in sorted(reference.iterdir())
                 if p.suffix.lower() in IMAGE_SUFFIXES and (distorted / p.name).exists()]
        if not found:
            raise FileNotFoundError(f"no file names shared by {reference} and {distorted}")
        return found
    raise FileNotFoundError(f"give two image files or two folders (got {reference}, {distorted})")


def score(metric_name: str, reference: Path, distorted: Path) -> list[tuple[str, float]]:
    """[(name, value)]: one per pair for per-frame metrics, one for the set for FID/KID."""
    cls = registry.resolve("metrics", metric_name)
    if cls.inputs != "images":
        raise ValueError(f"metric '{metric_name}' compares captions, not images")
    metric = cls(cls.Options())
    matched = pairs(Path(reference), Path(distorted))
    out = []
    for ref_path, dist_path in matched:
        ref, dist = load_full(ref_path).unsqueeze(0), load_full(dist_path).unsqueeze(0)
        if ref.shape != dist.shape:
            raise ValueError(f"{ref_path.name}: sizes differ ({tuple(ref.shape[2:])} and "
                             f"{tuple(dist.shape[2:])})")
        if metric.per_set:
            metric.update(ref, dist)
        else:
            out.append((ref_path.name, float(metric(ref, dist)[0])))
    if metric.per_set:
        out.append((f"{len(matched)} pairs", metric.compute()[metric_name]))
    return out
