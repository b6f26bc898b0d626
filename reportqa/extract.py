"""Turn a raw report file (bytes on disk) into plain text with '\\n' line ends.

Supported inputs are plain text (.txt/.text/.md or no extension) in the encodings Chinese
government files actually arrive in (UTF-8 with or without BOM, GB18030/GBK/GB2312, UTF-16,
Big5), Word .docx documents (paragraphs and table rows in body order) and saved web pages
(.html/.htm, with scripts, navigation and other chrome removed). Every problem with the input
-- missing, empty, too large, binary, undecodable, corrupt or a zip bomb -- is reported as an
ExtractError whose Chinese message names the file and tells the user what to do; page debris
that survives as text (breadcrumbs, "打印本页" ...) is left for a later cleaning step.
"""

import codecs
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reportqa.models import ReportQAError

MAX_BYTES = 20 * 1024 * 1024
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
RATIO_CHECK_MIN_BYTES = 1024 * 1024
# What one report may hold once extracted: far above any real report (a provincial work report
# is ~20,000 characters), far below what would take minutes and gigabytes to ingest.
MAX_TEXT_CHARS = 2_000_000
MAX_DOCX_XML_BYTES = 64 * 1024 * 1024  # word/document.xml, uncompressed
MAX_DOCX_BLOCKS = 200_000  # paragraphs and tables in the body
HTML_DEPTH_ERROR = "Excessive depth"  # libxml2 stops at 256 nested elements

TEXT_SUFFIXES = frozenset({"", ".txt", ".text", ".md"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED = ".txt、.docx、.html、.htm、.pdf"
MAX_PDF_PAGES = 500

# UTF-32 BOMs first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Guesses from charset-normalizer we trust; anything else (e.g. cp949 for a short GBK
# text) falls through to strict GB18030. GBK and GB2312 are read as their superset.
_GUESS_MAP = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "big5": "big5",
    "cp950": "cp950",
    "big5hkscs": "big5hkscs",
    "utf_16_le": "utf-16-le",
    "utf_16_be": "utf-16-be",
    "utf_32_le": "utf-32-le",
    "utf_32_be": "utf-32-be",
}
# Control characters other than \t \n \f \r (C0, DEL and C1) mark binary data.
_BAD_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_BAD_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f]")
_NEWLINES = re.compile(r"\r\n|[\r\u2028\u2029]")
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "head",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "button",
    "select",
    "iframe",
)
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "table",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "blockquote",
        "pre",
        "main",
        "body",
        "hr",
        "caption",
        "figure",
        "address",
        "center",
    }
)
_CELL_TAGS = frozenset({"td", "th"})
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class ExtractError(ReportQAError):
    """A file that cannot be read as a report.

    The message names the file and says what is wrong and what to do.
    """


def extract_text(data: bytes, name: str) -> str:
    """The text of a raw report file's bytes: .txt/.text/.md (or extension-less), .docx,
    .html/.htm or .pdf, its kind from the suffix of `name` (which messages also name).

    Line ends are '\n'; raises ExtractError for anything that is not a readable report.
    """
    if len(data) > MAX_BYTES:
        raise ExtractError(_too_big(name, len(data)))
    if not data:
        raise ExtractError(f"{name}: 文件为空，请检查文件内容后重试")
    suffix = Path(name).suffix.lower()
    if suffix == ".docx":
        text = _docx_text(data, name)
    elif suffix == ".pdf":
        text = _pdf_text(data, name)
    elif suffix in HTML_SUFFIXES:
        text = _html_text(data, name)
    elif suffix in TEXT_SUFFIXES:
        text = decode_bytes(data, name)
    else:
        try:
            text = decode_bytes(data, name)
        except ExtractError as exc:
            raise ExtractError(
                f"{name}: 不支持的文件类型“{suffix}”，请使用 {SUPPORTED} 文件"
                "（旧版 Word 请另存为 .docx）"
            ) from exc
    check_length(text, name)
    if not text.strip():
        raise ExtractError(f"{name}: 文件为空（没有可提取的文字），请检查文件内容后重试")
    return text


def check_length(text: str, name: str) -> None:
    """Refuse a text longer than one report can be (MAX_TEXT_CHARS)."""
    if len(text) > MAX_TEXT_CHARS:
        raise ExtractError(_too_long(name))


def _too_long(name: str) -> str:
    return (
        f"{name}: 文字太多（超过 {MAX_TEXT_CHARS // 10000} 万字），不像一份报告；"
        "请拆分成几份后分别导入"
    )


def decode_bytes(data: bytes, name: str) -> str:
    """Decode plain-text bytes of unknown encoding.

    Returns text with '\\n' line ends and no leading BOM; raises ExtractError for bytes that
    are binary or in no recognisable encoding.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _finish(_strict(data, encoding, name), name)
    for encoding in _candidate_encodings(data):
        try:
            return _finish(data.decode(encoding), name)
        except UnicodeDecodeError:
            continue
    if _looks_binary(data):
        raise ExtractError(f"{name}: 不是文本报告（看起来是二进制文件），请提供 {SUPPORTED} 文件")
    raise ExtractError(
        f"{name}: 无法识别文件编码（不是 UTF-8、GB18030 或 UTF-16 文本），请另存为 UTF-8 后重试"
    )


def read_limited(path: Path, name: str) -> bytes:
    """Read at most MAX_BYTES from path, refusing missing, non-regular and oversized files."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ExtractError(f"{name}: 不是普通文件，请选择一个报告文件")
        if size > MAX_BYTES:
            raise ExtractError(_too_big(name, size))
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or exc
        raise ExtractError(f"{name}: 无法读取文件（{reason}），请检查路径和权限") from exc
    if len(data) > MAX_BYTES:
        raise ExtractError(_too_big(name, len(data)))
    if not data:
        raise ExtractError(f"{name}: 文件为空，请检查文件内容后重试")
    return data


def _too_big(name: str, size: int) -> str:
    return (
        f"{name}: 文件过大（{size / 1024 / 1024:.1f} MB，上限 "
        f"{MAX_BYTES / 1024 / 1024:.0f} MB），请拆分后重试"
    )


def _candidate_encodings(data: bytes) -> Iterator[str]:
    """Encodings to try in order for BOM-less bytes (the costly guess only when needed)."""
    utf16 = _utf16_by_nuls(data)
    if utf16:
        yield utf16
    yield "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and best.encoding in _GUESS_MAP:
        yield _GUESS_MAP[best.encoding]
    yield "gb18030"


def _utf16_by_nuls(data: bytes) -> str | None:
    """Spot BOM-less UTF-16 by NUL bytes piling up at odd (LE) or even (BE) positions."""
    if len(data) < 4 or len(data) % 2:
        return None
    half = len(data) // 2
    even, odd = data[0::2].count(0), data[1::2].count(0)
    if odd > 0.3 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.3 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def _strict(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ExtractError(
            f"{name}: 文件声明为 {encoding} 编码但内容有误，请另存为 UTF-8 后重试"
        ) from exc


def _looks_binary(data: bytes) -> bool:
    """Raw-byte version of the control-character test, for bytes no codec accepted."""
    return b"\x00" in data or len(_BAD_CONTROL_BYTES.findall(data)) > 0.01 * len(data)


def _finish(text: str, name: str) -> str:
    """Reject binary-looking text, drop a leading BOM and normalise line ends to '\\n'."""
    if "\x00" in text or len(_BAD_CONTROLS.findall(text)) > 0.01 * len(text):
        raise ExtractError(
            f"{name}: 不是文本报告（含有大量控制字符，可能是二进制文件），请提供 {SUPPORTED} 文件"
        )
    return _NEWLINES.sub("\n", text.removeprefix("\ufeff"))


def _check_docx_zip(data: bytes, name: str) -> None:
    """Refuse non-zip, non-Word and zip-bomb .docx files before any XML is parsed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise ExtractError(
            f"{name}: 不是有效的 .docx 文件（可能是旧版 .doc、加密或已损坏），"
            "请用 Word 另存为 .docx 后重试"
        ) from exc
    if "word/document.xml" not in {member.filename for member in members}:
        raise ExtractError(
            f"{name}: 不是 Word 文档（缺少 word/document.xml），请用 Word 另存为 .docx 后重试"
        )
    bomb = sum(member.file_size for member in members) > MAX_UNZIPPED_BYTES or any(
        member.file_size > RATIO_CHECK_MIN_BYTES
        and member.file_size > MAX_COMPRESSION_RATIO * max(member.compress_size, 1)
        for member in members
    )
    if bomb:
        raise ExtractError(
            f"{name}: 解压后体积异常（疑似压缩炸弹），已拒绝处理；请用 Word 重新保存后重试"
        )


def _docx_text(data: bytes, name: str) -> str:
    """Paragraphs and table rows (cells joined by tabs) of a .docx, in body order.

    word/document.xml is parsed as a stream (python-docx's element classes give each block's
    text), and every block is dropped once read, so memory stays bounded and a document with
    more text than a report can hold is refused as soon as that shows."""
    _check_docx_zip(data, name)
    from docx.oxml.parser import element_class_lookup
    from docx.table import _Cell
    from docx.text.paragraph import Paragraph
    from lxml import etree

    lines: list[str] = []
    chars = blocks = 0
    parser = etree.XMLPullParser(events=("end",), resolve_entities=False, no_network=True)
    parser.set_element_class_lookup(element_class_lookup)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if archive.getinfo("word/document.xml").file_size > MAX_DOCX_XML_BYTES:
                raise ExtractError(_too_long(name))
            with archive.open("word/document.xml") as stream:
                while chunk := stream.read(1 << 16):
                    parser.feed(chunk)
                    for _, element in parser.read_events():
                        if element.tag not in (_W + "p", _W + "tbl") or not _in_body(element):
                            continue
                        start = len(lines)
                        if element.tag == _W + "p":
                            lines.append(Paragraph(element, None).text)  # type: ignore[arg-type]
                        else:  # each real cell once, merged cells not repeated
                            for tr in element.tr_lst:
                                cells = (_Cell(tc, None).text for tc in tr.tc_lst)  # type: ignore[arg-type]
                                lines.append("\t".join(" ".join(cell.split()) for cell in cells))
                        chars += sum(len(line) + 1 for line in lines[start:])
                        blocks += 1
                        if chars > MAX_TEXT_CHARS or blocks > MAX_DOCX_BLOCKS:
                            raise ExtractError(_too_long(name))
                        _drop_read(element)
            parser.close()
    except ExtractError:
        raise
    except Exception as exc:  # python-docx/lxml/zipfile raise many types on malformed input
        raise ExtractError(
            f"{name}: Word 文档内容损坏，无法读取（{type(exc).__name__}），"
            "请用 Word 另存为 .docx 后重试"
        ) from exc
    return _finish("\n".join(lines), name)


def _in_body(element: Any) -> bool:
    """A block of the body itself, or of a content control (w:sdt) there: not a paragraph
    inside a table cell, a text box or a footnote."""
    parent = element.getparent()
    while parent is not None and parent.tag in (_W + "sdtContent", _W + "sdt"):
        parent = parent.getparent()
    return parent is not None and parent.tag == _W + "body"


def _drop_read(element: Any) -> None:
    """Free a block that has been read, and the ones before it."""
    element.clear()
    parent = element.getparent()
    while element.getprevious() is not None:
        del parent[0]


def _pdf_text(data: bytes, name: str) -> str:
    """The text layer of a PDF, page by page; a scan without one is refused clearly, and so is
    one whose streams inflate beyond pypdf's limits or whose text outgrows a report."""
    if not data.startswith(b"%PDF"):
        raise ExtractError(f"{name}: 不是有效的 PDF 文件，请检查文件后重试")
    import pypdf
    from pypdf.errors import LimitReachedError

    pages: list[str] = []
    chars = 0
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractError(f"{name}: PDF 已加密，请提供未加密的文件")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise ExtractError(f"{name}: PDF 超过 {MAX_PDF_PAGES} 页，请拆分后再上传")
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            chars += len(pages[-1]) + 1
            if chars > MAX_TEXT_CHARS:
                raise ExtractError(_too_long(name))
    except ExtractError:
        raise
    except LimitReachedError as exc:
        raise ExtractError(
            f"{name}: PDF 内容解压后超出处理上限（疑似压缩炸弹），已拒绝处理；"
            "请另存为普通 PDF 或 .docx/.txt 后重试"
        ) from exc
    except Exception as exc:  # pypdf raises many types on malformed input
        raise ExtractError(f"{name}: PDF 文件损坏，无法读取（{type(exc).__name__}）") from exc
    text = "\n".join(pages)
    if len("".join(text.split())) < 20:
        raise ExtractError(
            f"{name}: PDF 没有文字层（可能是扫描件），请提供带文字的 PDF 或 .docx/.txt 文件"
        )
    return _finish(text, name)


def _decode_html(data: bytes, name: str) -> str:
    """Decode a saved page: BOM, then UTF-8, then its declared charset, then guessing."""
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return decode_bytes(data, name)
    try:
        return _finish(data.decode("utf-8"), name)
    except UnicodeDecodeError:
        pass
    match = _META_CHARSET.search(data[:8192])
    if match:
        declared = match.group(1).decode("ascii").lower().removeprefix("x-")
        try:
            encoding = codecs.lookup(declared).name
            encoding = "gb18030" if encoding in {"gb2312", "gbk"} else encoding
            return _finish(data.decode(encoding), name)
        except (UnicodeDecodeError, LookupError):
            pass
    return decode_bytes(data, name)


def _html_text(data: bytes, name: str) -> str:
    """Visible text of a saved web page, one block element per line, table cells tab-separated."""
    from lxml import etree

    source = _XML_DECL.sub("", _decode_html(data, name), count=1)
    try:
        root = _parse_html(source, name)
        for element in root.xpath(
            "//comment() | //processing-instruction() | "
            + " | ".join(f"//{tag}" for tag in _DROP_TAGS)
        ):
            if element.getparent() is not None:
                element.drop_tree()
        parts: list[str] = []
        for event, element in etree.iterwalk(root, events=("start", "end")):
            tag = element.tag if isinstance(element.tag, str) else ""
            if event == "start":
                parts.append("\n" if tag in _BLOCK_TAGS or tag == "br" else "")
                parts.append(_squash(element.text) if tag else "")
            else:
                parts.append("\n" if tag in _BLOCK_TAGS else "\t" if tag in _CELL_TAGS else "")
                parts.append(_squash(element.tail) if element is not root else "")
    except ExtractError:
        raise
    except (etree.LxmlError, ValueError) as exc:
        raise ExtractError(f"{name}: 网页无法解析（{exc}），请用浏览器另存为 .html 后重试") from exc
    return _tidy_lines("".join(parts))


def _parse_html(source: str, name: str) -> Any:
    """The page's tree. libxml2 stops reading at 256 nested elements (and the rest of the page
    would be lost without a word): such a page is read again with the deeper limit
    (2048), and refused clearly if even that is exceeded."""
    import lxml.html

    for huge in (False, True):
        parser = lxml.html.HTMLParser(huge_tree=huge, no_network=True)
        root = lxml.html.document_fromstring(source, parser=parser)
        if not any(HTML_DEPTH_ERROR in e.message for e in parser.error_log):
            return root
    raise ExtractError(
        f"{name}: 网页的标签嵌套过深（超过 2048 层），无法完整提取正文；"
        "请在浏览器中另存为纯文本 .txt 或复制正文后重试"
    )


def _squash(text: str | None) -> str:
    """Collapse HTML source whitespace (incl. \\u3000 and \\xa0) to single spaces."""
    return re.sub(r"[\s\u3000\xa0]+", " ", text) if text else ""


def _tidy_lines(text: str) -> str:
    """Strip each line and its tab-separated cells; keep at most one blank line in a row."""
    lines = [
        "\t".join(cell.strip() for cell in line.split("\t")).strip() for line in text.split("\n")
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
