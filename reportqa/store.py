"""The YAML knowledge base on disk: schema, validation with file:line errors, atomic writes.

Layout under the knowledge folder: `reports/<report-id>.yaml` (one report each),
`facts.yaml` (curated question/answer pairs) and `sources/` (the raw texts, so the knowledge
base can be rebuilt). YAML is only ever read with PyYAML's C safe loader; anchors and aliases
are refused, so a file cannot expand into something huge. Every problem is reported as
`path:line: message`, and writes go to a temporary file that is fsynced and renamed, so a
reader never sees half a file.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reportqa.models import Fact, KnowledgeBase, Passage, Report, ReportQAError

try:  # the C loader is an order of magnitude faster; PyYAML without libyaml still works
    _Loader: Any = yaml.CSafeLoader
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader
    _Dumper = yaml.SafeDumper

REPORT_KEYS = {
    "report_id": True,
    "title": True,
    "agency": True,
    "year": True,
    "doc_type": True,
    "source_file": True,
    "passages": True,
    "agency_short": False,
    "region": False,
    "published": False,
    "script": False,
}
PASSAGE_KEYS = {"id": True, "section": False, "text": True}
FACT_KEYS = {
    "id": True,
    "question": True,
    "answer": True,
    "report_id": True,
    "alternatives": False,
    "section": False,
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
MANIFEST = "manifest.yaml"  # sources/manifest.yaml: the folder's own bookkeeping, never a raw file
MANIFEST_REL = f"sources/{MANIFEST}"
MANIFEST_FLAGS = {"agency": str, "year": int, "title": str, "doc_type": str, "report_id": str}
# A file name becomes a path component (sources/<name>, and .<name>.<random>.tmp beside it while
# it is written); Linux allows 255 bytes, so names are bounded in bytes with room to spare.
MAX_NAME_BYTES = 150
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class KnowledgeError(ReportQAError):
    """The knowledge base on disk has problems; each names file and line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        shown = [str(p) for p in self.problems[:20]]
        if len(self.problems) > 20:
            shown.append(f"… and {len(self.problems) - 20} more problem(s)")
        super().__init__("\n".join(shown))


# ---------------------------------------------------------------- reading


def report_files(folder: Path) -> list[Path]:
    return sorted((folder / "reports").glob("*.yaml")) if (folder / "reports").is_dir() else []


def is_knowledge_file(rel: str, manifest: bool = False) -> bool:
    """Whether `rel` (a path relative to the folder) is one of the files knowledge_files()
    reads."""
    if rel == "facts.yaml" or (manifest and rel == MANIFEST_REL):
        return True
    return rel.startswith("reports/") and rel.endswith(".yaml") and rel.count("/") == 1


def knowledge_files(folder: Path, manifest: bool = False) -> dict[str, bytes]:
    """relative path -> bytes of every knowledge file (reports/*.yaml, facts.yaml, and with
    `manifest` sources/manifest.yaml), each read once: a hash and a parse of them must see
    the same bytes."""
    paths = [*report_files(folder), folder / "facts.yaml"]
    if manifest:
        paths.append(folder / MANIFEST_REL)
    files: dict[str, bytes] = {}
    for path in paths:
        try:
            files[path.relative_to(folder).as_posix()] = path.read_bytes()
        except FileNotFoundError:
            continue
    return files


def read_text(path: Path, problems: list[Problem], data: bytes | None = None) -> str | None:
    """The file (or `data` given for it) as UTF-8 text, or None with a problem naming the
    line of the first bad byte."""
    try:
        if data is None:
            data = path.read_bytes()
    except OSError as e:
        problems.append(Problem(str(path), 0, f"cannot read file: {e.strerror}"))
        return None
    if len(data) > MAX_FILE_BYTES:
        problems.append(Problem(str(path), 0, f"file larger than {MAX_FILE_BYTES} bytes"))
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        problems.append(Problem(str(path), line, "broken UTF-8 (the file must be UTF-8)"))
        return None


def _compose(text: str, path: str, problems: list[Problem]) -> yaml.Node | None:
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = event.start_mark.line + 1
                problems.append(Problem(path, line, "YAML anchors and aliases are not allowed"))
                return None
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        problems.append(Problem(path, line, f"invalid YAML: {e.problem or e}"))
    except yaml.reader.ReaderError as e:  # a control character the YAML reader refuses
        line = text[: e.position].count("\n") + 1
        code = e.character if isinstance(e.character, int) else ord(e.character)
        problems.append(Problem(path, line, f"invalid YAML: control character U+{code:04X}"))
    except yaml.YAMLError as e:
        problems.append(Problem(path, 0, f"invalid YAML: {e}"))
    return None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping(
    node: yaml.Node, path: str, what: str, problems: list[Problem], keys: dict[str, bool]
) -> dict[str, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(path, _line(node), f"{what} must be a mapping"))
        return None
    out: dict[str, yaml.Node] = {}
    for k, v in node.value:
        key = k.value if isinstance(k, yaml.ScalarNode) else None
        if key not in keys:
            problems.append(Problem(path, _line(k), f"unknown key {key!r} in {what}"))
            continue
        if key in out:
            problems.append(Problem(path, _line(k), f"duplicate key {key!r} in {what}"))
        out[key] = v
    for key, required in keys.items():
        if required and key not in out:
            problems.append(Problem(path, _line(node), f"missing {key} in {what}"))
    return out


def _str(
    node: yaml.Node | None, path: str, what: str, problems: list[Problem], allow_empty: bool = False
) -> str:
    if node is None:
        return ""
    if not isinstance(node, yaml.ScalarNode) or node.tag.endswith((":null", ":map", ":seq")):
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null") and allow_empty:
            return ""
        problems.append(Problem(path, _line(node), f"{what} must be text"))
        return ""
    value = str(node.value)
    if not allow_empty and not value.strip():
        problems.append(Problem(path, _line(node), f"empty {what}"))
    return value


def _str_list(
    node: yaml.Node | None, path: str, what: str, problems: list[Problem]
) -> tuple[str, ...]:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        return ()
    if not isinstance(node, yaml.SequenceNode):
        problems.append(Problem(path, _line(node), f"{what} must be a list"))
        return ()
    return tuple(_str(item, path, what, problems) for item in node.value)


def parse_report(text: str, path: str, problems: list[Problem]) -> Report | None:
    """A report from YAML text; problems are appended (the report is None if any)."""
    before = len(problems)
    root = _compose(text, path, problems)
    if root is None:
        if len(problems) == before:
            problems.append(Problem(path, 1, "empty file: not a report"))
        return None
    m = _mapping(root, path, "report", problems, REPORT_KEYS)
    if m is None:
        return None
    year: int | None = None
    if "year" in m:
        node = m["year"]
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
            year = None
        elif isinstance(node, yaml.ScalarNode) and re.fullmatch(r"\d{4}", str(node.value)):
            year = int(node.value)
            if not 1949 <= year <= 2100:
                problems.append(Problem(path, _line(node), f"bad year {year}"))
        else:
            problems.append(Problem(path, _line(node), f"bad year {getattr(node, 'value', '')!r}"))
    report_id = _str(m.get("report_id"), path, "report_id", problems)
    if report_id and not _ID.match(report_id):
        problems.append(Problem(path, _line(m["report_id"]), f"bad report_id {report_id!r}"))
    source_file = _str(m.get("source_file"), path, "source_file", problems, allow_empty=True)
    if source_file:
        why = bad_source_name(source_file)
        if why:
            problems.append(Problem(path, _line(m["source_file"]), f"source_file {why}"))
    published = _str(m.get("published"), path, "published", problems, allow_empty=True) or None
    if published and not _DATE.match(published):
        problems.append(Problem(path, _line(m["published"]), "published must be YYYY-MM-DD"))
    passages = _passages(m.get("passages"), path, problems)
    agency = _str(m.get("agency"), path, "agency", problems, allow_empty=True)  # "" = unknown
    report = Report(
        report_id=report_id,
        title=_str(m.get("title"), path, "title", problems, allow_empty=True),
        agency=agency,
        year=year,
        doc_type=_str(m.get("doc_type"), path, "doc_type", problems, allow_empty=True),
        source_file=source_file,
        passages=passages,
        agency_short=_str_list(m.get("agency_short"), path, "agency_short", problems),
        region=_str_list(m.get("region"), path, "region", problems),
        published=published,
        script=_str(m.get("script"), path, "script", problems, allow_empty=True) or "simplified",
    )
    return report if len(problems) == before else None


def bad_source_name(name: str) -> str | None:
    """Why `name` cannot be a raw file's name in sources/ (None when it can): a plain name,
    no control characters, bounded in bytes, and never the folder's own bookkeeping file."""
    if any(c in name for c in "/\\") or name.startswith(".") or name in ("", "..", "."):
        return "must be a plain file name"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        return "must not contain control characters or line breaks"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes"
    if name.lower() == MANIFEST:
        return f"must not be {MANIFEST} (the folder's own list of ingest flags)"
    return None


def _passages(node: yaml.Node | None, path: str, problems: list[Problem]) -> tuple[Passage, ...]:
    if node is None:
        return ()
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        problems.append(Problem(path, _line(node), "passages must be a non-empty list"))
        return ()
    out = []
    seen: dict[str, int] = {}
    for item in node.value:
        m = _mapping(item, path, "passage", problems, PASSAGE_KEYS)
        if m is None:
            continue
        pid = _str(m.get("id"), path, "passage id", problems)
        if pid in seen:
            problems.append(
                Problem(
                    path, _line(item), f"duplicate passage id {pid!r} (first at line {seen[pid]})"
                )
            )
        seen.setdefault(pid, _line(item))
        text = _str(m.get("text"), path, "passage text", problems)
        section = _str_list(m.get("section"), path, "section", problems)
        out.append(Passage(pid, section, text))
    return tuple(out)


def parse_facts(text: str, path: str, problems: list[Problem]) -> tuple[Fact, ...]:
    root = _compose(text, path, problems)
    if root is None:
        return ()
    m = _mapping(root, path, "facts file", problems, {"facts": True})
    if m is None or "facts" not in m:
        return ()
    node = m["facts"]
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        return ()
    if not isinstance(node, yaml.SequenceNode):
        problems.append(Problem(path, _line(node), "facts must be a list"))
        return ()
    out = []
    seen: set[str] = set()
    for item in node.value:
        f = _mapping(item, path, "fact", problems, FACT_KEYS)
        if f is None:
            continue
        fid = _str(f.get("id"), path, "fact id", problems)
        if fid in seen:
            problems.append(Problem(path, _line(item), f"duplicate fact id {fid!r}"))
        seen.add(fid)
        out.append(
            Fact(
                id=fid,
                question=_str(f.get("question"), path, "question", problems),
                answer=_str(f.get("answer"), path, "answer", problems),
                report_id=_str(f.get("report_id"), path, "report_id", problems),
                alternatives=_str_list(f.get("alternatives"), path, "alternatives", problems),
                section=_str(f.get("section"), path, "section", problems, allow_empty=True),
            )
        )
    return tuple(out)


def parse_manifest(text: str, path: str, problems: list[Problem]) -> dict[str, dict[str, Any]]:
    """sources/manifest.yaml: `files:` mapping each raw file name to the flags it was ingested
    with (agency, year, title, doc_type, report_id); problems are appended."""
    root = _compose(text, path, problems)
    if root is None:
        return {}
    m = _mapping(root, path, "manifest", problems, {"files": False})
    node = m.get("files") if m else None
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        return {}
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(path, _line(node), "files must be a mapping"))
        return {}
    out: dict[str, dict[str, Any]] = {}
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else ""
        why = bad_source_name(str(name))
        if why:
            problems.append(Problem(path, _line(key), f"file name {name!r} {why}"))
            continue
        if isinstance(value, yaml.ScalarNode) and value.tag.endswith(":null"):
            out[str(name)] = {}
            continue
        flags = _mapping(
            value, path, f"flags of {name}", problems, dict.fromkeys(MANIFEST_FLAGS, False)
        )
        if flags is None:
            continue
        parsed: dict[str, Any] = {}
        for flag, flag_node in flags.items():
            if MANIFEST_FLAGS[flag] is int:
                raw = getattr(flag_node, "value", "")
                if not (isinstance(flag_node, yaml.ScalarNode) and re.fullmatch(r"\d{4}", raw)):
                    problems.append(Problem(path, _line(flag_node), f"bad year {raw!r} for {name}"))
                    continue
                parsed[flag] = int(raw)
            else:
                parsed[flag] = _str(flag_node, path, f"{flag} of {name}", problems)
        out[str(name)] = parsed
    return out


def validate(
    folder: Path, overlay: dict[str, bytes | None] | None = None, exact: bool = False
) -> tuple[KnowledgeBase | None, list[Problem]]:
    """Read and check every file of the knowledge folder; `overlay` (relative path -> bytes,
    None for a deleted file) checks the folder as it would be after a change. With `exact`,
    the overlay is the whole knowledge base and the folder is not read at all."""
    overlay = overlay or {}
    problems: list[Problem] = []
    reports: list[Report] = []
    ids: dict[str, str] = {}
    passage_ids: dict[str, str] = {}
    owners: dict[str, str] = {}  # source_file -> the report whose raw file it is
    paths = {} if exact else {p.relative_to(folder).as_posix(): p for p in report_files(folder)}
    for rel in overlay:
        if rel.startswith("reports/") and rel.endswith(".yaml") and rel.count("/") == 1:
            paths[rel] = folder / rel
    broken: set[str] = set()  # report ids of files that did not load (facts citing them are
    for rel, path in sorted(paths.items()):  # not reported again: the file's error is the news)
        if rel in overlay and overlay[rel] is None:
            continue
        broken.add(path.stem)
        text = read_text(path, problems, overlay.get(rel))
        if text is None:
            continue
        report = parse_report(text, str(path), problems)
        if report is None:
            continue
        if report.report_id in ids:
            problems.append(
                Problem(
                    str(path),
                    1,
                    f"duplicate report_id {report.report_id!r} (also in {ids[report.report_id]})",
                )
            )
            continue
        if path.stem != report.report_id:
            problems.append(Problem(str(path), 1, f"file name must be {report.report_id}.yaml"))
        for p in report.passages:
            if p.id in passage_ids:
                problems.append(
                    Problem(
                        str(path),
                        _line_of(text, p.id),
                        f"passage id {p.id!r} also in {passage_ids[p.id]}",
                    )
                )
            passage_ids[p.id] = str(path)
        if report.source_file in owners:  # removing one report must never delete another's
            problems.append(
                Problem(
                    str(path),
                    _line_of(text, report.source_file),
                    f"source_file {report.source_file!r} is already the raw file of report "
                    f"{owners[report.source_file]!r}",
                )
            )
            continue
        if report.source_file:
            owners[report.source_file] = report.report_id
        ids[report.report_id] = str(path)
        broken.discard(path.stem)
        reports.append(report)
    facts: tuple[Fact, ...] = ()
    facts_path = folder / "facts.yaml"
    facts_data = overlay.get("facts.yaml") if "facts.yaml" in overlay else None
    if ("facts.yaml" in overlay and facts_data is not None) or (
        "facts.yaml" not in overlay and not exact and facts_path.exists()
    ):
        text = read_text(facts_path, problems, facts_data)
        if text is not None:
            facts = parse_facts(text, str(facts_path), problems)
            for fact in facts:
                if fact.report_id not in ids and fact.report_id not in broken:
                    problems.append(
                        Problem(
                            str(facts_path),
                            _line_of(text, fact.report_id, after=_line_of(text, f"id: {fact.id}")),
                            f"fact {fact.id!r} names unknown report {fact.report_id!r}",
                        )
                    )
    manifest_path = folder / MANIFEST_REL
    check_manifest = (MANIFEST_REL in overlay and overlay[MANIFEST_REL] is not None) or (
        MANIFEST_REL not in overlay and not exact and manifest_path.exists()
    )
    if check_manifest:
        text = read_text(manifest_path, problems, overlay.get(MANIFEST_REL))
        if text is not None:
            parse_manifest(text, str(manifest_path), problems)
    if problems:
        return None, problems
    return KnowledgeBase(tuple(reports), facts), []


def _line_of(text: str, needle: str, after: int = 0) -> int:
    """The first line (from line `after` on) that holds `needle`, for problems found after
    parsing; 1 when it cannot be found."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(needle)}(?![\w-])")
    for number, line in enumerate(text.split("\n"), 1):
        if number >= after and pattern.search(line):
            return number
    return 1


def load(folder: Path) -> KnowledgeBase:
    """The knowledge base in `folder`; KnowledgeError if any file has a problem."""
    kb, problems = validate(folder)
    if kb is None:
        raise KnowledgeError(problems)
    return kb


# ---------------------------------------------------------------- writing


class _BlockDumper(_Dumper):  # type: ignore[misc, valid-type]
    """Multi-line strings as literal blocks, so passages stay readable in the file."""


def _str_representer(dumper: Any, data: str) -> Any:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_BlockDumper.add_representer(str, _str_representer)


def report_to_dict(report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {
        "report_id": report.report_id,
        "title": report.title,
        "agency": report.agency,
        "agency_short": list(report.agency_short),
        "region": list(report.region),
        "year": report.year,
        "published": report.published,
        "doc_type": report.doc_type,
        "source_file": report.source_file,
        "script": report.script,
        "passages": [
            {"id": p.id, "section": list(p.section), "text": p.text} for p in report.passages
        ],
    }
    return out


def dump_yaml(data: Any) -> str:
    """Deterministic YAML: same data, same bytes."""
    return yaml.dump(
        data,
        Dumper=_BlockDumper,
        allow_unicode=True,
        sort_keys=False,
        width=100,
        default_flow_style=False,
    )


def dump_report(report: Report) -> str:
    return dump_yaml(report_to_dict(report))


def fact_to_dict(fact: Fact, compact: bool = False) -> dict[str, Any]:
    """A fact as plain data, in the field order of facts.yaml; `compact` leaves out empty
    alternatives and section (as the YAML file is written)."""
    item: dict[str, Any] = {
        "id": fact.id,
        "question": fact.question,
        "alternatives": list(fact.alternatives),
        "answer": fact.answer,
        "report_id": fact.report_id,
        "section": fact.section,
    }
    if compact:
        item = {k: v for k, v in item.items() if v or k not in ("alternatives", "section")}
    return item


def fact_from_dict(item: dict[str, Any]) -> Fact:
    """The inverse of fact_to_dict (for data this program wrote: no validation)."""
    return Fact(
        id=item["id"],
        question=item["question"],
        answer=item["answer"],
        report_id=item["report_id"],
        alternatives=tuple(item.get("alternatives", ())),
        section=item.get("section", ""),
    )


def dump_facts(facts: Iterable[Fact]) -> str:
    return dump_yaml({"facts": [fact_to_dict(f, compact=True) for f in facts]})


def atomic_write(
    path: Path, data: str | bytes, checkpoint: Callable[[str], None] | None = None
) -> None:
    """Write via a temporary file in the same folder: fsync, rename, fsync the folder.
    `checkpoint` (tests inject faults there) is called before and after the rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:  # keep the file's permissions (mkstemp makes it owner-only)
            os.fchmod(fd, path.stat().st_mode & 0o7777)
        except FileNotFoundError:
            os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        if checkpoint:
            checkpoint(f"before-rename:{path.name}")
        os.replace(tmp, path)
        if checkpoint:
            checkpoint(f"after-rename:{path.name}")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
