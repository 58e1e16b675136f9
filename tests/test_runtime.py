"""The thread count the bot chooses reaches every numeric library: BLAS (threadpoolctl's view), the
onnxruntime sessions, the tokenizers, in a process started as the `maisky` command starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from onnx import TensorProto, helper

from bot import ConfigError, Settings
from bot.ops.runtime import session, threads, use_threads
from tests.conftest import PERSONA, ROOT, SEEDS

# A fresh interpreter that runs the command as the `maisky` script does, then reports what each
# numeric library was left with.
PROBE = """
import json, os, sys
from adapters.cli import main
code = main(sys.argv[1:])
from threadpoolctl import threadpool_info
from bot.search.embedding import load_encoder
options = load_encoder().session.get_session_options()
print(json.dumps({
    "code": code,
    "blas": [(i["internal_api"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"],
    "intra": options.intra_op_num_threads,
    "inter": options.inter_op_num_threads,
    "tokenizers": os.environ.get("TOKENIZERS_PARALLELISM"),
    "openblas_env": os.environ.get("OPENBLAS_NUM_THREADS"),
}))
"""


def probe(*argv: str, **env: str) -> dict[str, object]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MAISKY_", "OPENBLAS_", "OMP_", "MKL_"))}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        env=keep | {"PYTHONPATH": str(ROOT)} | env,
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    found: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["code"] == 0, proc.stderr[-3000:]
    return found


def test_a_command_runs_every_numeric_library_on_one_thread_by_default() -> None:
    found = probe("ask", "What did Maisky think of Chamberlain?")
    assert found["blas"], "numpy's BLAS is loaded and seen by threadpoolctl"
    assert all(n == 1 for _, n in found["blas"]), found  # type: ignore[attr-defined]
    assert (found["intra"], found["inter"]) == (1, 1)
    assert found["tokenizers"] == "false" and found["openblas_env"] == "1"


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS never runs more threads than cores")
def test_maisky_threads_raises_it_for_every_library() -> None:
    found = probe("index", "build", "--quiet", MAISKY_THREADS="2")
    assert all(n == 2 for _, n in found["blas"]), found  # type: ignore[attr-defined]
    assert (found["intra"], found["inter"]) == (2, 1)
    assert found["tokenizers"] == "true" and found["openblas_env"] == "2"


def test_a_session_carries_the_chosen_count() -> None:
    identity = helper.make_model(
        helper.make_graph(
            [helper.make_node("Identity", ["x"], ["y"])], "identity",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        ),
        opset_imports=[helper.make_opsetid("", 18)], ir_version=8,
    )  # fmt: skip
    try:
        use_threads(3)
        options = session(identity.SerializeToString()).get_session_options()
        assert threads() == 3 and options.intra_op_num_threads == 3 and options.inter_op_num_threads == 1
    finally:
        use_threads(1)
    assert session(identity.SerializeToString()).get_session_options().intra_op_num_threads == 1


@pytest.mark.parametrize("value", ["0", "many", "-2"])
def test_a_bad_thread_count_is_named(value: str) -> None:
    with pytest.raises(ConfigError, match="MAISKY_THREADS"):
        Settings.from_env({"MAISKY_SEEDS": str(SEEDS), "MAISKY_PERSONA": str(PERSONA), "MAISKY_THREADS": value})
    assert Settings.from_env({"MAISKY_THREADS": "4"}, dotenv=None).threads == 4


# What numpy's OpenBLAS started with: read as soon as `bot` is imported, before any settings are read.
AT_IMPORT = """
import json, os
import bot
from threadpoolctl import threadpool_info
print(json.dumps({
    "blas": [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"],
    "env": [os.environ.get(n) for n in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")],
}))
"""


def at_import(**env: str) -> dict[str, list[object]]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MAISKY_", "OPENBLAS_", "OMP_", "MKL_"))}
    proc = subprocess.run(
        [sys.executable, "-c", AT_IMPORT], env=keep | {"PYTHONPATH": str(ROOT)} | env,
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    found: dict[str, list[object]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


def test_the_blas_starts_on_one_thread_before_any_setting_is_read() -> None:
    found = at_import()
    assert found["blas"] == [1] and found["env"] == ["1", "1", "1"]


def test_the_blas_starts_with_maisky_threads_and_keeps_a_count_the_environment_set() -> None:
    assert at_import(MAISKY_THREADS="2")["env"] == ["2", "2", "2"]
    assert at_import(MAISKY_THREADS="many")["env"] == ["1", "1", "1"]  # Settings names the bad value later
    assert at_import(OPENBLAS_NUM_THREADS="1", MAISKY_THREADS="2")["env"] == ["2", "1", "2"]
