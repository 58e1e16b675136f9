"""The sentence model: its ONNX graph on onnxruntime against reference vectors, and the word vectors' cache of
words outside the corpus (bounded, and each word keeps its own vector)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bot import Maisky
from bot.search.embedding import (
    Encoder,
    WordVectors,
    _model_dir,
    known_digest,
    load_encoder,
    model_path,
    weights_digest,
    weights_path,
)


def test_a_reused_row_holds_the_new_words_vector(core: Maisky) -> None:
    encoder = load_encoder()
    assert encoder is not None and core.matcher.semantic is not None
    vectors = WordVectors(encoder, ["churchill"], core.matcher.semantic.vectors.cache_dir, query_cache=2)
    words = ["zebra", "giraffe", "okapi", "lemur", "walrus"]
    for w in words:
        vectors.vectors([w, "churchill"])
    assert vectors.remembered() == 2  # however many words came and went
    fresh = encoder.encode(words)
    again = vectors.vectors(["lemur", "walrus", "zebra", "walrus"])  # two kept, one encoded anew
    assert np.allclose(again, fresh[[3, 4, 0, 4]], atol=1e-5)
    assert vectors.remembered() == 2 and "zebra" in vectors._extra and "lemur" not in vectors._extra


def test_no_query_cache_still_answers(core: Maisky) -> None:
    encoder = load_encoder()
    assert encoder is not None and core.matcher.semantic is not None
    vectors = WordVectors(encoder, [], core.matcher.semantic.vectors.cache_dir, query_cache=0)
    assert np.allclose(vectors.vectors(["okapi"]), encoder.encode(["okapi"]), atol=1e-5)
    assert vectors.remembered() == 0


def test_the_onnx_graph_gives_the_reference_vectors() -> None:
    # tests/data/minilm-reference.json: vectors of the same model computed by transformers and torch
    # (mean pooling, normalised), made once on a machine with torch; the graph the bot writes from the
    # packaged weights must agree (it does to 6e-7 a component: the same operations, exact GELU)
    reference = json.loads((Path(__file__).parent / "data" / "minilm-reference.json").read_text(encoding="utf-8"))
    encoder = load_encoder()
    assert encoder is not None
    ours = encoder.encode(reference["texts"])
    theirs = np.asarray(reference["vectors"], dtype=np.float32)
    assert ours.shape == theirs.shape
    cosines = (ours * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosines.min() > 0.9999, cosines
    assert np.abs(ours - theirs).max() < 1e-5


def test_the_model_file_is_named_by_the_weights_hash_and_rebuilt_when_damaged(tmp_path: Path) -> None:
    folder = _model_dir()
    assert folder is not None
    assert weights_digest(folder).startswith("sha256=")  # from the installed package's record
    path = model_path(folder, tmp_path)
    weights = weights_path(path)
    path.write_bytes(b"not a model")  # a torn or foreign file where the model should be
    weights.write_bytes(b"\0" * 1000)
    rebuilt = Encoder(folder, tmp_path)
    assert weights.stat().st_size > 80_000_000  # written again from the safetensors
    assert path.stat().st_size < 1_000_000  # the graph alone: the weights are in their own file
    stamp = path.stat().st_mtime_ns, weights.stat().st_mtime_ns
    again = Encoder(folder, tmp_path)  # read back, not built again
    assert (path.stat().st_mtime_ns, weights.stat().st_mtime_ns) == stamp
    reference = load_encoder()
    assert reference is not None
    words = ["telescope", "Chamberlain"]
    assert np.allclose(again.encode(words), reference.encode(words), atol=1e-6)
    assert np.allclose(rebuilt.encode(words), reference.encode(words), atol=1e-6)


def test_a_model_file_whose_weights_are_damaged_or_missing_is_rebuilt(tmp_path: Path) -> None:
    folder = _model_dir()
    assert folder is not None
    reference = load_encoder()
    assert reference is not None
    path = model_path(folder, tmp_path)
    weights = weights_path(path)
    Encoder(folder, tmp_path)
    with weights.open("r+b") as fh:  # cut short: the graph names weights past its end
        fh.truncate(weights.stat().st_size // 2)
    cut = Encoder(folder, tmp_path)
    assert weights.stat().st_size > 80_000_000
    weights.unlink()  # the graph without its weights is not a model
    gone = Encoder(folder, tmp_path)
    assert weights.is_file()
    words = ["telescope", "Chamberlain"]
    assert np.array_equal(cut.encode(words), reference.encode(words))
    assert np.array_equal(gone.encode(words), reference.encode(words))


def test_the_weights_digest_is_remembered_until_the_weights_file_changes(tmp_path: Path) -> None:
    """The digest that names the model file is kept in the cache folder; a weights file that is
    replaced (a reinstall, a copy by hand) is looked up again, and its model file is another."""
    folder = tmp_path / "model"
    folder.mkdir()
    weights = folder / "model.safetensors"
    weights.write_bytes(b"first weights")  # not the installed package's: named by size and time
    cache = tmp_path / "cache"
    first = known_digest(folder, cache)
    assert first == weights_digest(folder) and (cache / "minilm-digest.json").is_file()
    memo = json.loads((cache / "minilm-digest.json").read_text(encoding="utf-8"))
    memo["digest"] = "remembered"
    (cache / "minilm-digest.json").write_text(json.dumps(memo), encoding="utf-8")
    assert known_digest(folder, cache) == "remembered"  # read back, not looked up
    named = model_path(folder, cache)
    replaced = folder / "new.safetensors"
    replaced.write_bytes(b"other weights")
    replaced.replace(weights)  # another inode, another size
    assert known_digest(folder, cache) == weights_digest(folder) != first
    assert model_path(folder, cache) != named
