"""The faults an independent probe found in the admin and start-up paths (issue 8), each
played as the probe played it: a crash half way through a change, then the read-only
commands; a file name too long for the file system; `ingest manifest.yaml`; a report claiming
another's raw file; PDF, docx and HTML bombs; a name with a line break; an undetectable agency.

Every knowledge folder is a private copy; the command line runs as a real subprocess.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from conftest import ROOT_DIR, RunCli, snapshot
from filelock import FileLock

from reportqa.extract import MAX_TEXT_CHARS, ExtractError, extract_text
from reportqa.ingest import IngestFailed
from reportqa.kb import changes, schema, validate
from reportqa.kb.repository import ChangeFailed, ChangeRejected, Repository
from reportqa.sandbox import LimitExceeded, Sandbox

R000 = "000_e1829581f26616c9"
R001 = "001_f16e45e6654d40b6"  # the one report with flags in sources/manifest.yaml
R004 = "004_44d86d126aed4ddd"
REPORT = """\
宁波市财政局2021年法治政府建设工作总结
2021年，宁波市财政局坚持以习近平法治思想为指导，全面推进依法理财，法治政府建设取得新成效。
一、主要工作及成效
（一）加强组织领导
成立法治政府建设工作领导小组，召开专题会议6次，研究部署法治建设重点任务15项。
（二）推进依法行政
全年审查规范性文件12件，合法性审查率达到100%，办理行政复议案件3件。
"""
NO_AGENCY = """\
2021年度工作总结
一、主要工作
今年共召开专题会议6次，研究部署重点任务15项，审查规范性文件12件。
二、下一步打算
继续推进各项工作，力争取得新成效。
"""


class Crash(Exception):
    """The process dies at this checkpoint."""


def _die_at(step: str):  # type: ignore[no-untyped-def]
    def checkpoint(name: str) -> None:
        if name == step:
            raise Crash(name)

    return checkpoint


def _env(folder: Path) -> dict[str, str]:
    return {"KNOWLEDGE_DIR": str(folder)}


def _half_removed(folder: Path) -> None:
    """The probe's SIGKILL in the middle of `remove`: the report file is gone, the fact that
    cites it is still in facts.yaml (the process died between the two writes)."""
    changes.add_fact(Repository(folder), "上城区发改局的问题？", "答案", R004, "setup")
    with pytest.raises(Crash):
        changes.remove_report(
            Repository(folder, checkpoint=_die_at(f"after-write:reports/{R004}.yaml")),
            R004,
            "shell",
        )
    assert not (folder / "reports" / f"{R004}.yaml").exists()
    assert R004 in (folder / "facts.yaml").read_text(encoding="utf-8")


# ================================================================ 1. readers after a crash


def test_read_only_commands_after_a_crash_in_the_middle_of_remove(
    kb_copy: Path, run_cli: RunCli
) -> None:
    _half_removed(kb_copy)
    validate = run_cli("validate", env=_env(kb_copy))
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "ok: 5 reports" in validate.stdout
    reports = run_cli("reports", "--json", env=_env(kb_copy))
    assert reports.returncode == 0, reports.stderr
    assert R004 in {r["report_id"] for r in json.loads(reports.stdout)}
    asked = run_cli("ask", "--json", "上城区发改局2020年开展了哪些工作？", env=_env(kb_copy))
    assert asked.returncode == 0, asked.stderr
    facts = run_cli("facts", "list", "--json", env=_env(kb_copy))
    assert facts.returncode == 0 and "上城区发改局的问题？" in facts.stdout
    # the first reader could take the lock, so it rolled the crashed change back for good
    assert (kb_copy / "reports" / f"{R004}.yaml").exists()
    assert [e.status for e in Repository(kb_copy).entries()][-1] == "rolled-back"


def test_readers_read_around_a_change_while_its_writer_holds_the_lock(
    kb_copy: Path, run_cli: RunCli
) -> None:
    """While the lock is held (a writer alive, or one that cannot be told from it), readers
    must not wait or repair: they read the previous bytes the pending entry keeps."""
    _half_removed(kb_copy)
    before = snapshot(kb_copy, history=True)
    with FileLock(str(kb_copy / ".lock")):
        validate = run_cli("validate", env=_env(kb_copy))
        reports = run_cli("reports", "--json", env=_env(kb_copy))
        asked = run_cli("ask", "--json", "上城区发改局2020年开展了哪些工作？", env=_env(kb_copy))
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert R004 in {r["report_id"] for r in json.loads(reports.stdout)}
    assert asked.returncode == 0 and json.loads(asked.stdout)["results"], asked.stderr
    assert snapshot(kb_copy, history=True) == before  # nothing was touched


def test_snapshot_of_a_read_only_folder_with_a_pending_change(kb_copy: Path) -> None:
    _half_removed(kb_copy)
    repo = Repository(kb_copy)
    with FileLock(str(kb_copy / ".lock")):  # as good as a folder we may not write
        files = repo.snapshot(manifest=True)
    kb, problems = validate.check(kb_copy, overlay=dict(files), exact=True)
    assert problems == [] and kb is not None
    assert R004 in {r.report_id for r in kb.reports}
    assert any(f.report_id == R004 for f in kb.facts)


# ================================================================ 2. names bounded in bytes


def test_a_244_byte_file_name_is_ingested_under_a_bounded_name(
    kb_copy: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    name = "宁波市财政局" * 13 + "总结.txt"  # 244 bytes in UTF-8
    assert len(name.encode()) == 244
    path = tmp_path / name
    path.write_text(REPORT, encoding="utf-8")
    done = run_cli("ingest", str(path), env=_env(kb_copy))
    assert done.returncode == 0, done.stderr
    sources = [p.name for p in (kb_copy / "sources").iterdir()]
    kept = [n for n in sources if n.startswith("宁波市财政局")]
    assert len(kept) == 1 and len(kept[0].encode()) <= schema.MAX_NAME_BYTES
    assert kept[0].endswith(".txt")
    listed = json.loads(run_cli("reports", "--json", env=_env(kb_copy)).stdout)
    assert kept[0] in {r["source_file"] for r in listed}
    # the next change keeps the report (nothing half-saved to roll back)
    changes.add_fact(Repository(kb_copy), "问题？", "答案", R000, "t")
    assert len(validate.load(kb_copy).reports) == 6
    assert [e.status for e in Repository(kb_copy).entries()] == ["done", "done"]


def test_long_names_stay_distinct_and_bounded() -> None:
    a = changes.safe_name("报告" * 60 + "甲.docx")
    b = changes.safe_name("报告" * 60 + "乙.docx")
    assert a != b
    assert a.endswith(".docx") and b.endswith(".docx")
    assert max(len(a.encode()), len(b.encode())) <= schema.MAX_NAME_BYTES
    assert changes.safe_name("x" * 400).endswith(".txt")


def test_a_name_the_file_system_refuses_changes_nothing(kb_copy: Path) -> None:
    before = snapshot(kb_copy, history=True)
    writes = {"facts.yaml": b"facts: []\n", f"sources/{'长' * 100}.txt": b"x"}  # 300 bytes
    with pytest.raises(ChangeFailed, match="没有任何改动"):
        Repository(kb_copy).change("t", "test", "t", lambda r: writes)
    assert snapshot(kb_copy, history=True) == before
    changes.add_fact(Repository(kb_copy), "问题？", "答案", R000, "t")  # the next one works
    assert [e.status for e in Repository(kb_copy).entries()] == ["done"]


def test_a_write_that_fails_half_way_is_rolled_back_at_once(kb_copy: Path) -> None:
    """A failed write (here: the disk fills up after the first of two files) is no crash: it
    is undone at once and said, never left for the next change to roll back without a
    word."""
    _half_removed_setup = changes.add_fact(Repository(kb_copy), "问题？", "答案", R004, "t")
    assert _half_removed_setup
    before = snapshot(kb_copy)

    def disk_full(step: str) -> None:
        if step == f"after-write:reports/{R004}.yaml":
            raise OSError(28, "No space left on device")

    with pytest.raises(ChangeFailed, match="已撤回"):
        changes.remove_report(Repository(kb_copy, checkpoint=disk_full), R004, "t")
    assert snapshot(kb_copy) == before
    assert [e.status for e in Repository(kb_copy).entries()] == ["done", "rolled-back"]
    assert Repository(kb_copy).audit()[-1]["outcome"] == "rolled-back"


# ================================================================ 3. the folder's bookkeeping


def test_ingest_of_the_manifest_never_overwrites_it(kb_copy: Path, run_cli: RunCli) -> None:
    manifest = kb_copy / "sources" / "manifest.yaml"
    before = manifest.read_bytes()
    done = run_cli("ingest", str(manifest), env=_env(kb_copy))
    assert done.returncode == 1
    assert "不是有效的知识库报告 YAML" in done.stderr
    assert manifest.read_bytes() == before
    # a text report that happens to be called manifest.yaml.txt is just a report
    other = kb_copy.parent / "manifest.yaml.txt"
    other.write_text(REPORT, encoding="utf-8")
    assert run_cli("ingest", str(other), env=_env(kb_copy)).returncode == 0
    assert run_cli("rebuild", env=_env(kb_copy)).returncode == 0
    assert changes.safe_name("manifest.yaml") != "manifest.yaml"


def test_validate_checks_the_manifest(kb_copy: Path, run_cli: RunCli) -> None:
    manifest = kb_copy / "sources" / "manifest.yaml"
    manifest.write_text("files:\n  a.txt:\n    year: soon\n    colour: red\n", encoding="utf-8")
    done = run_cli("validate", env=_env(kb_copy))
    assert done.returncode == 1
    assert f"{manifest}:3: bad year 'soon' for a.txt" in done.stdout
    assert f"{manifest}:4: unknown key 'colour'" in done.stdout
    manifest.write_text("宁波市财政局2021年法治政府建设工作总结\n一、主要工作\n", encoding="utf-8")
    assert run_cli("validate", env=_env(kb_copy)).returncode == 1


# ================================================================ 4. a raw file has one owner


def _yaml_claiming(kb: Path, source_file: str, report_id: str = "claimer") -> bytes:
    report = validate.load(kb).reports[0]
    text = schema.dump_report(report)
    text = text.replace(f"source_file: {report.source_file}", f"source_file: {source_file}")
    return text.replace(report.report_id, report_id).encode()


def test_a_yaml_upload_cannot_claim_another_reports_raw_file(kb_copy: Path) -> None:
    other = validate.load(kb_copy).reports[1]
    prepared = changes.prepare_upload(_yaml_claiming(kb_copy, other.source_file), "c.yaml", kb_copy)
    before = snapshot(kb_copy)
    with pytest.raises(ChangeRejected, match="already the raw file of report"):
        changes.save_report(Repository(kb_copy), prepared, "t")
    assert snapshot(kb_copy) == before


@pytest.mark.parametrize("name", ["manifest.yaml", "a\nb.txt", "a\u2028b.txt", "x" * 200])
def test_source_file_names_that_cannot_be_raw_files(kb_copy: Path, name: str) -> None:
    data = _yaml_claiming(kb_copy, json.dumps(name), "claimer")
    with pytest.raises(IngestFailed, match="source_file"):
        changes.prepare_upload(data, "c.yaml", kb_copy)


def test_removal_deletes_only_what_the_removed_report_owns(kb_copy: Path, run_cli: RunCli) -> None:
    """An old folder (written before the check) where a second report claims R001's raw file:
    validate names the double claim, and removing the claimer keeps R001's raw file and flags,
    so a rebuild still re-creates R001."""
    other = next(r for r in validate.load(kb_copy).reports if r.report_id == R001)
    claimer = _yaml_claiming(kb_copy, other.source_file)
    (kb_copy / "reports" / "claimer.yaml").write_bytes(claimer)
    done = run_cli("validate", env=_env(kb_copy))
    assert done.returncode == 1 and "is already the raw file of report" in done.stdout
    raw = kb_copy / "sources" / other.source_file
    manifest = kb_copy / "sources" / "manifest.yaml"
    before = raw.read_bytes(), manifest.read_bytes()
    changes.remove_report(Repository(kb_copy), "claimer", "t")
    assert (raw.read_bytes(), manifest.read_bytes()) == before
    rebuilt = run_cli("rebuild", env=_env(kb_copy))
    assert rebuilt.returncode == 0 and f"{R001}:" in rebuilt.stderr, rebuilt.stderr
    changes.remove_report(Repository(kb_copy), R001, "t")  # its owner takes it along
    assert not raw.exists() and other.source_file not in manifest.read_text(encoding="utf-8")


# ================================================================ 5-6. hostile files


def _stream(data: bytes, flate: bool = True) -> bytes:
    packed = zlib.compress(data, 9) if flate else data
    kind = b" /Filter /FlateDecode" if flate else b""
    return b"<< /Length %d%s >>\nstream\n" % (len(packed), kind) + packed + b"\nendstream"


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF of these objects (1 0 R is the catalog), with a correct cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def _pdf_bomb() -> bytes:
    """A page whose font's ToUnicode map is ~100 KB that inflate to 100 MB (pypdf stops at
    75 MB with LimitReachedError, which its text extraction lets escape)."""
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            _stream(b"BT /F1 12 Tf 72 700 Td (hello world) Tj ET", flate=False),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
            _stream(b" " * 100_000_000),
        ]
    )


def test_a_pdf_stream_that_inflates_beyond_the_limit_is_a_clear_message() -> None:
    bomb = _pdf_bomb()
    assert len(bomb) < 1_000_000
    with pytest.raises(ExtractError, match="疑似压缩炸弹"):
        extract_text(bomb, "bomb.pdf")


def _docx(document_xml_chunks, path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A .docx whose word/document.xml is written chunk by chunk (never whole in memory)."""
    head = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(head.encode())
            for chunk in document_xml_chunks:
                f.write(chunk)
            f.write(b"</w:body></w:document>")
    return path


def _paragraphs(total_bytes: int):  # type: ignore[no-untyped-def]
    """Paragraphs of report-like text with a random number in each (so they compress about
    as well as the probe's: below the zip-bomb ratio)."""
    rng = random.Random(8)
    sentence = "全年组织开展法治教育进校园活动{}场次，覆盖全市中小学生人次，聘任法治副校长。"
    written = 0
    while written < total_bytes:
        block = "".join(
            f"<w:p><w:r><w:t>{sentence.format(rng.randint(0, 999999))}</w:t></w:r></w:p>"
            for _ in range(2000)
        ).encode()
        written += len(block)
        yield block


def _peak_rss_mb(args: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    """Run `python bot.py *args` from a fresh parent: (exit code, stderr, peak RSS in MB of the
    largest process it started, the sandbox included)."""
    probe = (
        "import json, resource, subprocess, sys\n"
        "p = subprocess.run([sys.executable, 'bot.py', *sys.argv[1:]], capture_output=True,"
        " text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps([p.returncode, p.stderr, peak]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        cwd=ROOT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    code, stderr, peak = json.loads(done.stdout)
    return code, stderr, peak


@pytest.mark.parametrize("size_mb", [190, 60])
def test_a_docx_that_unzips_to_a_huge_document_is_refused_in_bounded_memory(
    kb_copy: Path, tmp_path: Path, size_mb: int
) -> None:
    """190 MB: the probe's docx (below the zip-bomb ratio and size limits), refused from the
    zip's own directory; 60 MB: read as a stream until its text outgrows a report."""
    path = _docx(_paragraphs(size_mb * 1024 * 1024), tmp_path / "bomb.docx")
    assert path.stat().st_size < 20 * 1024 * 1024
    env = {k: v for k, v in __import__("os").environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env.update(_env(kb_copy))
    before = snapshot(kb_copy, history=True)
    code, stderr, peak = _peak_rss_mb(["ingest", str(path)], env)
    assert code == 1
    assert "文字太多" in stderr and "Traceback" not in stderr, stderr
    assert peak < 600, f"peak RSS {peak:.0f} MB"
    assert snapshot(kb_copy, history=True) == before
    assert validate.check(kb_copy)[1] == []
    changes.add_fact(Repository(kb_copy), "问题？", "答案", R000, "t")  # the next change works


def test_text_longer_than_a_report_is_refused() -> None:
    with pytest.raises(ExtractError, match="文字太多"):
        extract_text(("报告正文。" * (MAX_TEXT_CHARS // 5 + 1)).encode(), "big.txt")


def test_deeply_nested_html_says_what_is_wrong() -> None:
    page = "<html><body>" + "<div>" * 1_000_000 + "正文" + "</div>" * 1_000_000 + "</body></html>"
    assert len(page) > 10_000_000
    with pytest.raises(ExtractError, match="嵌套过深"):
        extract_text(page.encode(), "deep.html")


def test_html_nested_a_little_too_deep_for_libxml2_is_read_whole() -> None:
    page = "<html><body>" + "<div>" * 400 + "深处的正文" + "</div>" * 400 + "<p>结尾段落</p>"
    assert extract_text(page.encode(), "a.html").split() == ["深处的正文", "结尾段落"]


def test_streamed_docx_keeps_body_order_tables_and_content_controls(tmp_path: Path) -> None:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = (
        "<w:p><w:r><w:t>标题</w:t></w:r></w:p>"
        "<w:sdt><w:sdtContent><w:p><w:r><w:t>控件里的段落</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>甲</w:t></w:r></w:p></w:tc>"
        "<w:tc><w:p><w:r><w:t>乙  丙</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
        "<w:p><w:r><w:t>结尾</w:t><w:tab/><w:t>段</w:t></w:r></w:p>"
    )
    xml = f"<w:document {w}><w:body>{body}</w:body></w:document>"
    path = tmp_path / "a.docx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", xml)
    assert extract_text(path.read_bytes(), "a.docx") == "标题\n控件里的段落\n甲\t乙 丙\n结尾\t段"


# ================================================================ the sandbox


def _sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


def _allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def _fail() -> None:
    raise IngestFailed("x.txt: 没有找到正文段落")


def test_sandbox_time_limit_kills_the_job_and_the_next_job_runs() -> None:
    sandbox = Sandbox(time_limit=1.0)
    try:
        with pytest.raises(LimitExceeded, match="处理超时"):
            sandbox.run(_sleep, 30)
        assert sandbox.run(_sleep, 0) == "slept"
    finally:
        sandbox.close()


def test_sandbox_memory_limit_and_errors_come_back_as_they_were() -> None:
    sandbox = Sandbox(memory_limit=600 * 1024 * 1024)
    try:
        with pytest.raises(LimitExceeded, match="内存上限"):
            sandbox.run(_allocate, 2000)
        assert sandbox.run(_allocate, 10) == 10 * 1024 * 1024
        with pytest.raises(IngestFailed, match="没有找到正文段落"):
            sandbox.run(_fail)
    finally:
        sandbox.close()


def test_closing_the_sandbox_ends_a_running_job_at_once() -> None:
    import threading

    sandbox = Sandbox(time_limit=60)
    sandbox.start()
    errors: list[BaseException] = []

    def job() -> None:
        try:
            sandbox.run(_sleep, 30)
        except LimitExceeded as e:
            errors.append(e)

    thread = threading.Thread(target=job)
    thread.start()
    time.sleep(0.5)
    sandbox.close()
    thread.join(10)
    assert not thread.is_alive()
    assert errors and "已停止处理" in str(errors[0])


# ================================================================ also


def test_ingest_of_a_report_with_no_detectable_agency_names_the_flag(
    kb_copy: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    """Stored with the agency unknown (never refused for it), the flag to give named, and
    answerable, cited by its title."""
    path = tmp_path / "summary.txt"
    path.write_text(NO_AGENCY, encoding="utf-8")
    done = run_cli("ingest", str(path), env=_env(kb_copy))
    assert done.returncode == 0, done.stderr
    assert "未能识别 agency" in done.stderr and "--agency" in done.stderr
    asked = run_cli("ask", "审查规范性文件多少件？", env=_env(kb_copy))
    assert "《2021年度工作总结》" in asked.stdout and "12件" in asked.stdout, asked.stdout
    flagged = run_cli("ingest", str(path), "--agency", "宁波市财政局", env=_env(kb_copy))
    assert flagged.returncode == 0, flagged.stderr
    assert "宁波市财政局" in run_cli("reports", env=_env(kb_copy)).stdout


def test_history_is_paged(kb_copy: Path, run_cli: RunCli) -> None:
    for n in range(12):
        changes.add_fact(Repository(kb_copy), f"第{n}个问题？", "答案", R000, "t")
    first = run_cli("history", "--limit", "5", env=_env(kb_copy))
    assert [line.split("\t")[0] for line in first.stdout.splitlines()] == [
        "#8",
        "#9",
        "#10",
        "#11",
        "#12",
    ]
    assert "第 1/3 页，共 12 条" in first.stderr and "--page 2" in first.stderr
    third = run_cli("history", "--limit", "5", "--page", "3", env=_env(kb_copy))
    assert [line.split("\t")[0] for line in third.stdout.splitlines()] == ["#1", "#2"]
    everything = run_cli("history", "--all", env=_env(kb_copy))
    assert len(everything.stdout.splitlines()) == 12
    beyond = run_cli("history", "--limit", "5", "--page", "4", env=_env(kb_copy))
    assert beyond.returncode == 1 and "没有第 4 页" in beyond.stderr


def test_extraction_errors_never_escape_as_tracebacks(kb_copy: Path, tmp_path: Path) -> None:
    """Every ingest failure is a ReportQAError with the file's name first."""
    cases = {
        "a.pdf": _pdf_bomb(),
        "b.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 40,
        "c.docx": b"PK\x03\x04" + b"\0" * 100,
        "d.html": ("<html><body>" + "<b>" * 100_000 + "</body></html>").encode(),
    }
    for name, data in cases.items():
        with pytest.raises(IngestFailed) as e:
            changes.prepare_upload(data, name, kb_copy)
        assert str(e.value).startswith(name), str(e.value)
