"""Names -> datasets and recipes; real anime faces are used when a real set was unpacked."""
import pytest
import torch
from PIL import Image

from course_lib import registry, runtime
from course_lib.models import dcgan
from course_lib.training import TensorBatches
from course_lib.widgets import SnapshotScrubber
from course_lib.runtime import data_dir


def test_anime_is_procedural_by_default_and_says_so():
    ds = registry.dataset("anime", size=16, n=8, seed=0)
    assert ds.procedural and "procedural anime faces" in ds.source
    assert ds.images.shape == (8, 3, 16, 16) and set(ds.labels) >= {"hair_colour", "mouth"}


def test_anime_uses_real_faces_when_present_and_says_so():
    root = data_dir("anime_faces", "faces")
    for i in range(3):
        Image.new("RGB", (40, 40), (40 * i, 100, 200)).save(root / f"{i}.png")
    ds = registry.dataset("anime", size=16, n=8, seed=0)
    assert not ds.procedural and "real anime faces" in ds.source and ds.labels is None
    assert ds.images.shape == (3, 3, 16, 16)
    assert not registry.dataset("anime", size=16, n=8, allow_real=False).images.shape[0] == 3


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="Known datasets: .*anime"):
        registry.dataset("imagenet")
    with pytest.raises(ValueError, match="Known models: .*dcgan"):
        registry.experiment("stylegan9", "anime")


def test_dcgan_experiment_and_generator_rebuild():
    exp = registry.experiment("dcgan", "anime", "smoke", seed=0, device="cpu")
    assert exp.steps == 12 and exp.snapshot_steps[-1] == 12
    G = registry.generator_from_settings(exp.settings)
    assert sum(p.numel() for p in G.parameters()) == sum(p.numel() for p in exp.trainer.G.parameters())
    with torch.no_grad():
        assert G(torch.randn(2, 100)).shape == (2, 3, 16, 16)


def test_anime_training_faces_do_not_follow_the_run_seed_into_measurement_sets():
    from course_lib.data import anime

    default = registry.dataset("anime", size=16, n=4, allow_real=False)
    assert torch.equal(default.images, anime.procedural_faces(4, 16, seed=anime.GAN_TRAIN_SEED)[0])
    for reserved in anime.MEASUREMENT_SEEDS:
        with pytest.raises(ValueError, match="reserved for measuring"):
            registry.dataset("anime", size=16, n=4, seed=reserved, allow_real=False)


@pytest.mark.parametrize("model", ["dcgan", "wgan-gp"])
@pytest.mark.parametrize("native_bf16", [True, False])
def test_face_recipes_at_cpu_use_bf16_autocast_only_where_the_cpu_computes_it(monkeypatch, model, native_bf16):
    recipe = registry.recipe_module(model)
    real_dataset = recipe.dataset
    monkeypatch.setattr(recipe, "dataset", lambda name, size, n: real_dataset(name, size=size, n=64))  # not 10,000
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native_bf16)
    exp = registry.experiment(model, "anime", "cpu", seed=0, device="cpu")
    assert exp.trainer.amp is native_bf16 and exp.trainer.channels_last is native_bf16
    assert exp.settings["cpu_bf16_autocast"] is native_bf16
    assert exp.settings["ema_decay"] == 0.99  # the cpu recipes' measured choice (benchmarks/results/h100.md)
    # the widths each recipe measured best within its budget: dcgan_variants_cpu.jsonl, h100.md section 5
    assert exp.trainer.D.net[0].out_channels == 64
    if model == "dcgan":  # lazy R1 on D, and the record says so
        assert (exp.trainer.objective.r1_gamma, exp.trainer.objective.r1_every) == (0.1, 4)
        assert (exp.settings["r1_gamma"], exp.settings["r1_every"]) == (0.1, 4)
    else:  # ProGAN's WGAN-GP: one critic step per G step, the drift term, a lazy penalty; the record says so
        assert exp.trainer.n_critic == exp.settings["n_critic"] == 1
        assert (exp.trainer.objective.gp_every, exp.trainer.objective.drift) == (4, 0.001)
        assert exp.settings["objective"] == {"gp_weight": 10.0, "drift": 0.001, "gp_every": 4}
        assert exp.settings["lr_decay_from"] == 0.5 and exp.settings["lr_decay"]


def test_untrained_baseline_is_the_runs_own_initial_g_whatever_drew_from_the_rng_before():
    exp = registry.experiment("dcgan", "anime", "smoke", seed=3, device="cpu")
    torch.manual_seed(0)
    a = registry.untrained_generator(exp.settings)
    torch.manual_seed(1)
    torch.rand(1000)  # e.g. a metric network trained on a cold cache
    b = registry.untrained_generator(exp.settings)
    assert not a.training
    for pa, pb, p0 in zip(a.parameters(), b.parameters(), exp.trainer.G.parameters()):
        assert torch.equal(pa, pb) and torch.equal(pa, p0)


def test_steps_below_one_are_refused():
    with pytest.raises(ValueError, match="steps must be at least 1"):
        registry.experiment("dcgan", "anime", "smoke", steps=0)


@pytest.mark.parametrize("make,message", [
    (lambda: registry.experiment("consingan", "china", "smoke"), "has its own schedule"),
    (lambda: dcgan.DCGANConfig(image_size=48), "power of two"),
    (lambda: TensorBatches(torch.zeros(10, 1), torch.zeros(9), batch_size=2), "same length"),
    (lambda: SnapshotScrubber({}), "No snapshots"),
])
def test_easy_mistakes_get_a_message(make, message):
    with pytest.raises(ValueError, match=message):
        make()
