"""ipywidgets for the live lecture (works with ipywidgets 7 and 8; imported lazily).

Each builder returns the widget box and keeps its controls as attributes, so a test can set a
slider's ``.value`` or call ``button.click()`` headlessly and check what changed.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor

from .plotting import png_bytes


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("The widgets need ipywidgets: pip install ipywidgets (Colab has it).") from err
    return ipywidgets


class SnapshotScrubber:
    """A slider over the snapshot steps; the image shows the fixed-noise samples at that step."""

    def __init__(self, snapshots: Mapping[int, Tensor], n_show: int = 16, nrow: int = 4, scale: int = 3) -> None:
        if not snapshots:
            raise ValueError("No snapshots to scrub through: train with a snapshot callback first.")
        w = _ipywidgets()
        self.snapshots, self.n_show, self.nrow, self.scale = snapshots, n_show, nrow, scale
        self.steps = sorted(snapshots)
        self.slider = w.SelectionSlider(options=self.steps, value=self.steps[-1], description="update",
                                        continuous_update=True, layout=w.Layout(width="500px"))
        self.image = w.Image(format="png")
        self.slider.observe(lambda change: self.show(change["new"]), names="value")
        self.show(self.slider.value)
        self.box = w.VBox([self.slider, self.image])

    def show(self, step: int) -> None:
        self.image.value = png_bytes(self.snapshots[step][: self.n_show], self.nrow, self.scale)

    def _ipython_display_(self):  # display(scrubber) shows the box
        from IPython.display import display

        display(self.box)


class AlternatingStepper:
    """Buttons "train D k steps" / "train G k steps" on a live Trainer, with the scores they move.

    After each click it shows samples from fixed noise and, on a fixed probe batch, the mean
    D(x) on real faces and D(G(z)) on fakes, so the class sees the two players take turns:
    D's steps push the two scores apart; G's steps pull D(G(z)) up again.
    """

    def __init__(self, trainer, probe_real: Tensor, fixed_z: Tensor, n_show: int = 16, scale: int = 3) -> None:
        w = _ipywidgets()
        self.trainer, self.probe_real, self.fixed_z, self.n_show, self.scale = trainer, probe_real, fixed_z, n_show, scale
        self.k = w.BoundedIntText(value=10, min=1, max=1000, description="k steps")
        self.d_button = w.Button(description="train D k steps", button_style="warning")
        self.g_button = w.Button(description="train G k steps", button_style="info")
        self.image = w.Image(format="png")
        self.scores = w.HTML()
        self.log: list[dict] = []
        self.d_button.on_click(lambda _: self.train("D"))
        self.g_button.on_click(lambda _: self.train("G"))
        self.refresh(action="start")
        self.box = w.VBox([w.HBox([self.k, self.d_button, self.g_button]), w.HBox([self.image, self.scores])])

    @torch.no_grad()
    def probe(self) -> dict[str, float]:
        """Mean D(x) and D(G(z)) on the fixed probe batch, as probabilities.

        The nets run as they do in training (train mode, batch statistics), so the scores depend
        on the weights alone; BatchNorm's running statistics are put back afterwards, so looking
        does not change anything.
        """
        tr = self.trainer
        saved = {name: [b.clone() for b in net.buffers()] for name, net in (("G", tr.G), ("D", tr.D))}
        tr.G.train(), tr.D.train()
        fake = tr.G(self.fixed_z.to(tr.device))
        d_real = torch.sigmoid(tr.D(self.probe_real.to(tr.device)).float()).mean().item()
        d_fake = torch.sigmoid(tr.D(fake).float()).mean().item()
        for net, bufs in ((tr.G, saved["G"]), (tr.D, saved["D"])):
            for b, old in zip(net.buffers(), bufs):
                b.copy_(old)
        return {"D(x)": d_real, "D(G(z))": d_fake, "samples": fake[: self.n_show].cpu()}

    def train(self, who: str) -> None:
        for _ in range(int(self.k.value)):
            self.trainer.G.train(), self.trainer.D.train()
            (self.trainer.d_step if who == "D" else self.trainer.g_step)()
        self.refresh(action=f"{self.k.value} {who} steps")

    def refresh(self, action: str) -> None:
        p = self.probe()
        self.log.append({"action": action, "D(x)": p["D(x)"], "D(G(z))": p["D(G(z))"]})
        self.image.value = png_bytes(p["samples"], 4, self.scale)
        rows = "".join(f"<tr><td>{r['action']}</td><td>{r['D(x)']:.3f}</td><td>{r['D(G(z))']:.3f}</td></tr>"
                       for r in self.log[-8:])
        self.scores.value = ("<table><tr><th>after</th><th>D(x)</th><th>D(G(z))</th></tr>" + rows + "</table>")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.box)


class ClassPicker:
    """Pick a class; the grid shows a conditional G's samples for it, from the same fixed noise.

    Each cell of the grid keeps its noise vector z when the class changes, so the class alone
    changes the picture (what stays, e.g. stroke thickness or slant, is what z encodes).
    ``G`` is called as ``G(z, y)`` with y the chosen class for every z, in eval mode, without gradients.
    """

    def __init__(self, G, fixed_z: Tensor, class_names, nrow: int = 8, scale: int = 3, value: int = 0) -> None:
        w = _ipywidgets()
        self.class_names = [str(c) for c in class_names]
        if not 0 <= value < len(self.class_names):
            raise ValueError(f"value must be a class index in 0..{len(self.class_names) - 1}, got {value}.")
        self.G, self.fixed_z, self.nrow, self.scale = G, fixed_z, nrow, scale
        self.samples: Tensor | None = None  # the images on show, (N, C, H, W) on the CPU
        self.picker = w.ToggleButtons(options=[(name, k) for k, name in enumerate(self.class_names)], value=value,
                                      description="class")
        self.image = w.Image(format="png")
        self.picker.observe(lambda change: self.show(change["new"]), names="value")
        self.show(value)
        self.box = w.VBox([self.picker, self.image])

    @torch.no_grad()
    def show(self, k: int) -> None:
        params = list(self.G.parameters())
        device = params[0].device if params else torch.device("cpu")
        was = self.G.training
        self.G.eval()
        y = torch.full((len(self.fixed_z),), int(k), dtype=torch.long, device=device)
        self.samples = self.G(self.fixed_z.to(device), y).float().cpu()
        self.G.train(was)
        self.image.value = png_bytes(self.samples, self.nrow, self.scale)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.box)


class StageNoiseExplorer:
    """ConSinGAN: pick the stage from which new noise is drawn; the stages below keep fixed inputs.

    With new noise from stage 0 every sample has its own layout; from the last stage on, only fine
    texture changes. "keep" chooses what the lower stages hold: the photo's own reconstruction
    inputs, or one fixed random sample's. The label gives the diversity of the samples on show
    (per-pixel std over them / the photo's std). ``trainer`` is a ``ConSinGANTrainer``.
    """

    def __init__(self, trainer, n: int = 8, nrow: int = 4, scale: int = 3, seed: int = 0) -> None:
        from .metrics.single_image import diversity

        w = _ipywidgets()
        self.trainer, self.n, self.nrow, self.scale, self.seed = trainer, n, nrow, scale, seed
        self._diversity = diversity
        k = trainer.G.n_stages
        self.stage = w.IntSlider(value=0, min=0, max=k - 1, description="new noise from stage",
                                 style={"description_width": "initial"}, layout=w.Layout(width="420px"))
        self.keep = w.ToggleButtons(options=[("the photo's layout", "photo"), ("one random sample", "sample")],
                                    value="photo", description="below it keep")
        self.redraw = w.Button(description="new draw")
        self.image = w.Image(format="png")
        self.label = w.HTML()
        self.samples: Tensor | None = None
        self.diversity = float("nan")
        self.stage.observe(lambda _: self.show(), names="value")
        self.keep.observe(lambda _: self.show(), names="value")
        self.redraw.on_click(lambda _: self.new_draw())
        self.show()
        self.box = w.VBox([w.HBox([self.stage, self.redraw]), self.keep, self.image, self.label])

    def base(self):
        """The inputs of the stages below the chosen one: the photo's or one random sample's."""
        tr = self.trainer
        if self.keep.value == "photo":
            return tr.fixed_noise
        g = torch.Generator().manual_seed(10_000 + self.seed)
        return tr.G.draw_noise(tr.sizes[: tr.G.n_stages], 1, g, tr.device)

    def new_draw(self) -> None:
        self.seed += 1
        self.show()

    def show(self) -> None:
        tr, s = self.trainer, int(self.stage.value)
        self.samples = tr.sample(self.n, seed=self.seed, from_stage=s, base=self.base())
        self.diversity = self._diversity(self.samples, tr.real) if self.n > 1 else 0.0
        self.image.value = png_bytes(self.samples, self.nrow, self.scale)
        h, w = tr.sizes[s]
        self.label.value = (f"new noise from stage {s} ({h}x{w} px) on; diversity of these samples "
                            f"{self.diversity:.3f}")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.box)
