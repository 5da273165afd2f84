#!/usr/bin/env bash
# Run "$@" with the network blocked, for pytest and for the notebook kernels it starts.
# 1. A new network namespace (as root, or via an unprivileged user namespace): no route anywhere;
#    loopback is brought up because Jupyter kernels talk to pytest over 127.0.0.1.
# 2. Otherwise a Python-level guard (tests/offline_guard/sitecustomize.py) that every Python
#    process, kernels included, loads from PYTHONPATH.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if command -v unshare >/dev/null && command -v ip >/dev/null; then
  for flags in "-n" "-rn"; do
    if unshare $flags sh -c 'ip link set lo up' 2>/dev/null; then
      export COURSE_OFFLINE_MODE="namespace"
      exec unshare $flags sh -c 'ip link set lo up && exec "$@"' sh "$@"
    fi
  done
fi
echo "offline.sh: no network namespace available here; using the Python socket guard" >&2
export COURSE_OFFLINE_MODE="guard"
export PYTHONPATH="$here/offline_guard${PYTHONPATH:+:$PYTHONPATH}"
exec "$@"
