"""python -m course_lib: train writes its four files, sample writes tensors, bad input gets a message."""
import json
import subprocess
import sys

import pytest
import torch

from course_lib.__main__ import main


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    env_cache = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_CACHE", str(env_cache))
    mp.setenv("COURSE_DEVICE", "cpu")
    assert main(["train", "dcgan", "--data", "anime", "--budget", "smoke", "--out", str(out), "--quiet"]) == 0
    yield out
    mp.undo()


def test_train_writes_checkpoint_figures_and_metrics(smoke_run):
    for name in ("checkpoint.pt", "samples.png", "timeline.png", "metrics.json"):
        assert (smoke_run / name).is_file(), name
    m = json.loads((smoke_run / "metrics.json").read_text())
    assert m["steps"] == 12 and m["budget"] == "smoke" and m["device"] == "cpu"
    assert m["images_per_second"] > 0 and m["seconds"] > 0
    assert "procedural anime faces" in m["data_source"]
    assert set(m["fd_baselines"]) == {"real_heldout", "real_blurred", "real_one_hair_colour", "untrained_G"}
    assert m["face_features"]["reportable"] is False  # a smoke-scale feature net is never trusted
    assert {"samples_to_train", "heldout_to_train", "passed"} <= set(m["memorisation"])
    assert set(m["attribute_gap"]) == {"hair_colour", "hair_style", "eye_colour", "face_shape", "mouth"}
    assert all(0 <= v <= 1 for v in m["attribute_gap"].values())
    assert m["fid"]["samples"] == 8 and m["fid"]["value"] > 0


def test_sample_writes_a_float_tensor_in_range(smoke_run, tmp_path):
    out = tmp_path / "s.pt"
    assert main(["sample", str(smoke_run), "--n", "5", "--seed", "3", "--out", str(out)]) == 0
    x = torch.load(out, weights_only=True)
    assert x.shape == (5, 3, 16, 16) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    again = tmp_path / "t.pt"
    main(["sample", str(smoke_run / "checkpoint.pt"), "--n", "5", "--seed", "3", "--out", str(again)])
    assert torch.equal(x, torch.load(again, weights_only=True)), "same seed, same samples"
    from course_lib import registry
    from course_lib.storage import safe_load

    ck = safe_load(smoke_run / "checkpoint.pt")
    z = torch.randn(5, 100, generator=torch.Generator().manual_seed(3))
    nets = {}
    for key in ("G_ema", "G"):
        nets[key] = registry.generator_from_settings(ck["config"])
        nets[key].load_state_dict(ck[key])
        nets[key].eval()
    with torch.no_grad():
        assert torch.equal(nets["G_ema"](z), x), "samples come from the moving average of G"
        assert not torch.allclose(nets["G"](z), x)


def test_resume_continues_from_the_checkpoint(smoke_run, capsys):
    assert main(["train", "dcgan", "--data", "anime", "--budget", "smoke", "--out", str(smoke_run),
                 "--resume", "--steps", "14", "--quiet"]) == 0
    assert "at step 12" in capsys.readouterr().err  # it went on from the 12 smoke steps, not from 0
    assert json.loads((smoke_run / "metrics.json").read_text())["steps"] == 14


@pytest.mark.parametrize("argv,message", [
    (["train", "nope", "--data", "anime", "--out", "x"], "Unknown model 'nope'"),
    (["train", "dcgan", "--data", "mnist", "--out", "x"], "trains on anime"),
    (["train", "dcgan", "--data", "anime", "--budget", "fast", "--out", "x"], "Unknown budget"),
    (["sample", "no/such/run", "--out", "x.pt"], "No file at"),
    (["sample", "--label", "3", "RUN", "--out", "x.pt"], "not a conditional model"),
])
def test_bad_input_gets_a_message_not_a_traceback(argv, message, capsys, smoke_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [str(smoke_run) if a == "RUN" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_resume_refuses_a_checkpoint_of_another_model(smoke_run, capsys):
    assert main(["train", "gan", "--data", "ring8", "--budget", "smoke", "--out", str(smoke_run), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "holds another run" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["sample", "RUN", "--n", "-1", "--out", "x.pt"],
                                  ["train", "dcgan", "--steps", "0", "--out", "x"]])
def test_counts_below_one_are_refused_by_the_parser(argv, smoke_run, capsys):
    with pytest.raises(SystemExit) as stop:
        main([str(smoke_run) if a == "RUN" else a for a in argv])
    assert stop.value.code == 2 and "must be at least 1" in capsys.readouterr().err


def test_list_names_every_registered_model():
    out = subprocess.run([sys.executable, "-m", "course_lib", "list"], capture_output=True, text=True, check=True).stdout
    from course_lib.registry import MODELS

    assert all(name in out for name in MODELS)
