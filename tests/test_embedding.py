"""The sentence model: its numpy forward pass against reference vectors, and the word vectors' cache of words
outside the corpus (bounded, and each word keeps its own vector)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bot import Maisky
from bot.search.embedding import WordVectors, load_encoder


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


def test_the_numpy_forward_pass_gives_the_reference_vectors() -> None:
    # tests/data/minilm-reference.json: vectors of the same model computed by transformers and torch
    # (mean pooling, normalised), made once on a machine with torch; the bot's numpy pass must agree
    reference = json.loads((Path(__file__).parent / "data" / "minilm-reference.json").read_text(encoding="utf-8"))
    encoder = load_encoder()
    assert encoder is not None
    ours = encoder.encode(reference["texts"])
    theirs = np.asarray(reference["vectors"], dtype=np.float32)
    assert ours.shape == theirs.shape
    cosines = (ours * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosines.min() > 0.9999, cosines
