"""A compiled sum-product decoder for the 5G NR LDPC codes, selectable beside Sionna's.

`CompiledLDPC5GDecoder` is Sionna's LDPC5GDecoder (same parity-check matrices, the same
puncturing of the first 2Z systematic bits, shortening with filler bits and rate recovery, all
done by Sionna) whose message-passing core is replaced by a numba kernel: float32 sum-product
with the same phi-function check-node rule and clipping as Sionna's "boxplus-phi", one codeword
per thread, and early termination as soon as every parity check is satisfied. Two schedules:

- `flooding`: every check node, then every variable node, per iteration (Sionna's schedule);
- `layered`: check nodes one at a time, each using the variable-node totals its predecessors
  just updated (row-layered BP), which converges in about half the iterations.

Written by hand because no kept library does this on the CPU at speed: Sionna's decoder is
vectorised torch (padded gathers, no early stop; it slows per codeword as the batch grows) and
the `ldpc` package's C++ decoder runs one codeword at a time on one thread. numba compiles the
kernel on first use (a few seconds; cached on disk afterwards).
Equality with Sionna's BP is tested on BLER within Monte Carlo error (tests/test_ldpc.py);
`benchmarks/ldpc_throughput.py` measures the speed ratio.
"""
from __future__ import annotations

import os
from typing import Literal

import numba
import numpy as np
import torch

Schedule = Literal["flooding", "layered"]
# numba's own thread pool, not OpenMP: its OpenMP layer resets the process's OpenMP thread
# count (torch's intra-op threads jumped from 1 to the core count after the first decode),
# which broke the executors' thread policy and bit-exact resumes of training runs.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"
PHI_MIN = np.float32(8.5e-8)                 # Sionna's float32 clipping of phi's argument
PHI_MAX = np.float32(16.635532)
ONE = np.float32(1.0)


@numba.njit(inline="always", fastmath=True)
def _phi(x):
    """phi(x) = -log(tanh(x / 2)) = log((e^x + 1) / (e^x - 1)) in float32, x clipped as
    Sionna does."""
    x = min(max(np.float32(x), PHI_MIN), PHI_MAX)
    e = np.exp(x)
    return np.log((e + ONE) / (e - ONE))


@numba.njit(inline="always", fastmath=True)
def _check_update(v2c, c2v, start, stop, llr_max):
    """Extrinsic boxplus of one check node's incoming messages v2c[start:stop] into
    c2v[start:stop] (phi rule, sign product, clipping at llr_max)."""
    total, sign = np.float32(0.0), ONE
    for e in range(start, stop):
        c2v[e] = _phi(abs(v2c[e]))            # phi of each input, kept for the second pass
        total += c2v[e]
        if v2c[e] < 0:
            sign = -sign
    for e in range(start, stop):
        own = -ONE if v2c[e] < 0 else ONE
        value = sign * own * _phi(total - c2v[e])
        c2v[e] = min(max(value, -llr_max), llr_max)


@numba.njit(inline="always")
def _satisfied(bits, cn_ptr, cn_vn):
    for j in range(cn_ptr.size - 1):
        parity = 0
        for e in range(cn_ptr[j], cn_ptr[j + 1]):
            parity ^= bits[cn_vn[e]]
        if parity:
            return False
    return True


@numba.njit(parallel=True, cache=True, fastmath=True)
def decode_flooding(llr, cn_ptr, cn_vn, vn_ptr, vn_edges, iterations, llr_max, bits, used):
    """Flooding sum-product. llr: float32 [B, N] true LLRs (positive: bit 0); cn_ptr/cn_vn:
    the checks' edges (CSR, edge e joins check j to variable cn_vn[e]); vn_ptr/vn_edges: each
    variable's edge ids. Writes hard decisions to bits uint8 [B, N] and the iterations each
    codeword took to used int32 [B]."""
    batch, n = llr.shape
    edges = cn_vn.size
    for b in numba.prange(batch):
        v2c = np.empty(edges, np.float32)
        c2v = np.zeros(edges, np.float32)
        for e in range(edges):
            v2c[e] = llr[b, cn_vn[e]]
        for v in range(n):
            bits[b, v] = 1 if llr[b, v] <= 0 else 0
        used[b] = 0
        for it in range(iterations):
            if _satisfied(bits[b], cn_ptr, cn_vn):
                break
            for j in range(cn_ptr.size - 1):
                _check_update(v2c, c2v, cn_ptr[j], cn_ptr[j + 1], llr_max)
            for v in range(n):
                total = llr[b, v]
                for i in range(vn_ptr[v], vn_ptr[v + 1]):
                    total += c2v[vn_edges[i]]
                for i in range(vn_ptr[v], vn_ptr[v + 1]):
                    e = vn_edges[i]
                    v2c[e] = min(max(total - c2v[e], -llr_max), llr_max)
                bits[b, v] = 1 if min(max(total, -llr_max), llr_max) <= 0 else 0
            used[b] = it + 1


@numba.njit(parallel=True, cache=True, fastmath=True)
def decode_layered(llr, cn_ptr, cn_vn, vn_ptr, vn_edges, iterations, llr_max, bits, used):
    """Row-layered sum-product: as decode_flooding, but each check node reads the variable
    totals the checks before it have just updated."""
    batch, n = llr.shape
    edges = cn_vn.size
    for b in numba.prange(batch):
        total = np.empty(n, np.float32)
        c2v = np.zeros(edges, np.float32)
        v2c = np.empty(edges, np.float32)
        for v in range(n):
            total[v] = llr[b, v]
            bits[b, v] = 1 if llr[b, v] <= 0 else 0
        used[b] = 0
        for it in range(iterations):
            if _satisfied(bits[b], cn_ptr, cn_vn):
                break
            for j in range(cn_ptr.size - 1):
                start, stop = cn_ptr[j], cn_ptr[j + 1]
                # Extrinsic inputs, not clipped: the posterior below must keep all its
                # evidence (clipping here would cap it at two messages' worth); phi clips
                # its own argument.
                for e in range(start, stop):
                    v2c[e] = total[cn_vn[e]] - c2v[e]
                _check_update(v2c, c2v, start, stop, llr_max)
                for e in range(start, stop):
                    total[cn_vn[e]] = v2c[e] + c2v[e]
            for v in range(n):
                bits[b, v] = 1 if total[v] <= 0 else 0
            used[b] = it + 1


def graph(pcm) -> tuple[np.ndarray, ...]:
    """(cn_ptr, cn_vn, vn_ptr, vn_edges) of a parity-check matrix [checks, variables] (dense
    or scipy sparse): edges ordered by check; each variable's edge ids."""
    import scipy.sparse as sp

    csr = sp.csr_matrix(pcm)
    csr.sort_indices()
    cn_ptr = csr.indptr.astype(np.int64)
    cn_vn = csr.indices.astype(np.int64)
    order = np.argsort(cn_vn, kind="stable")
    vn_ptr = np.zeros(csr.shape[1] + 1, np.int64)
    np.cumsum(np.bincount(cn_vn, minlength=csr.shape[1]), out=vn_ptr[1:])
    return cn_ptr, cn_vn, vn_ptr, order.astype(np.int64)


def compiled_decoder_class():
    """The class CompiledLDPC5GDecoder (built on first use: Sionna imports slowly)."""
    global _CLASS
    if _CLASS is None:
        from sionna.phy.fec.ldpc import LDPC5GDecoder
        from sionna.phy.fec.ldpc.decoding import LDPCBPDecoder

        class _CompiledBP(LDPCBPDecoder):
            """LDPCBPDecoder whose `call` runs the numba kernel (hard decisions only)."""

            def call(self, llr_ch, /, *, num_iter=None, msg_v2c=None):
                if msg_v2c is not None:
                    raise ValueError("the compiled decoder keeps no state between calls")
                if not hasattr(self, "_compiled_graph"):
                    self._compiled_graph = graph(self.pcm)
                llr_max = self._llr_max if self._llr_max is not None else 1e30
                shape = llr_ch.shape
                # Sionna passes logits (positive: bit 1); the kernel takes true LLRs.
                llr = (-llr_ch.reshape(-1, self._num_vns).clamp(-llr_max, llr_max)).to(
                    torch.float32).cpu().numpy()
                numba.set_num_threads(max(1, min(torch.get_num_threads(),
                                                 numba.config.NUMBA_NUM_THREADS)))
                bits = np.empty(llr.shape, np.uint8)
                used = np.empty(llr.shape[0], np.int32)
                kernel = decode_layered if self.schedule == "layered" else decode_flooding
                kernel(np.ascontiguousarray(llr), *self._compiled_graph,
                       num_iter or self._num_iter, np.float32(llr_max), bits, used)
                self.last_iterations = used
                return torch.from_numpy(bits).to(self.dtype).reshape(shape)

        class CompiledLDPC5GDecoder(LDPC5GDecoder, _CompiledBP):
            """Sionna's LDPC5GDecoder (rate recovery, puncturing, shortening) with the numba
            sum-product core; `schedule` "flooding" or "layered"; hard decisions only.
            `last_iterations` holds each codeword's iteration count of the last call."""

            def __init__(self, encoder, schedule: Schedule = "flooding", **kwargs):
                if kwargs.get("hard_out", True) is not True:
                    raise ValueError("the compiled decoder makes hard decisions only")
                self.schedule = schedule
                super().__init__(encoder, hard_out=True, **kwargs)

        _CLASS = CompiledLDPC5GDecoder
    return _CLASS


_CLASS = None
