"""The knowledge base's YAML schema: the keys each file holds, parsing YAML into the dataclasses
with `path:line` problems, and the one serialiser back (YAML for the files, plain dicts for the
JSON index cache and `facts list --json`).

YAML is only ever read with PyYAML's C safe loader; anchors and aliases are refused, so a file
cannot expand into something huge.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
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
    for pid, m in _entries(node, path, "passage", PASSAGE_KEYS, problems):
        text = _str(m.get("text"), path, "passage text", problems)
        section = _str_list(m.get("section"), path, "section", problems)
        out.append(Passage(pid, section, text))
    return tuple(out)


def _entries(
    node: yaml.SequenceNode, path: str, what: str, keys: dict[str, bool], problems: list[Problem]
) -> Iterator[tuple[str, dict[str, yaml.Node]]]:
    """(id, mapping) of each well-formed entry of a list of `what`s; an id used twice is a
    problem naming the line of its first use."""
    seen: dict[str, int] = {}
    for item in node.value:
        m = _mapping(item, path, what, problems, keys)
        if m is None:
            continue
        entry_id = _str(m.get("id"), path, f"{what} id", problems)
        if entry_id in seen:
            first = seen[entry_id]
            why = f"duplicate {what} id {entry_id!r} (first at line {first})"
            problems.append(Problem(path, _line(item), why))
        seen.setdefault(entry_id, _line(item))
        yield entry_id, m


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
    for fid, f in _entries(node, path, "fact", FACT_KEYS, problems):
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
    alternatives = tuple(item.get("alternatives", ()))
    return Fact(**{"section": "", **item, "alternatives": alternatives})


def dump_facts(facts: Iterable[Fact]) -> str:
    return dump_yaml({"facts": [fact_to_dict(f, compact=True) for f in facts]})


def report_from_dict(r: dict[str, Any]) -> Report:
    """The inverse of report_to_dict (for data this program wrote: no validation)."""
    passages = tuple(Passage(p["id"], tuple(p["section"]), p["text"]) for p in r["passages"])
    lists = {key: tuple(r[key]) for key in ("agency_short", "region")}
    return Report(**{**r, **lists, "passages": passages})


def kb_to_dict(kb: KnowledgeBase) -> dict[str, Any]:
    """The whole knowledge base as plain data (the index cache keeps it as JSON)."""
    return {
        "reports": [report_to_dict(r) for r in kb.reports],
        "facts": [fact_to_dict(f) for f in kb.facts],
    }


def kb_from_dict(data: dict[str, Any]) -> KnowledgeBase:
    """The inverse of kb_to_dict."""
    reports = tuple(report_from_dict(r) for r in data["reports"])
    return KnowledgeBase(reports, tuple(fact_from_dict(f) for f in data["facts"]))
