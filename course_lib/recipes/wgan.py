"""WGAN (Arjovsky et al. 2017) and WGAN-GP (Gulrajani et al. 2017) on the 2-D toys and anime faces.

Paper settings:
  * WGAN (``setup_clip``), every budget: RMSprop 5e-5, critic weights clipped to [-0.01, 0.01],
    5 critic steps per G step, and 100 critic steps for the first 25 G steps and every 500th G step
    (``WGANSchedule``); batch 64 on faces.
  * WGAN-GP (``setup_gp``): lambda 10 at random interpolates (0.1 on the toys, as in the authors' toy
    script), no batch norm in the critic (``DCGANConfig(d_norm="none")``); 5 critic steps and Adam 1e-4
    with betas (0, 0.9) on the toys and on faces at gpu.
Toys: the WGAN-GP authors' toy MLPs (3 x 512 ReLU, 2-D noise, batch 256), 128 wide at cpu and 32 at
smoke, as for the original GAN (``recipes.gan2d``); optimiser in ``TOY_GP`` (where it departs from
their toy script, and why).
Faces: the DCGAN generator and critic, 64x64 and width 64 at gpu. At cpu, 32x32, WGAN-GP is trained
the way ProGAN (Karras et al. 2018) trains it, because the paper's way does not reach lecture 01's
bars in a lecture's time on 2 cores: 5 critic steps per G step, each with the penalty's second
backward pass, gave 1,500 G updates in about 7 minutes and FD 0.25-0.31 x the blurred baseline
whatever the widths, batch or learning rate (``benchmarks/results/h100.md``, section 5). The cpu
recipe (``benchmarks/results/wgan_gp_faces_cpu.md``; FD / blurred, G averaged with decay 0.99, seed 0):
  * one critic step per G step, Adam betas (0, 0.99), the drift term 0.001 * E[C(x)^2] and the
    critic's minibatch standard deviation over groups of 4: ProGAN's settings (not measured apart);
  * the penalty on one critic step in 4, weighted 4 times (StyleGAN2's lazy regularisation): at
    5,000 updates 0.109, against 0.135 with it on every step and 0.137 on one in 16; lambda 1
    instead of 10 gave 0.124;
  * lecture 01's pair otherwise: G and critic 64 wide, batch 32, Adam 3e-4 for both, both rates
    falling linearly to 0 over the second half, an average of G with decay 0.99; 8,000 G updates
    at about 47 ms each on 2 cores in bf16 (the paper's 5-step update, 32 wide, took 290 ms): 0.095
    and 0.085 for seeds 0 and 2 (7,000 updates: 0.104 and, seed 1, 0.091; 5,000: 0.109), all below
    the one-hair-colour baseline (0.128).
The bf16 autocast with channels_last applies where the CPU computes bf16 natively (as for DCGAN).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .. import evaluation
from ..models import dcgan, mlp
from ..objectives import WGANGPObjective, WGANObjective
from ..registry import Experiment, dataset
from ..runtime import cpu_budget_bf16, get_device, pick
from ..training import TensorBatches, Trainer, landmark_steps, linear_lr_decay
from . import gan2d


@dataclass(frozen=True)
class WGANSchedule:
    """Critic steps before each G step: ``long`` for the first ``warmup`` G steps and every ``every``-th
    G step, else ``n_critic`` (WGAN paper, Algorithm 1 and its code: keeps the critic near its optimum
    at the start, when G changes fastest, and now and then later)."""

    n_critic: int = 5
    long: int = 100
    warmup: int = 25
    every: int = 500

    def __call__(self, step: int) -> int:
        return self.long if step < self.warmup or step % self.every == 0 else self.n_critic


def toy_settings(budget_name: str) -> dict:
    """The original GAN's networks and data (``gan2d.settings``) with WGAN-GP's optimiser for the toys."""
    s = gan2d.settings(budget_name)
    s["steps"] = pick(smoke=60, cpu=2500, gpu=10_000, budget_name=budget_name)  # 5 critic steps each
    s.update(TOY_GP)
    return s


WGAN_LR = 5e-5  # WGAN (clipping): RMSprop, paper

# WGAN-GP on the toys. The authors' toy script: Adam 1e-4, betas (0.5, 0.9), lambda 0.1, 100,000 updates.
# A cpu lecture has 2,500: lr 2e-4 with a linear decay to 0 (as their CIFAR-10 ResNet script does)
# lets the samples settle on the modes by the end. Lambda is their toy script's 0.1, not the image
# experiments' 10: measured on ring8 at cpu over seeds 0-2, lambda 10 left one seed's critic
# oscillating for the whole run (8/32.0%, 2/0.3%, 8/31.4% modes / high quality), lambda 0.1 gave
# 8/41.7%, 8/47.2%, 8/35.9%.
TOY_GP = dict(lr=2e-4, betas=(0.5, 0.9), gp_weight=0.1, lr_decay=True)


def face_settings(budget_name: str, clip: bool = False) -> dict:
    """Faces. WGAN (``clip``) at every budget and WGAN-GP at gpu: the papers' optimisers and 5 critic
    steps. WGAN-GP at cpu (and smoke, at toy sizes): ProGAN's way of training it (module docstring)."""
    paper = dict(n_critic=5, lr=1e-4, betas=(0.0, 0.9), drift=0.0, gp_every=1, mbstd_group=0, lr_decay_from=None)
    progan = dict(n_critic=1, lr=3e-4, betas=(0.0, 0.99), drift=0.001, gp_every=4, mbstd_group=4, lr_decay_from=0.5)
    gpu = dict(image_size=64, width=64, d_width=64, steps=20_000, batch_size=64, n_train=30_000, ema_decay=0.999,
               **paper)
    if clip:
        return pick(
            smoke=dict(image_size=16, width=8, d_width=8, steps=6, batch_size=16, n_train=256, ema_decay=0.9, **paper),
            cpu=dict(image_size=32, width=32, d_width=32, steps=1500, batch_size=64, n_train=10_000, ema_decay=0.99,
                     **paper),
            gpu=gpu, budget_name=budget_name,
        )
    return pick(
        smoke=dict(image_size=16, width=8, d_width=8, steps=12, batch_size=16, n_train=256, ema_decay=0.9, **progan),
        cpu=dict(image_size=32, width=64, d_width=64, steps=8000, batch_size=32, n_train=10_000, ema_decay=0.99,
                 **progan),
        gpu=gpu, budget_name=budget_name,
    )


def schedule_for(budget_name: str, clip: bool) -> WGANSchedule | None:
    """The paper's schedule for WGAN; smoke keeps its shape with fewer long steps. None for WGAN-GP."""
    if not clip:
        return None
    return pick(smoke=WGANSchedule(long=10, warmup=2, every=50), cpu=WGANSchedule(), gpu=WGANSchedule(),
                budget_name=budget_name)


def _setup(model: str, data_name: str, budget_name: str, seed: int, device, steps: int | None) -> Experiment:
    clip = model == "wgan"
    toy = data_name in gan2d.TOY_DATA
    s = toy_settings(budget_name) if toy else face_settings(budget_name, clip)
    if clip:
        objective = WGANObjective(clip=0.01)
    else:
        objective = WGANGPObjective(gp_weight=s.get("gp_weight", 10.0), drift=s.get("drift", 0.0),
                                    gp_every=s.get("gp_every", 1))
    schedule = schedule_for(budget_name, clip)
    # both learning rates fall linearly to 0 from this fraction of the run on (None: constant)
    decay_from = None if clip else ((0.0 if s["lr_decay"] else None) if toy else s["lr_decay_from"])
    extra = {"objective": asdict(objective), "critic_schedule": asdict(schedule) if schedule else None,
             "lr_decay": decay_from is not None, "lr_decay_from": decay_from}
    trainer_kwargs = {"n_critic": s.get("n_critic", 5), "critic_schedule": schedule}  # the toys: 5

    def optimizers(G, D, lr, betas):
        # recorded with the run, since the config's lr and betas are Adam's and do not apply to WGAN
        if clip:  # the paper: momentum-based optimisers (Adam) made the clipped critic unstable
            extra["optimizer"] = {"name": "RMSprop", "lr": WGAN_LR}
            return torch.optim.RMSprop(G.parameters(), lr=WGAN_LR), torch.optim.RMSprop(D.parameters(), lr=WGAN_LR)
        extra["optimizer"] = {"name": "Adam", "lr": lr, "betas": list(betas)}
        return torch.optim.Adam(G.parameters(), lr=lr, betas=betas), torch.optim.Adam(D.parameters(), lr=lr, betas=betas)

    if toy:
        n_steps = steps or s["steps"]
        cfg = mlp.MLPConfig(hidden=s["hidden"], batch_size=s["batch_size"], lr=s["lr"], betas=s["betas"])
        exp = gan2d.toy_experiment(model, data_name, budget_name, seed, device, n_steps, s["n_train"], cfg,
                                   objective, lambda G, D: optimizers(G, D, cfg.lr, cfg.betas), extra, **trainer_kwargs)
        if decay_from is not None:
            # the WGAN-GP authors' CIFAR-10 ResNet script decays the rate linearly to 0 over the whole run
            exp.trainer.callbacks.insert(0, linear_lr_decay([exp.trainer.opt_G, exp.trainer.opt_D],
                                                            int(decay_from * n_steps), n_steps))
        return exp
    if data_name != "anime":
        raise ValueError(f"{model} trains on ring8, grid25 or anime, not {data_name!r}.")
    data = dataset(data_name, size=s["image_size"], n=s["n_train"])  # the training faces; the run seed is for init and noise
    cfg = dcgan.DCGANConfig(image_size=s["image_size"], g_width=s["width"], d_width=s["d_width"],
                            batch_size=s["batch_size"], lr=s["lr"], betas=s["betas"],
                            mbstd_group=s["mbstd_group"],
                            d_norm="batch" if clip else "none")  # WGAN's code keeps DCGAN's BN; GP must not
    torch.manual_seed(seed)  # layer initialisation
    G, D = dcgan.build(cfg)
    opt_G, opt_D = optimizers(G, D, cfg.lr, cfg.betas)
    n_steps = steps or s["steps"]
    device = torch.device(device) if device is not None else get_device()
    cpu_bf16 = cpu_budget_bf16(budget_name, device)
    record = {"model": model, "arch": "dcgan", "model_config": asdict(cfg), "data": data_name, "budget": budget_name,
              "seed": seed, "steps": n_steps, "ema_decay": s["ema_decay"], "data_source": data.source,
              "cpu_bf16_autocast": cpu_bf16, "n_critic": trainer_kwargs["n_critic"], **extra}
    trainer = Trainer(G, D, objective, opt_G, opt_D, TensorBatches(data.images, batch_size=cfg.batch_size),
                      z_dim=cfg.z_dim, ema_decay=s["ema_decay"], device=device, seed=seed, config=record,
                      amp=True if cpu_bf16 else None, channels_last=True if cpu_bf16 else None,
                      log_every=pick(smoke=1, cpu=10, gpu=25, budget_name=budget_name), **trainer_kwargs)
    if decay_from is not None:
        trainer.callbacks.append(linear_lr_decay([opt_G, opt_D], int(decay_from * n_steps), n_steps))
    return Experiment(model, data, budget_name, trainer, n_steps, record, landmark_steps(n_steps),
                      evaluate=evaluation.face_metrics)


def setup_clip(data_name: str, budget_name: str, seed: int, device=None, steps: int | None = None) -> Experiment:
    return _setup("wgan", data_name, budget_name, seed, device, steps)


def setup_gp(data_name: str, budget_name: str, seed: int, device=None, steps: int | None = None) -> Experiment:
    return _setup("wgan-gp", data_name, budget_name, seed, device, steps)


def build_generator(record: dict) -> torch.nn.Module:
    if record.get("arch") == "mlp":
        return mlp.Generator(mlp.MLPConfig(**record["model_config"]))
    return dcgan.Generator(dcgan.DCGANConfig(**record["model_config"]))
