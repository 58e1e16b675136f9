"""The arena cap of `maisky slack`: however many threads allocate at once, malloc keeps two arenas."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Eight threads allocating and freeing at once, then malloc_info's count of heaps (arenas).
PROBE = """
import ctypes, ctypes.util, re, sys, tempfile, threading
import numpy as np
from adapters.slack.malloc import limit_arenas
capped = limit_arenas() if sys.argv[1] == "cap" else False
start = threading.Barrier(8)
def work():
    start.wait()
    for _ in range(300):
        kept = [np.ones(5000) for _ in range(20)]
        del kept
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    fp = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    heaps = len(re.findall(r'<heap nr="', open(out.name).read()))
print(capped, heaps)
"""


def arenas(mode: str) -> tuple[bool, int]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()  # fmt: skip
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_threads_share_two_arenas() -> None:
    capped, heaps = arenas("cap")
    assert capped and heaps <= 2
    _, uncapped = arenas("none")
    assert uncapped > 2  # the probe does make glibc open more arenas when nothing caps them
