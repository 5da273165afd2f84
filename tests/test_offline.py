"""`make test` blocks the network for pytest and for the notebook kernels it starts."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

needs_offline = pytest.mark.skipif(
    os.environ.get("COURSE_EXPECT_OFFLINE") != "1", reason="run through `make test` (tests/offline.sh)"
)

PROBE = "import socket\ntry:\n    socket.create_connection(('pypi.org', 443), timeout=5)\n    print('ONLINE')\nexcept OSError:\n    print('OFFLINE')\n"


@needs_offline
def test_pytest_process_is_offline():
    with pytest.raises(OSError):
        socket.create_connection(("pypi.org", 443), timeout=5)
    # and by the mechanism offline.sh chose, not by a machine that happens to have no route
    mode = os.environ.get("COURSE_OFFLINE_MODE")
    assert mode in ("namespace", "guard"), "run through tests/offline.sh"
    if mode == "namespace":
        assert [name for _, name in socket.if_nameindex()] == ["lo"], "only loopback in the namespace"
    else:
        with pytest.raises(OSError, match="network access blocked during tests"):
            socket.create_connection(("192.0.2.1", 9), timeout=5)


GUARD_PROBE = """
import socket
for attempt in (lambda: socket.create_connection(("192.0.2.1", 9), timeout=5),
                lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 9)),
                lambda: socket.gethostbyname("pypi.org")):
    try:
        attempt()
        print("REACHED")
    except OSError as err:
        print("BLOCKED" if "network access blocked during tests" in str(err) else f"OTHER {err}")
"""


def test_the_python_guard_blocks_tcp_udp_and_name_lookups():
    """The fallback of tests/offline.sh, checked on its own (it needs no network to be checked)."""
    guard = Path(__file__).parent / "offline_guard"
    env = {**os.environ, "PYTHONPATH": f"{guard}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run([sys.executable, "-c", GUARD_PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["BLOCKED"] * 3, out.stdout + out.stderr


@needs_offline
def test_notebook_kernels_are_offline():
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        seen = []
        kc.execute_interactive(PROBE, timeout=60, output_hook=lambda msg: seen.append(msg["content"].get("text", "")))
        assert "OFFLINE" in "".join(seen), seen
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_loopback_still_works():
    """Kernels talk to pytest over 127.0.0.1: blocking must leave loopback up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=5)
    client.close()
    server.close()
