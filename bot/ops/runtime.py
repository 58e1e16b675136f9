"""Numeric runtimes: the thread count every numeric library runs with, and the onnxruntime sessions.

The sessions are built with that count (the sentence encoder's, the reader's, any other model's).

One thread by default. On a small shared machine, threads of OpenBLAS or onnxruntime that spin
waiting for each other cost several times the work they share: with OpenBLAS's default two threads
a warm question took 42 ms instead of 16, and a first answer 2.8x to 13.8x the CPU. A deployment
with cores to spare raises MAISKY_THREADS; it applies to numpy's BLAS (through threadpoolctl, and
the environment variables that BLAS and OpenMP libraries read when they load), to every
onnxruntime session, and to the tokenizers' parallelism, in this process and in those it starts.

OpenBLAS reads its count once, when numpy loads, and starts that many threads, which spin for a
while before they sleep: at two cores, importing numpy cost 0.25 s of CPU instead of 0.12. So the
`bot` package, before it imports numpy, sets the BLAS variables to MAISKY_THREADS (1 when it is not
a count) where the environment does not set them (`before_numpy`); the composition root's
`use_threads` then applies the settings' count, raising the BLAS's threads where it is higher.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

__all__ = ["before_numpy", "session", "threads", "use_threads"]

_ENVIRONMENT = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS")


class _Choice:
    """The process's thread count: 1 until the composition root says otherwise."""

    def __init__(self) -> None:
        self.count = 1
        self.limits: Any = None  # threadpoolctl's handle; kept so the limits stay applied
        self.lock = threading.Lock()


_CHOICE = _Choice()


def before_numpy() -> None:
    """The thread count the BLAS and OpenMP libraries start with, set before numpy loads them:
    MAISKY_THREADS where it is a plain count, else 1; a variable already set is left as it is."""
    wanted = os.environ.get("MAISKY_THREADS", "").strip()
    count = wanted if wanted.isdigit() and int(wanted) >= 1 else "1"
    for name in _ENVIRONMENT:
        os.environ.setdefault(name, count)


def use_threads(count: int) -> None:
    """Hold every numeric library of this process, and of the processes it starts, to `count` threads.

    Called by the composition root once settings are read (and safe to call again): it sets the
    environment variables libraries read when they load, limits the BLAS and OpenMP libraries
    already loaded, and is what every later `session()` gets."""
    if count < 1:
        raise ValueError(f"thread count {count} is not at least 1")
    from threadpoolctl import threadpool_limits

    with _CHOICE.lock:
        _CHOICE.count = count
        for name in _ENVIRONMENT:
            os.environ[name] = str(count)
        # the tokenizers' Rust thread pool: off at one thread (it also stops their fork warning)
        os.environ["TOKENIZERS_PARALLELISM"] = "true" if count > 1 else "false"
        _CHOICE.limits = threadpool_limits(limits=count)  # numpy's OpenBLAS, loaded at import


def threads() -> int:
    """The thread count this process runs numeric work with."""
    return _CHOICE.count


def session(model: Path | bytes) -> InferenceSession:
    """An onnxruntime session on the CPU with this process's thread count: `threads()` threads
    inside an operator, one between operators (they run in order), and no spinning while waiting
    (a spinning thread takes a core from the other processes of a shared machine). The one place
    sessions are made: the sentence encoder's, and the reader's."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # no memory arena: it keeps the largest batch's buffers for ever (50 MB more resident after
    # encoding passages), and plain allocations cost no measurable time here
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3  # errors only: its warnings name graph internals, not problems of ours
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
