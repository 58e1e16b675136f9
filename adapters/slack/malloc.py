"""glibc's malloc arenas for a process that answers in many threads.

glibc gives threads that allocate at once their own arenas (up to 8 per core) and keeps what each
frees for reuse there, so a process answering in 16 threads keeps tens of MB of freed memory that
no other thread can use (benchmarks/slack_memory.py --new-words: about 50 MB, against 18 MB with two
arenas, and 30 MB less resident in all). Two arenas are what the common MALLOC_ARENA_MAX=2 advice
sets; an operator's own MALLOC_ARENA_MAX wins, and elsewhere than glibc nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = ["limit_arenas"]

_M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def limit_arenas(arenas: int = 2) -> bool:
    """Cap malloc's arenas for the threads this process starts from now on; whether it did."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False  # glibc read the operator's own choice at start-up
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))
