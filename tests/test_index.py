"""index.py: BM25 (Lucene idf) over term postings, saved and loaded as arrays."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from reportqa.index import K1, B, Index, bm25_tf, idf_lucene


def test_idf_is_lucenes_and_never_negative() -> None:
    df = np.array([1, 2, 3])
    expected = [math.log(1 + (3 - d + 0.5) / (d + 0.5)) for d in (1, 2, 3)]
    assert np.allclose(idf_lucene(df, 3), expected)
    assert (idf_lucene(df, 3) > 0).all()  # a term in every document still counts a little


def test_tf_saturates_and_favours_short_documents() -> None:
    tf = np.array([1.0, 2.0, 10.0])
    same = bm25_tf(tf, np.array([4.0, 4.0, 4.0]), 4.0)
    assert np.allclose(same, tf * (K1 + 1) / (tf + K1))  # at the average length
    assert same[2] < K1 + 1  # saturates
    short, long = bm25_tf(np.array([1.0, 1.0]), np.array([2.0, 8.0]), 4.0)
    assert short > long and 0 < B <= 1


def test_scores_rank_the_document_holding_the_rare_term_first() -> None:
    idx = Index.build(["a b", "a c c", "a"], str.split)
    scores = idx.score({idx.vocab["c"]: 1.0, idx.vocab["a"]: 1.0})
    assert int(np.argmax(scores)) == 1
    assert scores[2] > 0  # 'a' alone still scores
    half = idx.score({idx.vocab["c"]: 0.5})
    assert math.isclose(half[1] * 2, idx.score({idx.vocab["c"]: 1.0})[1], rel_tol=1e-6)
    assert idx.score({}).tolist() == [0.0, 0.0, 0.0]
    assert idx.df[idx.vocab["a"]] == 3


def test_save_and_load_give_the_same_scores(tmp_path: Path) -> None:
    idx = Index.build(["法治 政府", "政府 信息 公开"], str.split)
    idx.save(tmp_path)
    loaded = Index.load(tmp_path)
    weights = {loaded.vocab["政府"]: 1.0}
    assert loaded.vocab == idx.vocab
    assert np.allclose(loaded.score(weights), idx.score({idx.vocab["政府"]: 1.0}))
