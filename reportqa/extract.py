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

MAX_BYTES = 20 * 1024 * 1024
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
RATIO_CHECK_MIN_BYTES = 1024 * 1024

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


class ExtractError(ValueError):
    """A file that cannot be read as a report.

    The message names the file and says what is wrong and what to do.
    """


def extract_text(path: Path) -> str:
    """Return the text of a .txt/.text/.md (or extension-less) / .docx / .html / .htm file.

    Line ends are '\\n'; raises ExtractError for anything that is not a readable report.
    """
    path = Path(path)
    name = path.name
    data = _read_limited(path, name)
    suffix = path.suffix.lower()
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
    if not text.strip():
        raise ExtractError(f"{name}: 文件为空（没有可提取的文字），请检查文件内容后重试")
    return text


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


def _read_limited(path: Path, name: str) -> bytes:
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


def _body_blocks(parent: Any) -> Iterator[Any]:
    """Yield w:p and w:tbl elements in body order, looking inside content controls (w:sdt)."""
    for child in parent.iterchildren():
        if child.tag in (_W + "p", _W + "tbl"):
            yield child
        elif child.tag == _W + "sdt":
            for content in child.iterchildren(_W + "sdtContent"):
                yield from _body_blocks(content)


def _docx_text(data: bytes, name: str) -> str:
    """Paragraphs and table rows (cells joined by tabs) of a .docx, in body order."""
    _check_docx_zip(data, name)
    import docx
    from docx.table import Table, _Cell
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        for block in _body_blocks(document.element.body):
            if block.tag == _W + "p":
                lines.append(Paragraph(block, document).text)
            else:
                table = Table(block, document)
                for row in table.rows:  # each real cell once, merged cells not repeated
                    cells = (_Cell(tc, table).text for tc in row._tr.tc_lst)
                    lines.append("\t".join(" ".join(cell.split()) for cell in cells))
    except Exception as exc:  # python-docx/lxml raise many types on malformed input
        raise ExtractError(
            f"{name}: Word 文档内容损坏，无法读取（{type(exc).__name__}），"
            "请用 Word 另存为 .docx 后重试"
        ) from exc
    return _finish("\n".join(lines), name)


def _pdf_text(data: bytes, name: str) -> str:
    """The text layer of a PDF, page by page; a scan without one is refused clearly."""
    if not data.startswith(b"%PDF"):
        raise ExtractError(f"{name}: 不是有效的 PDF 文件，请检查文件后重试")
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractError(f"{name}: PDF 已加密，请提供未加密的文件")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise ExtractError(f"{name}: PDF 超过 {MAX_PDF_PAGES} 页，请拆分后再上传")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ExtractError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
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
    import lxml.html
    from lxml import etree

    source = _XML_DECL.sub("", _decode_html(data, name), count=1)
    try:
        root = lxml.html.document_fromstring(source)
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
    except (etree.LxmlError, ValueError) as exc:
        raise ExtractError(f"{name}: 网页无法解析（{exc}），请用浏览器另存为 .html 后重试") from exc
    return _tidy_lines("".join(parts))


def _squash(text: str | None) -> str:
    """Collapse HTML source whitespace (incl. \\u3000 and \\xa0) to single spaces."""
    return re.sub(r"[\s\u3000\xa0]+", " ", text) if text else ""


def _tidy_lines(text: str) -> str:
    """Strip each line and its tab-separated cells; keep at most one blank line in a row."""
    lines = [
        "\t".join(cell.strip() for cell in line.split("\t")).strip() for line in text.split("\n")
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
