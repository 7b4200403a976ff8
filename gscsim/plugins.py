"""Base classes of the four plugin kinds: Transceiver, Channel, Dataset and Metric.

A plugin declares its options as a pydantic model `Options` (unknown keys are errors), is built
as `cls(cls.Options(**options))` by the registry, and reads them from `self.options`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar

import torch
from pydantic import BaseModel, ConfigDict


class PointRefused(ValueError):
    """A transceiver cannot serve this operating point (e.g. a CBR below its smallest budget).
    The run records the refusal as the trial's result and goes on with the other trials."""


class NoOptions(BaseModel):
    """Options model of a plugin that takes none."""

    model_config = ConfigDict(extra="forbid")


class Plugin:
    """Common root: a validated options object and a one-line description for `gscsim list`."""

    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, options: BaseModel | None = None):
        self.options = options if options is not None else self.Options()

    @classmethod
    def summary(cls) -> str:
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else cls.__name__

    def weights(self) -> list[Path]:
        """The files (checkpoints) this plugin's output depends on. A resumed sweep reruns a
        stored trial when one of them has changed since; a plugin that loads weights names them."""
        return []


# ---------------------------------------------------------------- data moving through a link


@dataclass
class Batch:
    """Frames given to a transceiver.

    images: float [B, 3, H, W] in [0, 1]; captions: B strings; ids: B frame identifiers;
    depth: float [B, 1, H, W] in metres when the dataset has it (the `scenes` set), else None.
    Caption embeddings (384-d) come from gscsim.text.embed(batch.captions).
    """

    images: torch.Tensor
    captions: list[str]
    ids: list[str]
    depth: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.images.shape[0]


@dataclass
class LinkContext:
    """What both ends of a link know about it.

    total_budget: complex channel uses per image allowed at this CBR, channel overhead (pilots)
    included; image_shape: (3, H, W); snr_db: nominal Es/N0 in dB, `stream_snr_db` overrides it
    per stream; overhead(n): channel uses the channel adds to a stream of n symbols;
    generator: seeded generator for any random draw the transceiver makes.
    """

    total_budget: int
    image_shape: tuple[int, int, int]
    cbr: float
    snr_db: float
    stream_snr_db: dict[str, float]
    overhead: Callable[[int], int]
    generator: torch.Generator
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    batch_size: int = 1
    dataset: str = ""             # the scenario's dataset (registered name); "" when unknown

    def snr_for(self, stream: str) -> float:
        """Es/N0 in dB that `stream` sees."""
        return self.stream_snr_db.get(stream, self.snr_db)

    @classmethod
    def for_budget(cls, cbr: float, image_shape: tuple[int, int, int], snr_db: float = 0.0
                   ) -> LinkContext:
        """A context with this CBR's budget and no channel overhead, for sizing streams outside
        a simulation (trainers, model cards)."""
        from gscsim.conventions import symbol_budget

        return cls(total_budget=symbol_budget(cbr, image_shape), image_shape=image_shape,
                   cbr=cbr, snr_db=snr_db, stream_snr_db={}, overhead=lambda n: 0,
                   generator=torch.Generator())

    def require_scenes(self, transceiver: str, checkpoint: str) -> None:
        """Refuse a dataset other than the scene set, which `checkpoint` was trained on."""
        if self.dataset and self.dataset != "scenes":
            raise ValueError(f"{transceiver}: checkpoint {checkpoint} was trained on the scene "
                             f"set, not on '{self.dataset}' images; use the scenes dataset, or "
                             f"train a checkpoint on this data")

    def require_side(self, side: int, transceiver: str, checkpoint: str) -> None:
        """Refuse images other than side x side, which `checkpoint` was trained on."""
        _, h, w = self.image_shape
        if (h, w) != (side, side):
            raise ValueError(f"{transceiver}: images of {h}x{w}; checkpoint {checkpoint} works "
                             f"at {side}x{side} (set the dataset's size option to {side})")

    def too_small(self, transceiver: str, symbols: int, what: str) -> PointRefused:
        """The error of a transceiver that needs `symbols` channel uses for `what` and finds
        fewer: it names the smallest CBR the transceiver serves at this image size."""
        _, h, w = self.image_shape
        return PointRefused(f"{transceiver}: CBR {self.cbr:.4g} at {h}x{w} cannot carry {what} "
                          f"({symbols} channel uses); the smallest CBR it serves is "
                          f"{symbols / (3 * h * w):.6f}")

    def fits(self, stream_lengths: list[int]) -> bool:
        """Whether streams of these lengths, each with its channel overhead, fit the budget."""
        return sum(n + self.overhead(n) for n in stream_lengths if n) <= self.total_budget

    def largest_fitting(self, limit: int, symbols_for: Callable[[int], int],
                        beside: list[int] | tuple[int, ...] = ()) -> int:
        """The largest k in 0..limit whose stream of symbols_for(k) symbols fits beside streams
        of the lengths `beside` (every stream with its channel overhead); 0 if none does.
        Transceivers size their rate with it: latent channels, copies, symbols."""
        k = limit
        while k > 0 and not self.fits([symbols_for(k), *beside]):
            k -= 1
        return max(k, 0)

    def single_stream_capacity(self) -> int:
        """Largest n such that one stream of n symbols (plus its channel overhead) fits."""
        return self.capacity_beside([])

    def capacity_beside(self, stream_lengths: list[int]) -> int:
        """Largest n such that a stream of n symbols fits beside streams of these lengths
        (each with its channel overhead); 0 if none does."""
        return self.largest_fitting(self.total_budget, lambda n: n, stream_lengths)


@dataclass
class Received:
    """Symbols after the channel and the receiver front-end (equaliser) of one stream.

    symbols: complex [B, N], modelled as gain * x + e; gain: real [B, N], the effective gain
    the receiver believes in (1 after zero forcing, <1 after MMSE); noise_var: real [B, N], the
    receiver's estimate of E|e|^2 per symbol. A decoder wanting an unbiased estimate uses
    symbols / gain with noise variance noise_var / gain^2.
    """

    symbols: torch.Tensor
    gain: torch.Tensor
    noise_var: torch.Tensor

    def snr_db(self) -> torch.Tensor:
        """Each frame's mean post-equaliser SNR in dB [B] (unit-power symbols assumed)."""
        return -10 * torch.log10((self.noise_var / self.gain.abs() ** 2).mean(1)).float()

    def combine_copies(self, copies: int) -> Received:
        """Maximum-ratio combining of a block sent `copies` times back to back ([B, copies * n]
        -> [B, n]): each copy's unbiased estimate weighted by its inverse noise variance. The
        result has gain 1 and the combined noise variance (copies times less on AWGN)."""
        b, total = self.symbols.shape
        if copies < 1 or total % copies:
            raise ValueError(f"cannot split {total} received symbols into {copies} copies")
        weight = (self.gain.abs() ** 2 / self.noise_var).view(b, copies, -1)
        matched = (self.gain * self.symbols / self.noise_var).view(b, copies, -1).sum(1)
        total_weight = weight.sum(1)
        return Received(matched / total_weight, torch.ones_like(total_weight), 1 / total_weight)


@dataclass
class Decoded:
    """What a receiver may return instead of bare images: the images (float [B, 3, H, W] in
    [0, 1]), whether each frame passed its integrity check (bool [B], e.g. every code block's
    CRC; None if the receiver cannot tell; with flags the engine retransmits failed frames when
    ARQ is on), the received captions of a transceiver that sends text, and extra per-frame
    columns for frames.csv ({name: [B] values}, e.g. whether a side stream arrived)."""

    images: torch.Tensor
    frame_ok: torch.Tensor | None = None
    captions: list[str] | None = None
    extras: dict[str, torch.Tensor] | None = None


# ---------------------------------------------------------------- the plugin kinds


class Transceiver(Plugin):
    """A sender/receiver pair: images -> named streams of complex symbols -> images.

    `encode` returns {stream name: complex64 [B, N_stream]}; the engine scales every stream to
    unit average power per symbol (emit unit power yourself: the decoder is not told the scale),
    checks that the streams fit `ctx.total_budget` (test with `ctx.fits([n1, n2, ...])`), and
    passes each through the channel at `ctx.snr_for(stream)`.
    `decode` gets {stream name: Received} and returns float images [B, 3, H, W] in [0, 1], or a
    `Decoded` that also says which frames passed their integrity check (enables ARQ).
    """

    # The names of the streams this transceiver may send (for checking sweep.stream_snr_db);
    # None: not declared.
    streams: ClassVar[tuple[str, ...] | None] = None

    def encode(self, batch: Batch, ctx: LinkContext) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def decode(self, received: dict[str, Received], ctx: LinkContext) -> torch.Tensor | Decoded:
        raise NotImplementedError

    def encoding_is_snr_free(self) -> bool:
        """Opt-in: True promises that `encode`'s streams depend only on the batch, the CBR, the
        channel's overhead and this transceiver's options and weights, never on the SNR or on
        random draws, and that `decode` needs nothing `encode` left behind. A sweep then
        encodes each batch once for all its SNRs (gscsim.run.link.ENCODINGS). Such an encode
        gets a context whose SNRs are NaN and whose generator is None, and one that draws
        random numbers is stopped with an error, so that a transceiver that does depend on them
        fails instead of silently reusing the wrong streams."""
        return False


class Channel(Plugin):
    """A complex-baseband channel plus the receiver front-end (channel estimate, equaliser)."""

    def overhead_symbols(self, n_payload: int) -> int:
        """Extra channel uses (pilots) spent to carry `n_payload` symbols; 0 by default."""
        return 0

    def transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator) -> Received:
        """Send unit-power symbols x (complex [B, N]) at Es/N0 `snr_db`; the receiver's view."""
        raise NotImplementedError


@dataclass
class Frame:
    """One dataset item: image float [3, H, W] in [0, 1], its caption, a stable id, and where
    the dataset has them, metric depth float [1, H, W] (m) and an instance mask uint8 [H, W]."""

    image: torch.Tensor
    caption: str
    id: str
    depth: torch.Tensor | None = None
    mask: torch.Tensor | None = None


class Dataset(Plugin):
    """An indexable, deterministic set of frames of one image size."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Frame:
        raise NotImplementedError


class Metric(Plugin):
    """A per-frame quality measure between reference and received images.

    `__call__(reference, received)` takes float [B, 3, H, W] in [0, 1] and returns float64 [B].
    `higher_is_better` and `unit` label the plots. Metrics over a whole trial (FID, KID) set
    `per_set = True` and implement `reset`, `update` and `compute` instead (gscsim.metrics.fid);
    caption metrics set `inputs = "captions"` and compare sent and received caption lists.
    """

    unit: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = True
    datasets: ClassVar[tuple[str, ...] | None] = None   # the datasets it can score; None: any
    per_set: ClassVar[bool] = False
    inputs: ClassVar[str] = "images"        # or "captions": (sent, received caption lists)

    def __call__(self, reference: torch.Tensor, received: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
