"""What a finer token map costs SCVAR's training: seconds per step at two lists of scales.

    python benchmarks/scvar_token_map_cost.py [--config scvar-scenes64] [--batch 32] [--steps 6]

One training step (Text2Para, depth encoder, teacher-forced VAR, AdamW; bf16 autocast as the
shipped config) on random tokens, for the config's scales (8x8 finest map at 64x64) and for a
16x16 finest map (scales 1-2-3-4-6-8-11-16), timed alternately in one process so that the
ratio holds on a shared machine. Prints the median step time and how many steps fit in the
90 minutes a zoo checkpoint may train here.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from gscsim.io import load_yaml, shipped_config
from gscsim.nn.text_encoder import EMBEDDING_DIM
from gscsim.scvar.model import SCVAR, Text2Para
from gscsim.scvar.train import CONFIG_DIR, SCVARRunConfig

FINER = [1, 2, 3, 4, 6, 8, 11, 16]
BUDGET_S = 90 * 60


def step_timer(cfg, batch: int):
    """(token count, step): `step()` runs one training step on random data and returns its wall
    seconds. The step is `train_scvar.token_loss` plus AdamW, written out on random tokens
    because token_loss reads encoded scenes through a trained VQ-VAE, which timing needs not."""
    model, text2para = SCVAR(cfg), Text2Para()
    opt = torch.optim.AdamW([*model.parameters(), *text2para.parameters()], lr=1e-4)
    scales, size = cfg.var.patch_nums, cfg.image_size
    length = sum(p * p for p in scales)

    def step() -> float:
        targets = torch.cat([torch.randint(cfg.var.vocab, (batch, p * p)) for p in scales], 1)
        inputs = torch.randn(batch, length - 1, cfg.var.cvae)
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            params = text2para(torch.randn(batch, EMBEDDING_DIM))
            cond, tokens = model.conditions(params, torch.rand(batch, 1, size, size) * 10, batch)
            logits = model(cond, inputs, tokens)
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        return time.perf_counter() - start

    return length, step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="scvar-scenes64")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per map (1 warm-up)")
    args = parser.parse_args()
    base = load_yaml(shipped_config(args.config, CONFIG_DIR), SCVARRunConfig).model
    torch.manual_seed(0)
    maps = {}
    for scales in (base.var.patch_nums, FINER):
        cfg = base.model_copy(update={"var": base.var.model_copy(update={"patch_nums": scales})})
        maps["-".join(map(str, scales))] = step_timer(cfg, args.batch)
    times = {name: [] for name in maps}
    for i in range(args.steps + 1):
        for name, (_, step) in maps.items():
            seconds = step()
            if i:
                times[name].append(seconds)
    for name, (length, _) in maps.items():
        median = statistics.median(times[name])
        print(f"scales {name}: {length} tokens, {median:.2f} s/step at batch {args.batch}, "
              f"{BUDGET_S / median:.0f} steps in 90 min")


if __name__ == "__main__":
    main()
