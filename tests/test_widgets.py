"""Widgets driven headlessly: set a control or click a button, then check what moved."""
import torch

from course_lib.widgets import AlternatingStepper, SnapshotScrubber
from test_training import changed, make_trainer, params


def test_scrubber_value_changes_the_image():
    snaps = {10: torch.zeros(4, 3, 8, 8, dtype=torch.uint8), 20: torch.full((4, 3, 8, 8), 255, dtype=torch.uint8)}
    scrubber = SnapshotScrubber(snaps, n_show=4, nrow=2)
    assert scrubber.slider.value == 20
    last = scrubber.image.value
    scrubber.slider.value = 10
    assert scrubber.image.value != last
    scrubber.slider.value = 20
    assert scrubber.image.value == last


def _stepper(k):
    tr = make_trainer(seed=0, n=64)
    tr.fit(10, progress=False)  # settle BatchNorm statistics a little
    probe = tr.data.tensors[0][:32]
    z = torch.randn(32, 16, generator=torch.Generator().manual_seed(5))
    stepper = AlternatingStepper(tr, probe, z, n_show=4)
    stepper.k.value = k
    return tr, stepper


def test_train_d_button_moves_only_d_and_separates_the_scores():
    tr, stepper = _stepper(k=15)
    g0, d0 = params(tr.G), params(tr.D)
    before = stepper.log[-1]
    image_before = stepper.image.value
    stepper.d_button.click()
    after = stepper.log[-1]
    assert not any(changed(g0, tr.G)) and any(changed(d0, tr.D))
    assert after["D(x)"] - after["D(G(z))"] > before["D(x)"] - before["D(G(z))"]
    assert stepper.image.value == image_before, "G did not move, so its samples must not either"
    assert "15 D steps" in stepper.scores.value


def test_train_g_button_moves_only_g_and_raises_d_of_g():
    tr, stepper = _stepper(k=15)
    stepper.d_button.click()  # give D an edge first, as in class
    g0, d0 = params(tr.G), params(tr.D)
    before = stepper.log[-1]
    image_before = stepper.image.value
    stepper.g_button.click()
    after = stepper.log[-1]
    assert not any(changed(d0, tr.D)) and any(changed(g0, tr.G))
    assert after["D(G(z))"] > before["D(G(z))"]
    assert stepper.image.value != image_before


def test_looking_changes_nothing():
    tr, stepper = _stepper(k=1)
    buffers = [b.clone() for net in (tr.G, tr.D) for b in net.buffers()]
    weights = params(tr.G) + params(tr.D)
    stepper.refresh("look")
    assert all(torch.equal(a, b) for a, b in zip(buffers, [b for net in (tr.G, tr.D) for b in net.buffers()]))
    assert not any(changed(weights[: len(params(tr.G))], tr.G)) and not any(changed(weights[len(params(tr.G)):], tr.D))
