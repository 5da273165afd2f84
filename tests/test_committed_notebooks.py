"""The notebooks in the repository are committed as a cpu-budget run produced them (`make outputs`):
a reader on GitHub or Colab sees real results, so a smoke run or a crash must never be committed."""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("[0-9]*.ipynb"))


def _outputs(path: Path) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    return [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]


def _text(output: dict) -> str:
    return "".join(output.get("text", [])) or "".join(output.get("data", {}).get("text/plain", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_with_cpu_budget_outputs_and_no_errors(path):
    outputs = _outputs(path)
    assert outputs, f"{path.name} is committed without outputs: run `make outputs`"
    errors = [o.get("ename") for o in outputs if o["output_type"] == "error"]
    assert not errors, f"{path.name} was committed with errors: {errors}"
    text = "".join(_text(o) for o in outputs)
    assert "budget: cpu" in text and "budget: smoke" not in text, f"{path.name}: not a cpu-budget run"


def test_the_notebooks_are_found():  # an empty glob would skip the test above silently
    assert len(NOTEBOOKS) >= 9
