"""segment.py: one report's index terms and postings, cut with its own words only, kept as .npz."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from reportqa import segment
from reportqa.models import Passage, Report
from reportqa.segment import Segment, passage_text, segment_key
from reportqa.tokenize import USER_FREQ, Tokenizer, report_words

# Words of its own: the agency, and the two short all-Chinese headings.
REPORT = Report(
    "r1",
    "2020年法治政府建设工作总结",
    "上城区发改局",
    2020,
    "工作总结",
    "r1.txt",
    (
        Passage("p0", ("信用建设",), "开展信用宣传，信用宣传进社区。"),
        Passage("p1", ("信用建设", "普法"), "开展普法活动。"),
    ),
)
TERMS = (
    "信用建设",
    "_信用",
    "_用建",
    "_建设",
    "开展",
    "信用",
    "宣传",
    "进社区",
    "_开展",
    "_展信",
    "_用宣",
    "_宣传",
    "_传进",
    "_进社",
    "_社区",
    "普法",
    "_普法",
    "活动",
    "_展普",
    "_法活",
    "_活动",
)
# Another report whose text holds REPORT's agency name, but not as one of its own words.
OTHER = Report(
    "r2",
    "2020年工作总结",
    "温州市公安局",
    2020,
    "工作总结",
    "r2.txt",
    (Passage("q0", ("一、主要工作",), "会同上城区发改局开展信用宣传。"),),
)


def postings(seg: Segment, term: str) -> tuple[list[int], list[float]]:
    t = seg.terms.index(term)
    a, b = int(seg.ptr[t]), int(seg.ptr[t + 1])
    return seg.docs[a:b].tolist(), seg.tf[a:b].tolist()


def assert_same_segment(a: Segment, b: Segment) -> None:
    assert a.key == b.key
    assert a.report == b.report
    assert a.words == b.words
    assert a.terms == b.terms
    for name in ("lengths", "ptr", "docs", "tf"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y), name


@pytest.fixture(scope="module")
def seg() -> Segment:
    return segment.build("k1", REPORT, Tokenizer())


# ---------------------------------------------------------------------- build


def test_terms_and_lengths_of_each_passage(seg: Segment) -> None:
    assert seg.terms == TERMS
    # p0: the heading's 4 terms + 17 of the text; p1: 4 + 2 (second heading) + 8
    assert seg.lengths.tolist() == [21, 14]
    assert seg.lengths.dtype == np.int32
    assert seg.n_docs == 2
    assert seg.ptr.tolist() == [0, 2, 4, 6, 8, 10, 11, 12, 13, 15, *range(16, 28)]
    assert len(seg.docs) == len(seg.tf) == int(seg.ptr[-1]) == 27
    assert seg.df.tolist() == np.diff(seg.ptr).tolist()
    assert (seg.ptr.dtype, seg.docs.dtype, seg.tf.dtype) == (np.int64, np.int32, np.float32)


def test_postings_count_repeats_and_stay_in_passage_order(seg: Segment) -> None:
    assert postings(seg, "宣传") == ([0], [2.0])  # twice in one passage
    assert postings(seg, "信用") == ([0], [2.0])  # the heading is cut as a word of its own
    assert postings(seg, "_信用") == ([0, 1], [3.0, 1.0])  # but its bigram counts there too
    assert postings(seg, "开展") == ([0, 1], [1.0, 1.0])
    assert postings(seg, "普法") == ([1], [2.0])  # heading and text of the same passage
    for t in range(len(seg.terms)):  # every run ascending, no passage twice
        docs = seg.docs[seg.ptr[t] : seg.ptr[t + 1]]
        assert (np.diff(docs) > 0).all()


def test_every_heading_of_the_path_is_indexed_for_each_passage(seg: Segment) -> None:
    for term in ("信用建设", "_用建", "_建设"):  # the first heading, over both passages
        assert postings(seg, term) == ([0, 1], [1.0, 1.0])
    assert postings(seg, "_普法")[0] == [1]  # the second heading, only under p1


def test_words_are_the_reports_own(seg: Segment) -> None:
    assert seg.words == ("上城区发改局", "信用建设", "普法")
    assert seg.words == tuple(sorted(report_words(REPORT)))
    assert seg.report is REPORT and seg.key == "k1"


def test_terms_are_those_of_the_indexed_passage_text(seg: Segment) -> None:
    counts: list[Counter[str]] = [Counter() for _ in REPORT.passages]
    for term in seg.terms:
        for d, tf in zip(*postings(seg, term), strict=True):
            counts[d][term] += int(tf)
    tok = Tokenizer()
    with tok.with_words(seg.words):
        expected = [Counter(tok.terms(passage_text(p))) for p in REPORT.passages]
    assert counts == expected
    assert [c.total() for c in counts] == seg.lengths.tolist()


def test_passage_text_normalises_headings_and_text_apart() -> None:
    p = Passage("x", ("一、總則", "（一）公開"), "Ａ  B 政務  公開")
    assert passage_text(p) == "一、总则 (一)公开 a b政务公开"
    assert passage_text(Passage("y", (), "政務")) == "政务"


def test_a_report_without_passages() -> None:
    empty = Report("e", "t", "x", None, "工作总结", "e.txt", ())
    seg = segment.build("ke", empty, Tokenizer())
    assert seg.terms == () and seg.words == () and seg.n_docs == 0
    assert seg.ptr.tolist() == [0] and seg.docs.size == seg.tf.size == seg.lengths.size == 0


# ---------------------------------------------------------------------- save and load


def test_save_then_load_gives_the_same_segment(seg: Segment, tmp_path: Path) -> None:
    seg.save(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["k1.npz"]  # no temporary file left
    loaded = segment.load(tmp_path, "k1")
    assert loaded is not None
    assert_same_segment(loaded, seg)
    seg.save(tmp_path)  # saving again replaces the file with the same content
    again = segment.load(tmp_path, "k1")
    assert again is not None
    assert_same_segment(again, seg)


def test_every_field_of_the_report_survives(tmp_path: Path) -> None:
    report = Report(
        "r9",
        "2021年工作要点",
        "舟山市普陀区人民政府办公室",
        None,
        "工作要点",
        "sub/r9.txt",
        (Passage("r9-0", ("一、", "（二）政務"), "力爭網上受理率達到90%以上。"),),
        ("普陀区政府办",),
        ("浙江省", "舟山市", "普陀区"),
        "2021-03-01",
        "traditional",
    )
    seg = segment.build("k9", report, Tokenizer())
    seg.save(tmp_path)
    loaded = segment.load(tmp_path, "k9")
    assert loaded is not None
    assert loaded.report == report
    assert_same_segment(loaded, seg)


def test_missing_file_loads_as_none(tmp_path: Path) -> None:
    assert segment.load(tmp_path, "k1") is None
    assert segment.load(tmp_path / "absent", "k1") is None


def test_every_truncation_loads_as_none(seg: Segment, tmp_path: Path) -> None:
    seg.save(tmp_path)
    path = tmp_path / "k1.npz"
    data = path.read_bytes()
    for n in range(0, len(data), 3):
        path.write_bytes(data[:n])
        assert segment.load(tmp_path, "k1") is None, n
    path.write_bytes(data[:-1])
    assert segment.load(tmp_path, "k1") is None


@pytest.mark.parametrize(
    "garbage",
    [b"", b"garbage", b"PK\x03\x04" + b"x" * 60, b"\x93NUMPY" + b"x" * 60, bytes(range(256)) * 4],
)
def test_garbage_loads_as_none(tmp_path: Path, garbage: bytes) -> None:
    (tmp_path / "k1.npz").write_bytes(garbage)
    assert segment.load(tmp_path, "k1") is None


def test_other_npz_files_load_as_none(tmp_path: Path) -> None:
    np.save(tmp_path / "plain.npy", np.arange(3))
    (tmp_path / "plain.npy").rename(tmp_path / "k1.npz")  # an .npy, not an archive
    assert segment.load(tmp_path, "k1") is None
    np.savez(tmp_path / "k2.npz", lengths=np.zeros(1, np.int32))  # no meta
    assert segment.load(tmp_path, "k2") is None


def test_a_file_saved_under_another_key_loads_as_none(seg: Segment, tmp_path: Path) -> None:
    seg.save(tmp_path)
    (tmp_path / "k1.npz").rename(tmp_path / "k2.npz")
    assert segment.load(tmp_path, "k2") is None  # its meta names k1
    assert segment.load(tmp_path, "k1") is None  # and k1's file is gone


def _flip_central_directory(data: bytes, offset: int, mask: int) -> bytes:
    """The archive with one byte of its first central directory entry changed."""
    at = data.index(b"PK\x01\x02") + offset
    return data[:at] + bytes([data[at] ^ mask]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("offset", "mask"),
    [(6, 0xFF), (8, 0x01)],  # version needed to extract; the 'encrypted' flag
    ids=["version", "encrypted"],
)
def test_a_damaged_archive_header_loads_as_none(
    seg: Segment, tmp_path: Path, offset: int, mask: int
) -> None:
    seg.save(tmp_path)
    path = tmp_path / "k1.npz"
    data = path.read_bytes()
    path.write_bytes(_flip_central_directory(data, offset, mask))
    assert segment.load(tmp_path, "k1") is None


# ---------------------------------------------------------------------- keys


def test_segment_key_is_stable_and_tells_bytes_apart() -> None:
    a = segment_key("报告一".encode())
    assert a == segment_key("报告一".encode())
    assert a != segment_key("报告二".encode())
    assert segment_key(b"") != segment_key(b"\x00")
    assert len(a) == 32 and int(a, 16) >= 0


# ---------------------------------------------------------------------- independence


def test_a_segment_does_not_depend_on_other_reports() -> None:
    used = Tokenizer()
    with used.with_words(["上城区发改局"]):  # OTHER's text cut with REPORT's words: different
        assert "上城区发改局" in used.terms(passage_text(OTHER.passages[0]))
    segment.build("k1", REPORT, used)  # REPORT's words added, then removed
    mine = segment.build("k2", OTHER, used)
    fresh = segment.build("k2", OTHER, Tokenizer())
    assert_same_segment(mine, fresh)
    assert "上城区发改局" not in mine.terms
    assert {"城区", "发改局"} <= set(mine.terms)


def test_with_words_leaves_the_frequency_table_exactly_as_before() -> None:
    tok = Tokenizer(["上城区发改局"])
    freq, total = dict(tok._jieba.FREQ), tok._jieba.total
    assert freq["上城区发改局"] == USER_FREQ
    words = ["信用", "上城区发改局", "普陀区政府办", "普陀", "信用建设", "信用建设"]
    with tok.with_words(words):
        assert tok._jieba.FREQ["信用"] == USER_FREQ != freq["信用"]  # a jieba word, raised
        assert tok._jieba.FREQ["普陀区政府办"] == USER_FREQ
        assert tok._jieba.FREQ["普陀区政府"] == 0  # a new prefix, at 0
        assert tok._jieba.total == total  # never raised
    assert freq == tok._jieba.FREQ and tok._jieba.total == total
    assert "普陀区政府办" not in tok._jieba.FREQ and "普陀区政府" not in tok._jieba.FREQ
    segment.build("k1", REPORT, tok)
    assert freq == tok._jieba.FREQ and tok._jieba.total == total


def test_with_words_is_undone_when_the_block_raises() -> None:
    tok = Tokenizer()
    freq = dict(tok._jieba.FREQ)
    with pytest.raises(RuntimeError), tok.with_words(["上城区发改局", "信用"]):
        raise RuntimeError
    assert freq == tok._jieba.FREQ


def test_a_user_word_keeps_a_name_whole_only_inside_with_words() -> None:
    tok = Tokenizer()
    text = "上城区发改局开展信用宣传"
    assert tok.words(text) == ["城区", "发改局", "开展", "信用", "宣传"]
    with tok.with_words(["上城区发改局"]) as inside:
        assert inside is tok
        assert tok.words(text) == ["上城区发改局", "开展", "信用", "宣传"]
        assert tok.words("开展信用宣传") == ["开展", "信用", "宣传"]  # absent: no change
    assert tok.words(text) == ["城区", "发改局", "开展", "信用", "宣传"]
