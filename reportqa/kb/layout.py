"""The knowledge folder's layout and safe file writes.

Layout: `reports/<report-id>.yaml` (one report each), `facts.yaml` (curated question/answer
pairs) and `sources/` (the raw texts and `sources/manifest.yaml`, so the knowledge base can be
rebuilt). Writes go to a temporary file that is fsynced and renamed, so a reader never sees half
a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from reportqa.kb.schema import MANIFEST_REL


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
