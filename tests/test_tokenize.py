"""tokenize.py: jieba words with the knowledge base's own dictionary, plus character bigrams."""

from __future__ import annotations

from reportqa.tokenize import BIGRAM, STOPWORDS, Tokenizer, bigrams, user_words_from


def test_bigrams_of_each_chinese_run() -> None:
    assert bigrams("上城区 ab") == [f"{BIGRAM}上城", f"{BIGRAM}城区"]
    assert bigrams("法治，政府") == [f"{BIGRAM}法治", f"{BIGRAM}政府"]
    assert bigrams("a") == []


def test_user_words_keep_an_agency_name_whole() -> None:
    plain = Tokenizer()
    assert "上城区发改局" not in plain.words("上城区发改局开展了信用宣传")
    tok = Tokenizer(["上城区发改局"])
    assert tok.words("上城区发改局开展了信用宣传") == ["上城区发改局", "开展", "信用", "宣传"]


def test_words_drop_particles_and_question_words() -> None:
    words = Tokenizer().words("一共开展了多少次学法活动呢？")
    assert "了" not in words and "多少" not in words and "呢" not in words
    assert {"开展", "学法", "活动"} <= set(words)
    assert {"了", "多少", "呢"} <= STOPWORDS


def test_terms_are_words_then_bigrams() -> None:
    assert Tokenizer().terms("法治政府") == ["法治", "政府", "_法治", "_治政", "_政府"]


def test_spans_cover_the_text_exactly() -> None:
    text = "舟山市科技局2020年"
    spans = Tokenizer().spans(text)
    assert "".join(t for _, _, t in spans) == text
    assert all(text[a:b] == t for a, b, t in spans)


def test_user_words_from_quoted_titles_and_terms() -> None:
    words = user_words_from(
        ["《舟山市数字经济促进条例》发布", "“最多跑一次”改革"], ["上城区发改局"]
    )
    assert words == {"舟山市数字经济促进条例", "最多跑一次", "上城区发改局"}


def test_name_like_words() -> None:
    tok = Tokenizer()
    assert "王建国" in tok.name_like("由副局长王建国担任组长")
    assert tok.name_like("由局长任组长、分管领导任副组长") == []
