"""3GPP TDL and CDL channels (TR 38.901, Sionna) seen through an OFDM resource grid.

Any transceiver's symbols (digital or analog) are mapped, slot by slot, onto the data resource
elements of a SISO OFDM grid (`fft_size` subcarriers x `ofdm_symbols` symbols, Kronecker
pilots on `pilot_symbols`); Sionna's frequency-domain OFDM channel applies the fading (channel
normalised to unit average gain) and noise N0 = 10^(-SNR/10) per resource element; the receiver
estimates the channel by least squares on the pilots with linear interpolation and equalises
with LMMSE, which returns unbiased symbol estimates and their effective noise variance. Pilots
and the filler that completes the last slot are channel uses: `overhead_symbols` counts them
against the CBR budget. Sionna draws from its own generator, which is reseeded from the trial's
generator before every call, so runs are reproducible.
"""
from __future__ import annotations

import math
from functools import cached_property
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from gscsim.conventions import noise_variance
from gscsim.plugins import Channel, Received


class OFDMOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Literal["A", "B", "C", "D", "E"] = Field("A", description=(
        "3GPP TR 38.901 TDL or CDL profile (A-C: NLoS, D-E: LoS)"))
    delay_spread_s: float = Field(100e-9, gt=0, description="RMS delay spread (s)")
    carrier_frequency_hz: float = Field(3.5e9, gt=0, description="carrier frequency (Hz)")
    speed_mps: float = Field(0.0, ge=0, description="UE speed (Doppler)")
    fft_size: int = Field(72, ge=12, description="subcarriers")
    subcarrier_spacing_hz: float = Field(30e3, gt=0, description="subcarrier spacing (Hz)")
    ofdm_symbols: int = Field(14, ge=2, description="OFDM symbols per slot")
    pilot_symbols: list[int] = Field(default_factory=lambda: [2, 11],
                                     description="OFDM symbol indices that carry pilots")
    interpolation: Literal["nn", "lin"] = Field("lin", description=(
        "how LS pilot estimates fill the grid: nearest neighbour or linear"))


class _OFDMChannel(Channel):
    Options = OFDMOptions

    def _channel_model(self):
        raise NotImplementedError

    @cached_property
    def _blocks(self):
        from sionna.phy.channel import OFDMChannel
        from sionna.phy.mimo import StreamManagement
        from sionna.phy.ofdm import (
            LMMSEEqualizer,
            LSChannelEstimator,
            ResourceGrid,
            ResourceGridMapper,
        )

        o = self.options
        grid = ResourceGrid(num_ofdm_symbols=o.ofdm_symbols, fft_size=o.fft_size,
                            subcarrier_spacing=o.subcarrier_spacing_hz, pilot_pattern="kronecker",
                            pilot_ofdm_symbol_indices=list(o.pilot_symbols))
        streams = StreamManagement([[1]], 1)
        return {"grid": grid, "map": ResourceGridMapper(grid),
                "channel": OFDMChannel(self._channel_model(), grid, normalize_channel=True),
                "estimate": LSChannelEstimator(grid, interpolation_type=o.interpolation),
                "equalize": LMMSEEqualizer(grid, streams)}

    @property
    def data_per_slot(self) -> int:
        o = self.options
        return (o.ofdm_symbols - len(o.pilot_symbols)) * o.fft_size

    def overhead_symbols(self, n_payload: int) -> int:
        if n_payload == 0:
            return 0
        slots = math.ceil(n_payload / self.data_per_slot)
        used = slots * self.options.ofdm_symbols * self.options.fft_size
        return used - n_payload                         # pilots + filler of the last slot

    def transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator) -> Received:
        import sionna.phy

        b, n = x.shape
        per_slot = self.data_per_slot
        slots = math.ceil(n / per_slot)
        filler = torch.ones(b, slots * per_slot - n, dtype=x.dtype, device=x.device)
        data = torch.cat([x, filler], dim=1).reshape(b * slots, 1, 1, per_slot)
        blocks = self._blocks        # built first: building draws the pilots from Sionna's RNG
        sionna.phy.config.seed = int(torch.randint(0, 2 ** 31 - 1, (1,), generator=generator))
        no = torch.tensor(noise_variance(snr_db))
        y = blocks["channel"](blocks["map"](data), no)
        h_hat, err_var = blocks["estimate"](y, no)
        x_hat, no_eff = blocks["equalize"](y, h_hat, err_var, no)
        symbols = x_hat.reshape(b, slots * per_slot)[:, :n].to(torch.complex64)
        noise = no_eff.reshape(b, slots * per_slot)[:, :n].float()
        return Received(symbols=symbols, gain=torch.ones_like(noise), noise_var=noise)


class TDLOFDM(_OFDMChannel):
    """3GPP TDL (A-E) SISO channel on an OFDM grid, LS estimation and LMMSE equalisation."""

    def _channel_model(self):
        from sionna.phy.channel.tr38901 import TDL

        o = self.options
        return TDL(o.model, delay_spread=o.delay_spread_s, carrier_frequency=o.carrier_frequency_hz,
                   min_speed=o.speed_mps, max_speed=o.speed_mps)


class CDLOFDM(_OFDMChannel):
    """3GPP CDL (A-E) channel, single-antenna arrays, on an OFDM grid, LS + LMMSE."""

    def _channel_model(self):
        from sionna.phy.channel.tr38901 import CDL, Antenna

        o = self.options
        antenna = Antenna(polarization="single", polarization_type="V", antenna_pattern="38.901",
                          carrier_frequency=o.carrier_frequency_hz)
        speed = o.speed_mps
        return CDL(o.model, delay_spread=o.delay_spread_s, carrier_frequency=o.carrier_frequency_hz,
                   ut_array=antenna, bs_array=antenna, direction="uplink",
                   min_speed=speed, max_speed=speed)
