"""The benchmarks' one way to report a result: a JSON line on stdout, and appended to ``--out`` if given
(as soon as it exists, so a run cut short keeps what it measured)."""
from __future__ import annotations

import json


def emit(row: dict, out: str | None) -> None:
    line = json.dumps(row)
    print(line, flush=True)
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")
