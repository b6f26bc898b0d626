"""Tests for reportqa.extract: encodings, bad input, .docx and saved web pages."""

import io
import random
import zipfile
from pathlib import Path

import pytest

from reportqa import extract
from reportqa.extract import ExtractError, decode_bytes, extract_text


def extract_file(path: Path) -> str:
    """A file's text as `bot.py ingest` extracts it: read within the limits, then its bytes."""
    return extract_text(extract.read_limited(path, path.name), path.name)


TRADITIONAL = "舟山市普陀區人民政府辦公室關於印發年度工作報告的通知\n請各單位認真貫徹執行。\n"
PARAGRAPH = (
    "舟山市普陀區人民政府辦公室\n"
    "舟山市经济和信息化局 2020 年度法治政府建设（依法行政）工作总结\n"
    "2020年，我局在市委、市政府的正确领导下，认真贯彻落实法治政府建设各项部署。\n"
)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("gb18030", b""),
        ("gbk", b""),
        ("utf-16", b""),  # Python writes a BOM in native order
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
    ],
)
def test_encodings_round_trip(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    path = write(tmp_path, "报告.txt", prefix + PARAGRAPH.encode(encoding))
    assert extract_file(path) == PARAGRAPH


def test_big5_traditional(tmp_path: Path) -> None:
    path = write(tmp_path, "報告.txt", TRADITIONAL.encode("big5"))
    assert extract_file(path) == TRADITIONAL


def test_utf16_without_bom_detected_by_nuls() -> None:
    text = "Work report 2020\nLine two\n"
    assert decode_bytes(text.encode("utf-16-le"), "a.txt") == text
    assert decode_bytes(text.encode("utf-16-be"), "a.txt") == text


def test_line_ends_normalised(tmp_path: Path) -> None:
    raw = "第一行\r\n第二行\r第三行\u2028第四行\u2029第五行\r\n"
    path = write(tmp_path, "报告", ("\ufeff" + raw).encode("utf-8"))
    assert extract_file(path) == "第一行\n第二行\n第三行\n第四行\n第五行\n"
    gbk = write(tmp_path, "crlf.txt", PARAGRAPH.replace("\n", "\r\n").encode("gbk"))
    assert extract_file(gbk) == PARAGRAPH


def test_short_gbk_is_not_guessed_as_korean() -> None:
    assert decode_bytes("工作总结".encode("gbk"), "a.txt") == "工作总结"


@pytest.mark.parametrize("content", [b"", b"   \r\n\t \n", "\u3000\u3000\n".encode()])
def test_empty_files(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, "空白.txt", content)
    with pytest.raises(ExtractError, match="空白.txt: 文件为空"):
        extract_file(path)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("noise.txt", random.Random(0).randbytes(4096)),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00"),
        ("archive.txt", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(40)),
        ("noise", random.Random(0).randbytes(4096)),
    ],
)
def test_binary_rejected(tmp_path: Path, name: str, data: bytes) -> None:
    with pytest.raises(ExtractError, match=f"{name}: 不是文本报告"):
        extract_file(write(tmp_path, name, data))


def test_unknown_extension(tmp_path: Path) -> None:
    text_path = write(tmp_path, "报告.log", PARAGRAPH.encode("gb18030"))
    assert extract_file(text_path) == PARAGRAPH
    doc = write(tmp_path, "报告.doc", b"\xd0\xcf\x11\xe0" + random.Random(1).randbytes(2048))
    with pytest.raises(ExtractError, match=r"报告\.doc: 不支持的文件类型.*\.docx"):
        extract_file(doc)


def test_broken_pdf(tmp_path: Path) -> None:
    pdf = write(tmp_path, "报告.pdf", b"%PDF-1.7\n" + random.Random(1).randbytes(2048))
    with pytest.raises(ExtractError, match=r"报告\.pdf: PDF 文件损坏"):
        extract_file(pdf)
    with pytest.raises(ExtractError, match=r"报告\.pdf: 不是有效的 PDF"):
        extract_file(write(tmp_path, "报告.pdf", b"hello"))


def test_too_big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "MAX_BYTES", 100)
    path = write(tmp_path, "大.txt", ("很长的报告" * 50).encode())
    with pytest.raises(ExtractError, match="大.txt: 文件过大"):
        extract_file(path)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match="不存在.txt: 无法读取文件"):
        extract_file(tmp_path / "不存在.txt")
    with pytest.raises(ExtractError, match="不是普通文件"):
        extract_file(tmp_path)


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("2020 年度法治政府建设工作总结", level=1)
    document.add_paragraph("一、主要工作")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([("指标", "完成情况"), ("行政复议", "12 件")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("二、存在问题")
    document.save(str(path))


def test_docx_body_order(tmp_path: Path) -> None:
    path = tmp_path / "总结.docx"
    make_docx(path)
    lines = [line for line in extract_file(path).split("\n") if line]
    assert lines == [
        "2020 年度法治政府建设工作总结",
        "一、主要工作",
        "指标\t完成情况",
        "行政复议\t12 件",
        "二、存在问题",
    ]


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return buffer.getvalue()


def test_docx_zip_bomb_ratio(tmp_path: Path) -> None:
    data = zip_bytes({"word/document.xml": bytes(2 * 1024 * 1024)})
    with pytest.raises(ExtractError, match="x.docx: .*压缩炸弹"):
        extract_file(write(tmp_path, "x.docx", data))


def test_docx_zip_bomb_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "MAX_UNZIPPED_BYTES", 1024 * 1024)
    data = zip_bytes({"word/document.xml": random.Random(2).randbytes(2 * 1024 * 1024)})
    with pytest.raises(ExtractError, match="x.docx: .*压缩炸弹"):
        extract_file(write(tmp_path, "x.docx", data))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (PARAGRAPH.encode(), "不是有效的 .docx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "不是有效的 .docx"),
        (zip_bytes({"hello.txt": b"hi"}), "缺少 word/document.xml"),
        (zip_bytes({"word/document.xml": b"<not xml"}), "Word 文档内容损坏"),
    ],
)
def test_bad_docx(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(ExtractError, match=f"坏.docx: .*{message}"):
        extract_file(write(tmp_path, "坏.docx", data))


PAGE = """<!DOCTYPE html>
<html><head><meta charset="gb2312"><title>标题不要</title>
<style>body { color: red; }</style>
<script>var tracker = "不要脚本";</script></head>
<body>
<nav>首页 &gt; 政务公开 &gt; 工作总结</nav>
<div class="content">
  <h1>舟山市经济和信息化局
      2020 年度法治政府建设工作总结</h1>
  <p>&nbsp;&nbsp;一、主要工作。<b>依法行政</b>取得实效。</p>
  <!-- 注释不要 -->
  <p>\u3000\u3000二、存在问题<br>三、下一步计划</p>
  <table><tr><td>指标</td><td>完成</td></tr></table>
</div>
<script>document.write("不要")</script>
</body></html>
"""


def test_html_gb2312_page(tmp_path: Path) -> None:
    path = write(tmp_path, "page.htm", PAGE.encode("gb18030"))
    text = extract_file(path)
    assert text.split("\n") == [
        "舟山市经济和信息化局 2020 年度法治政府建设工作总结",
        "",
        "一、主要工作。依法行政取得实效。",
        "",
        "二、存在问题",
        "三、下一步计划",
        "",
        "指标\t完成",
    ]
    for unwanted in ("不要", "color", "首页", "标题", "<", ">"):
        assert unwanted not in text


def test_html_utf8_wins_over_wrong_declaration(tmp_path: Path) -> None:
    page = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk">'
    page += "</head><body><p>舟山市普陀區人民政府辦公室</p></body></html>"
    assert extract_file(write(tmp_path, "a.html", page.encode())) == "舟山市普陀區人民政府辦公室"


@pytest.mark.parametrize("data", [b"<html></html>", b"<!-- only a comment -->", b"\x00\x01" * 50])
def test_html_without_text(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ExtractError, match="b.html: "):
        extract_file(write(tmp_path, "b.html", data))
