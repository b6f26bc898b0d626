"""merge.py: an index merged from report segments, and updated (base + tail) exactly as a full
merge of the same knowledge base would rank."""

from __future__ import annotations

import numpy as np
import pytest

from reportqa import merge, segment
from reportqa.index import Index, bm25_tf, idf_lucene
from reportqa.models import KnowledgeBase, Passage, Report
from reportqa.segment import Segment, passage_text
from reportqa.tokenize import Tokenizer, user_words_for

TOK = Tokenizer()


def report(rid: str, agency: str, region: tuple[str, ...], texts: list[str]) -> Report:
    passages = tuple(Passage(f"{rid}-{i}", ("一、主要工作",), t) for i, t in enumerate(texts))
    return Report(
        rid, "2020年工作总结", agency, 2020, "工作总结", f"{rid}.txt", passages, (), region
    )


REPORTS = {
    "k1": report(
        "a",
        "舟山市科学技术局",
        ("浙江省", "舟山市"),
        ["开展法律法规学习8次。", "公开政府信息320条。"],
    ),
    "k2": report(
        "b",
        "舟山市经济和信息化局",
        ("浙江省", "舟山市"),
        ["开展法律法规学习6次。", "为企业减息4.88亿元。", "推送惠企信息万条。"],
    ),
    "k3": report(
        "c",
        "上海市经济和信息化委员会",
        ("上海市",),
        ["办理信访件1704件。", "开展信用宣传活动12次。"],
    ),
    "k4": report(
        "d",
        "杭州市上城区发展改革和经济信息化局",
        ("浙江省", "杭州市"),
        ["完成信用修复审核办件3162件。"],
    ),
    "k5": report(
        "e",
        "宁波市司法局",
        ("浙江省", "宁波市"),
        ["开展普法宣传活动30次。", "办理行政复议案件15件。"],
    ),
    "k6": report(
        "f", "温州市公安局", ("浙江省", "温州市"), ["破获刑事案件200起。", "开展反诈宣传活动。"]
    ),
    # k3 edited: the same report, new text, so a new key
    "k3b": report(
        "c",
        "上海市经济和信息化委员会",
        ("上海市",),
        ["办理信访件1800件。", "开展信用宣传活动15次，信用宣传进社区。"],
    ),
}
SEGS = {key: segment.build(key, r, TOK) for key, r in REPORTS.items()}
BASE_KEYS = ["k1", "k2", "k3", "k4"]
QUERIES = [
    {"开展": 1.0},
    {"信用": 1.0, "宣传": 1.0, "活动": 0.5},
    {"办理": 1.0, "案件": 1.0, "_案件": 0.6},
    {"信息": 1.0, "_信息": 0.6, "工作": 1.0},
    {"信访件": 1.0, "1800": 1.0, "1704": 1.0},
    {"减息": 1.0, "学习": 1.0, "_主要": 0.6},
    {"修复": 1.0, "刑事案件": 1.0, "进社区": 2.0},
]


def segment_of(key: str) -> Segment:
    return SEGS[key]


def full_of(keys: list[str]) -> Index:
    return merge.full([SEGS[k] for k in keys], "x")


def scores(index: Index, query: dict[str, float]) -> np.ndarray:
    """Scores by position, term ids looked up in the index's own vocabulary."""
    return index.score({index.vocab[t]: w for t, w in query.items() if t in index.vocab})


def df_by_term(index: Index) -> dict[str, int]:
    return {t: int(index.df[i]) for t, i in index.vocab.items()}


def assert_ranks_as(index: Index, expected: Index) -> None:
    """`index` is `expected` for BM25: same statistics, bit-identical scores."""
    assert index.n_docs == expected.n_docs
    assert index.avg_len == expected.avg_len
    assert set(index.vocab) == set(expected.vocab)
    assert df_by_term(index) == df_by_term(expected)
    for query in QUERIES:
        got, want = scores(index, query), scores(expected, query)
        assert got.shape == (expected.n_docs,)
        assert np.array_equal(got, want), query
    everything = {t: 1.0 for t in expected.vocab}
    assert np.array_equal(scores(index, everything), scores(expected, everything))


def test_the_queries_are_not_vacuous() -> None:
    index = full_of(list(REPORTS))
    for query in QUERIES:
        assert set(query) <= set(index.vocab), query


# ---------------------------------------------------------------------- full merge


def test_full_merge_ranks_as_an_index_built_over_the_passage_texts() -> None:
    keys = ["k1", "k2", "k3", "k4", "k5", "k6"]
    kb = KnowledgeBase(tuple(REPORTS[k] for k in keys))
    texts = [passage_text(p) for r in kb.reports for p in r.passages]
    built = Index.build(texts, Tokenizer(user_words_for(kb)).terms)
    merged = full_of(keys)
    assert merged.n_docs == built.n_docs == 12
    assert merged.lengths.tolist() == built.lengths.tolist()
    assert_ranks_as(merged, built)


def test_full_merge_scores_are_bm25_with_lucenes_idf() -> None:
    index = full_of(["k1", "k2", "k3", "k4", "k5", "k6"])
    t = index.vocab["宣传"]  # in k3-1, k5-0, k6-1 once each
    assert index.df[t] == 3
    lengths = index.lengths.astype(np.float64)
    avg = float(lengths.sum()) / 12
    assert index.avg_len == pytest.approx(avg, rel=1e-15)
    tf = np.zeros(12)
    tf[[6, 8, 11]] = 1.0
    expected = idf_lucene(np.array([3]), 12)[0] * bm25_tf(tf, lengths, avg)
    got = index.score({t: 1.0})
    # (k1 + 1) * tf is taken in float32 (tf is kept as float32): agreement to ~1e-7
    assert np.allclose(got, expected, rtol=1e-6, atol=0)
    assert np.flatnonzero(got).tolist() == [6, 8, 11]
    assert np.array_equal(index.score({t: 0.5}), got / 2)


def test_full_merge_keeps_the_parts_in_order() -> None:
    index = full_of(BASE_KEYS)
    parts = index.parts
    assert isinstance(parts, merge.Parts)
    assert parts.base_id == "x"
    assert parts.base_keys == parts.order == tuple(BASE_KEYS)
    assert parts.base_starts == {"k1": 0, "k2": 2, "k3": 5, "k4": 7}
    assert parts.base_counts == {"k1": 2, "k2": 3, "k3": 2, "k4": 1}
    assert parts.base_docs == index.n_docs == 8
    assert parts.tail == ()
    assert parts.base_lookup == index.vocab
    assert np.array_equal(parts.base_df, index.df)
    assert len(index.blocks) == 1 and index.doc_pos is None
    block = index.blocks[0]
    for t in range(len(index.terms)):  # each term's passages ascending, across segments
        assert (np.diff(block.docs[block.ptr[t] : block.ptr[t + 1]]) > 0).all()
    assert index.lengths.tolist() == [
        n for k in BASE_KEYS for n in SEGS[k].lengths.tolist()
    ]  # in order


def test_a_segments_passages_score_at_its_place() -> None:
    index = full_of(["k4", "k1"])
    assert np.flatnonzero(scores(index, {"修复": 1.0})).tolist() == [0]
    assert np.flatnonzero(scores(index, {"学习": 1.0})).tolist() == [1]
    assert np.flatnonzero(scores(index, {"信息": 1.0})).tolist() == [2]


# ---------------------------------------------------------------------- update


def test_an_update_ranks_exactly_as_a_full_merge() -> None:
    base = merge.full([SEGS[k] for k in BASE_KEYS], "b")
    # k2 removed, k5 and k6 added, k3 replaced by its edit k3b; a new order
    order = ["k5", "k1", "k3b", "k4", "k6"]
    asked: list[str] = []

    def tracked(key: str) -> Segment:
        asked.append(key)
        return SEGS[key]

    fresh = {k: SEGS[k] for k in ("k5", "k6", "k3b")}
    updated = merge.update(base, order, fresh, tracked)
    assert updated is not None
    assert sorted(asked) == ["k2", "k3"]  # only the removed base reports are needed
    assert len(updated.blocks) == 2 and updated.doc_pos is not None  # base + tail
    expected = full_of(order)
    assert_ranks_as(updated, expected)
    assert updated.n_docs == 2 + 2 + 2 + 1 + 2
    # terms only the removed reports held are gone; shared ones stay with a lower df
    assert {"减息", "推送", "1704"} <= set(base.vocab)
    assert not {"减息", "推送", "1704"} & set(updated.vocab)
    assert df_by_term(base)["学习"] == 2 and df_by_term(updated)["学习"] == 1
    assert {"1800", "进社区", "刑事案件"} <= set(updated.vocab) - set(base.vocab)
    assert updated.parts.order == tuple(order)
    assert [s.key for s in updated.parts.tail] == ["k5", "k3b", "k6"]  # in order
    assert updated.parts.base_keys == base.parts.base_keys  # the base is kept as it was
    assert updated.blocks[0] is base.blocks[0]


def test_chained_updates_still_rank_as_a_full_merge() -> None:
    index = merge.full([SEGS[k] for k in BASE_KEYS], "b")
    steps = [
        (["k5", "k1", "k3b", "k4", "k6"], {"k5", "k6", "k3b"}),
        (["k2", "k6", "k3b", "k1"], set()),  # k2 back from the base, k4 and tail k5 gone
        (["k1", "k2", "k3", "k4", "k5", "k6"], {"k5"}),  # k3 back, k3b gone, k5 again
        (["k6", "k5"], set()),  # every base report gone
        (BASE_KEYS, set()),  # back to the base exactly
    ]
    for order, added in steps:
        updated = merge.update(index, order, {k: SEGS[k] for k in added}, segment_of)
        assert updated is not None, order
        assert_ranks_as(updated, full_of(order))
        index = updated
    assert index.doc_pos is None and len(index.blocks) == 1 and index.parts.tail == ()


def test_a_reordering_scores_in_the_new_order() -> None:
    base = merge.full([SEGS[k] for k in BASE_KEYS], "b")
    order = ["k4", "k3", "k1", "k2"]
    updated = merge.update(base, order, {}, segment_of)
    assert updated is not None
    assert len(updated.blocks) == 1 and updated.doc_pos is not None
    assert_ranks_as(updated, full_of(order))
    # positions: k4-0 | k3-0 k3-1 | k1-0 k1-1 | k2-0 k2-1 k2-2
    assert np.flatnonzero(scores(updated, {"修复": 1.0})).tolist() == [0]
    assert np.flatnonzero(scores(updated, {"信访件": 1.0})).tolist() == [1]
    assert np.flatnonzero(scores(updated, {"学习": 1.0})).tolist() == [3, 5]
    assert np.flatnonzero(scores(updated, {"减息": 1.0})).tolist() == [6]
    old = scores(base, {"学习": 1.0, "信息": 1.0})
    new = scores(updated, {"学习": 1.0, "信息": 1.0})
    assert np.array_equal(new, old[[7, 5, 6, 0, 1, 2, 3, 4]])  # the same scores, moved


def test_an_unchanged_order_is_the_base() -> None:
    base = merge.full([SEGS[k] for k in BASE_KEYS], "b")
    same = merge.update(base, BASE_KEYS, {}, segment_of)
    assert same is not None
    assert same.doc_pos is None and same.blocks == base.blocks
    assert_ranks_as(same, base)


def test_update_says_none_when_the_tail_outgrows_the_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = merge.full([SEGS[k] for k in BASE_KEYS], "b")
    order = [*BASE_KEYS, "k5", "k6"]  # a tail of 4 passages over 12 live
    fresh = {k: SEGS[k] for k in ("k5", "k6")}
    assert merge.update(base, order, fresh, segment_of) is not None  # MERGE_MIN: 2000
    monkeypatch.setattr(merge, "MERGE_SHARE", 0.0)
    monkeypatch.setattr(merge, "MERGE_MIN", 4)
    assert merge.update(base, order, fresh, segment_of) is not None  # up to the limit
    monkeypatch.setattr(merge, "MERGE_MIN", 3)
    assert merge.update(base, order, fresh, segment_of) is None
    monkeypatch.setattr(merge, "MERGE_MIN", 1)
    monkeypatch.setattr(merge, "MERGE_SHARE", 0.34)  # 0.34 * 12 > 4
    assert merge.update(base, order, fresh, segment_of) is not None
    monkeypatch.setattr(merge, "MERGE_SHARE", 0.3)
    assert merge.update(base, order, fresh, segment_of) is None


def test_update_says_none_when_too_much_of_the_base_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = merge.full([SEGS[k] for k in BASE_KEYS], "b")
    monkeypatch.setattr(merge, "MERGE_SHARE", 0.1)
    monkeypatch.setattr(merge, "MERGE_MIN", 1)
    assert merge.update(base, ["k1", "k3", "k4"], {}, segment_of) is None  # 3 dropped
    assert merge.update(base, ["k2", "k3", "k4"], {}, segment_of) is None  # 2 dropped
    assert merge.update(base, ["k1", "k2", "k3"], {}, segment_of) is not None  # 1 dropped


# ---------------------------------------------------------------------- words


def test_words_are_the_union_of_the_live_reports_words() -> None:
    def union(keys: list[str]) -> set[str]:
        return set().union(*(SEGS[k].words for k in keys))

    base = merge.full([SEGS[k] for k in BASE_KEYS], "b")
    assert base.parts.words() == union(BASE_KEYS)
    assert "舟山市经济和信息化局" in base.parts.words()
    order = ["k5", "k1", "k3b", "k4", "k6"]
    fresh = {k: SEGS[k] for k in ("k5", "k6", "k3b")}
    updated = merge.update(base, order, fresh, segment_of)
    assert updated is not None
    words = updated.parts.words()
    assert words == union(order)
    assert "舟山市经济和信息化局" not in words  # k2's agency, removed
    assert {"宁波市司法局", "温州市公安局", "舟山市", "上海市"} <= words


def test_words_of_a_tail_report_without_words() -> None:
    bare = report("g", "Acme（公司）", (), ["开展普法宣传活动。"])
    seg = segment.build("kg", bare, TOK)
    assert seg.words == ()
    base = merge.full([SEGS["k1"]], "b")
    updated = merge.update(base, ["k1", "kg"], {"kg": seg}, segment_of)
    assert updated is not None
    assert updated.parts.words() == set(SEGS["k1"].words)
