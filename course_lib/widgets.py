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
