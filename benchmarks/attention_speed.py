"""Why gscsim's attention (gscsim/nn/attention.py) writes attention out in training rather than
calling torch's F.scaled_dot_product_attention: the same work timed with each, alternating call
by call in one run (ratios are what to compare: these machines are shared and noisy).

    python benchmarks/attention_speed.py [--repeats 6] [--fp32]

Timed: one training step (forward, backward, AdamW) of SwinJSCC `tiny-photos` (16 x 128x128) and
of SCVAR `scvar-scenes64` (32 scenes, random conditions), and one greedy SCVAR generation of 16
scenes with the KV cache (there gscsim's attention calls torch's kernel itself, so the two should
tie). Both compute the same function (tests/test_attention.py); only the kernel differs.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import torch
import torch.nn.functional as F

import gscsim.nn.swin
import gscsim.scvar.var
from gscsim.baselines.swinjscc.model import SwinJSCC
from gscsim.baselines.swinjscc.train import SwinJSCCConfig, config_path
from gscsim.io import load_yaml, shipped_config
from gscsim.nn.attention import attention
from gscsim.scvar.model import SCVAR, Text2Para
from gscsim.scvar.train import CONFIG_DIR, SCVARRunConfig
from gscsim.scvar.zoo import load_scvar

MODULES = (gscsim.nn.swin, gscsim.scvar.var)        # the modules that call `attention`


def torch_sdpa(q, k, v, bias=None, scale=None):
    """`attention` through F.scaled_dot_product_attention (the comparison)."""
    mask = None if bias is None else bias.to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)


def swinjscc_step(bf16: bool) -> Callable[[], None]:
    cfg = load_yaml(config_path("tiny-photos"), SwinJSCCConfig)
    model = SwinJSCC(cfg.model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images = torch.rand(cfg.train.batch, 3, *cfg.model.img_size)
    snr = torch.full((cfg.train.batch,), 5.0)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            recon = model(images, snr, cfg.model.rates[0])
        opt.zero_grad()
        F.mse_loss(recon.float(), images).backward()
        opt.step()
    return step


def scvar_step(bf16: bool) -> Callable[[], None]:
    cfg = load_yaml(shipped_config("scvar-scenes64", CONFIG_DIR), SCVARRunConfig)
    model, text2para = SCVAR(cfg.model), Text2Para(params=cfg.model.text_params)
    opt = torch.optim.AdamW(list(model.parameters()) + list(text2para.parameters()), lr=1e-4)
    batch, size, vocab = cfg.train.batch, cfg.model.image_size, cfg.model.var.vocab
    tokens = [torch.randint(vocab, (batch, p * p)) for p in cfg.model.var.patch_nums]
    inputs = torch.randn(batch, sum(t.shape[1] for t in tokens[1:]), cfg.model.var.cvae)
    embeddings, depth = torch.randn(batch, 384), torch.rand(batch, 1, size, size)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            cond, cond_tokens = model.conditions(text2para(embeddings), depth, batch, None, None)
            logits = model(cond, inputs, cond_tokens)
        loss = F.cross_entropy(logits.float().flatten(0, 1), torch.cat(tokens, 1).flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def scvar_generation(bf16: bool) -> Callable[[], None]:
    model, _, vae, _ = load_scvar("scvar-scenes64")
    size = model.scfg.image_size
    params, depth = torch.randn(16, model.scfg.text_params), torch.rand(16, 1, size, size)

    @torch.no_grad()
    def generate() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model.sample(vae, params, depth, top_k=1, kv_cache=True)
    return generate


def median_seconds(work: Callable[[], None], repeats: int) -> dict[str, float]:
    """Median seconds of `work` with each attention; they alternate call by call."""
    kinds = {"gscsim": attention, "torch SDPA": torch_sdpa}
    times: dict[str, list[float]] = {name: [] for name in kinds}
    try:
        for r in range(repeats + 1):                    # the first round warms up, dropped
            for name, function in kinds.items():
                for module in MODULES:
                    module.attention = function
                start = time.perf_counter()
                work()
                if r:
                    times[name].append(time.perf_counter() - start)
    finally:
        for module in MODULES:
            module.attention = attention
    return {name: sorted(t)[len(t) // 2] for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--fp32", action="store_true", help="no bfloat16 autocast")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"{'fp32' if args.fp32 else 'bf16 autocast'}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}; seconds per call")
    print(f"{'work':42s} {'gscsim':>12s} {'torch SDPA':>12s} {'speed-up':>9s}")
    for name, build in (("SwinJSCC tiny-photos training step", swinjscc_step),
                        ("SCVAR scenes64 training step", scvar_step),
                        ("SCVAR scenes64 generation, batch 16", scvar_generation)):
        median = median_seconds(build(not args.fp32), args.repeats)
        print(f"{name:42s} {median['gscsim']:12.3f} {median['torch SDPA']:12.3f} "
              f"{median['torch SDPA'] / median['gscsim']:8.2f}x")


if __name__ == "__main__":
    main()
