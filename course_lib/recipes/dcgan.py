"""DCGAN (Radford et al. 2016) on anime faces, per budget.

cpu: 32x32 faces, G and D 64 wide at batch 32, 5,000 updates (about 0.09 s an update on 2 cores
under bf16 autocast): FD 0.093 / 0.080 / 0.088 of the blurred baseline for seeds 0-2, all below
the one-hair-colour baseline (the bar is 0.1; dcgan_variants_cpu.md). Departures from the paper, each
measured at the cpu scale with the face-feature FD as a fraction of the blurred baseline
(benchmarks/dcgan_variants.py; dcgan_variants_cpu.jsonl on 2 CPU cores, h100.md on a GPU):
- D's minibatch standard deviation (ProGAN, Karras et al. 2018), groups of 4, before its last
  convolution: 0.108 / 0.111 for seeds 0 / 1 against 0.141 / 0.107 without (over the whole batch
  0.106 / 0.118); on the earlier 32-wide recipe it had not helped;
- Adam at 3e-4 for both players, not 2e-4: with the minibatch std 0.099 against 0.108 (seed 0); then
  the CLI's seeds 1 and 2, 0.080 and 0.088 against 0.107 and 0.106 for the recipe without either;
- R1 on D (Mescheder et al. 2018), gamma 0.1, taken on one D step in 4 and weighted 4 times
  (StyleGAN2's lazy regularisation): with it the 64-wide pair at batch 32 reached 0.108 at 6,000
  updates, without it 0.126 (seed 0; 0.144-0.167 over three seeds on a GPU); every step or one in 4
  gave the same figure (0.108 / 0.109 at 6,000 updates) and one in 4 costs 0.084 s an update
  against 0.103;
- widths 64 (not 32) at batch 32 (paper: 128): 0.126 against 0.150 at 6,000 updates, for 0.086 s an
  update against the 32-wide pair's 0.064 at batch 64 (so 5,000 updates, not 6,000, in the same
  time); a 64-wide G with a 32-wide D and R1 stayed at 0.147;
- an EMA of G with decay 0.99 (not the usual 0.999): lower FD in all 9 runs where both were kept;
- both learning rates fall linearly to 0 over the second half of the run (0.152 / 0.160 against
  0.194 / 0.176 at a constant rate, the earlier 32-wide recipe, seeds 0 / 1).
gpu: the paper's 64x64 net, width 64, 50,000 updates (the lecture's timeline); its Adam rate, and
neither R1 nor the minibatch std (not measured there with this recipe). On a CPU that computes
bfloat16 natively (AVX512-BF16 / AMX) the cpu budget trains under bf16 autocast with channels_last,
about 1.3x faster (0.083 and 0.109 against 0.131 and 0.120 s an update, two timings each; 1.6x at the
same FD with the earlier 32-wide recipe); elsewhere, and at smoke, in float32. Optimiser and init:
the paper's (Adam, beta1 0.5, N(0, 0.02)); batch 64 at gpu as in HW6 and common ports (paper: 128).
smoke takes the cpu recipe's pieces at toy sizes, so that the tests run them.
"""
from __future__ import annotations

from dataclasses import asdict

import torch

from .. import evaluation
from ..models import dcgan
from ..objectives import GANObjective
from ..registry import Experiment, dataset
from ..runtime import cpu_budget_bf16, get_device, pick
from ..training import TensorBatches, Trainer, landmark_steps, linear_lr_decay


def settings(budget_name: str) -> dict:
    return pick(
        smoke=dict(image_size=16, g_width=8, d_width=8, steps=12, batch_size=16, n_train=256, ema_decay=0.9,
                   r1_gamma=0.1, r1_every=4, mbstd_group=4, lr=3e-4),
        cpu=dict(image_size=32, g_width=64, d_width=64, steps=5000, batch_size=32, n_train=10_000, ema_decay=0.99,
                 lr_decay_from=0.5, r1_gamma=0.1, r1_every=4, mbstd_group=4, lr=3e-4),
        gpu=dict(image_size=64, g_width=64, d_width=64, steps=50_000, batch_size=64, n_train=30_000, ema_decay=0.999,
                 r1_gamma=0.0, r1_every=1, mbstd_group=0, lr=2e-4),
        budget_name=budget_name,
    )


def setup(data_name: str, budget_name: str, seed: int, device=None, steps: int | None = None) -> Experiment:
    s = settings(budget_name)
    data = dataset(data_name, size=s["image_size"], n=s["n_train"])  # the training faces; the run seed is for init and noise
    cfg = dcgan.DCGANConfig(image_size=s["image_size"], g_width=s["g_width"], d_width=s["d_width"],
                            batch_size=s["batch_size"], mbstd_group=s["mbstd_group"], lr=s["lr"])
    torch.manual_seed(seed)  # layer initialisation
    G, D = dcgan.build(cfg)
    opt_G, opt_D = dcgan.make_optimizers(G, D, cfg)
    n_steps = steps or s["steps"]
    device = torch.device(device) if device is not None else get_device()
    cpu_bf16 = cpu_budget_bf16(budget_name, device)
    record = {"model": "dcgan", "model_config": asdict(cfg), "data": data_name, "budget": budget_name,
              "seed": seed, "steps": n_steps, "ema_decay": s["ema_decay"], "lr_decay_from": s.get("lr_decay_from"),
              "r1_gamma": s["r1_gamma"], "r1_every": s["r1_every"],
              "data_source": data.source, "cpu_bf16_autocast": cpu_bf16}
    objective = GANObjective(r1_gamma=s["r1_gamma"], r1_every=s["r1_every"])
    trainer = Trainer(G, D, objective, opt_G, opt_D, TensorBatches(data.images, batch_size=cfg.batch_size),
                      z_dim=cfg.z_dim, ema_decay=s["ema_decay"], device=device, seed=seed,
                      amp=True if cpu_bf16 else None, channels_last=True if cpu_bf16 else None,
                      log_every=pick(smoke=1, cpu=10, gpu=25, budget_name=budget_name), config=record)
    if s.get("lr_decay_from") is not None:  # both rates fall linearly to 0 over the run's last part
        trainer.callbacks.append(linear_lr_decay([opt_G, opt_D], int(s["lr_decay_from"] * n_steps), n_steps))
    return Experiment("dcgan", data, budget_name, trainer, n_steps, record, landmark_steps(n_steps),
                      evaluate=evaluation.face_metrics)


def build_generator(record: dict) -> dcgan.Generator:
    return dcgan.Generator(dcgan.DCGANConfig(**record["model_config"]))
