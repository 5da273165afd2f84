"""Time of one Trainer update (a D step and a G step) of the gpu budget's DCGAN, with AMP and channels_last on and off.

    python benchmarks/train_step_time.py [--size 64 --width 64 --batch 64 --steps 500]
    python benchmarks/train_step_time.py --size 32 --width 32 --d-width 32 --wgan-gp --steps 20 --warmup 5   # lecture 05's faces, cpu

The gpu budget's network (64x64, width 64, batch 64; lecture 01 runs 50,000 such updates) on random
images, on the machine's device (COURSE_DEVICE overrides): milliseconds per update after 50 warm-up
updates (synchronised), images per second through D (real and fake), and the hours 50,000 updates take.
``--wgan-gp`` times lecture 05's WGAN-GP instead (critic without batch norm, 5 critic steps with the
gradient penalty, Adam 1e-4 with betas (0, 0.9)); ``--d-width`` sets D's width apart from G's.
``--profile`` adds torch.profiler's table for 30 updates, which says whether the host (Python, kernel
launches) or the device bounds the step.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from course_lib.models import dcgan
from course_lib.objectives import GANObjective, WGANGPObjective
from course_lib.runtime import get_device
from course_lib.training import TensorBatches, Trainer


def trainer(size: int, width: int, d_width: int, batch: int, wgan_gp: bool, amp: bool, channels_last: bool,
            device) -> Trainer:
    images = torch.rand(4096, 3, size, size) * 2 - 1
    cfg = dcgan.DCGANConfig(image_size=size, g_width=width, d_width=d_width, batch_size=batch,
                            d_norm="none" if wgan_gp else "batch", **(dict(lr=1e-4, betas=(0.0, 0.9)) if wgan_gp else {}))
    torch.manual_seed(0)
    G, D = dcgan.build(cfg)
    opt_G, opt_D = dcgan.make_optimizers(G, D, cfg)
    objective = WGANGPObjective(gp_weight=10.0) if wgan_gp else GANObjective()
    return Trainer(G, D, objective, opt_G, opt_D, TensorBatches(images, batch_size=batch), z_dim=cfg.z_dim,
                   ema_decay=0.999, device=device, seed=0, amp=amp, channels_last=channels_last, log_every=25,
                   n_critic=5 if wgan_gp else 1)


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--d-width", type=int, help="D's width (default: --width)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--warmup", type=int, default=50, help="untimed updates first")
    p.add_argument("--wgan-gp", action="store_true", help="lecture 05's WGAN-GP instead of the DCGAN")
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()
    device = get_device()
    for amp, channels_last in [(False, False), (True, False), (False, True), (True, True)]:
        tr = trainer(args.size, args.width, args.d_width or args.width, args.batch, args.wgan_gp, amp, channels_last, device)
        tr.fit(args.warmup, progress=False)
        sync(device)
        t0 = time.perf_counter()
        tr.fit(args.warmup + args.steps, progress=False)
        sync(device)
        seconds = (time.perf_counter() - t0) / args.steps
        print(json.dumps({"model": "wgan-gp" if args.wgan_gp else "dcgan", "d_width": args.d_width or args.width,
                          "device": str(device), "amp": str(tr._amp_dtype) if amp else "off", "channels_last": channels_last,
                          "ms_per_update": round(seconds * 1e3, 2), "images_per_second": round(2 * args.batch / seconds),
                          "hours_for_50k_updates": round(50_000 * seconds / 3600, 3)}), flush=True)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=activities) as prof:
            tr.fit(tr.step + 30, progress=False)
            sync(device)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12, max_name_column_width=40))


if __name__ == "__main__":
    main()
