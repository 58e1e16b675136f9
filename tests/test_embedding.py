"""The word vectors' cache of words outside the corpus: bounded, and each word keeps its own vector."""

from __future__ import annotations

import numpy as np

from bot import Maisky
from bot.embedding import WordVectors, load_encoder


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
