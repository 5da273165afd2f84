"""`make test` blocks the network for pytest and for the notebook kernels it starts."""
import os
import socket

import pytest

needs_offline = pytest.mark.skipif(
    os.environ.get("COURSE_EXPECT_OFFLINE") != "1", reason="run through `make test` (tests/offline.sh)"
)

PROBE = "import socket\ntry:\n    socket.create_connection(('pypi.org', 443), timeout=5)\n    print('ONLINE')\nexcept OSError:\n    print('OFFLINE')\n"


@needs_offline
def test_pytest_process_is_offline():
    with pytest.raises(OSError):
        socket.create_connection(("pypi.org", 443), timeout=5)


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
