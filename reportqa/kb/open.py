"""Open a knowledge folder as a ready Engine, reusing the index cached beside the YAML.

The cache lives in `<knowledge>/.cache/<hash>/`, where the hash covers every YAML file's name
and bytes and the engine's index format: the YAML stays the source of truth, and any change to
it (by the CLI, the bot or a hand edit) simply misses the cache and rebuilds. The cache holds
the index arrays, the tokenizer's user words and a JSON copy of the knowledge base (faster to
read than YAML at 100k passages); a damaged cache is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

from reportqa.index import FORMAT_VERSION, Index, index_texts
from reportqa.kb import schema, validate
from reportqa.kb.repository import Repository
from reportqa.models import KnowledgeBase
from reportqa.places import gazetteer
from reportqa.search import Engine
from reportqa.tokenize import Tokenizer, user_words_for

log = logging.getLogger(__name__)
_INDEXING_CODE = tuple(
    str(Path(__file__).parent.parent / name) for name in ("index.py", "tokenize.py", "normalize.py")
)
CACHE_DIR = ".cache"
KEEP_CACHES = 3


def content_hash(folder: Path, files: dict[str, bytes] | None = None) -> str:
    """A hash of every knowledge file's name and bytes (and the indexing code's)."""
    h = hashlib.sha256(f"v{FORMAT_VERSION}".encode())
    for module in _INDEXING_CODE:  # a change to how text is indexed invalidates the cache too
        h.update(Path(module).read_bytes())
    files = files if files is not None else Repository(folder).snapshot()
    for rel, data in sorted(files.items()):
        h.update(rel.encode("utf-8") + b"\0" + data + b"\0")
    return h.hexdigest()[:20]


def open_engine(
    folder: Path, use_cache: bool = True, files: dict[str, bytes] | None = None
) -> Engine:
    """The engine for the knowledge base in `folder` (KnowledgeError if it has problems);
    `files` are its bytes when the caller has read them already (under the repository lock),
    otherwise the last complete version is read (never half a change)."""
    files = files if files is not None else Repository(folder).snapshot()
    digest = content_hash(folder, files)
    cache = folder / CACHE_DIR / digest
    if use_cache:
        cached = _load_cached(cache)
        if cached is not None:
            return cached
    kb, problems = validate.check(folder, overlay=dict(files), exact=True)
    if kb is None:
        raise schema.KnowledgeError(problems)
    engine = build(kb, cache if use_cache else None)
    if use_cache:
        _prune(folder / CACHE_DIR, keep=digest)
    return engine


def build(kb: KnowledgeBase, cache: Path | None = None) -> Engine:
    """Build tokenizer and index for `kb`; save them into `cache` when given."""
    words = sorted(user_words_for(kb))
    tokenizer = Tokenizer(words, cache_dir=cache.parent if cache else None)
    index = Index.build(index_texts(kb), tokenizer.terms)
    if cache is not None:
        try:
            tmp = cache.with_name(cache.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            index.save(tmp)
            (tmp / "words.txt").write_text("\n".join(words), encoding="utf-8")
            (tmp / "kb.json").write_text(
                json.dumps(schema.kb_to_dict(kb), ensure_ascii=False), encoding="utf-8"
            )
            shutil.rmtree(cache, ignore_errors=True)
            tmp.rename(cache)
        except OSError as e:  # a read-only folder still answers, just without a cache
            log.warning("could not save the index cache: %s", e)
    return Engine(kb, index, tokenizer, gazetteer())


def _load_cached(cache: Path) -> Engine | None:
    if not (cache / "kb.json").exists():
        return None
    index = Index.load(cache)
    if index is None:
        return None
    try:
        kb = schema.kb_from_dict(json.loads((cache / "kb.json").read_text(encoding="utf-8")))
        words = (cache / "words.txt").read_text(encoding="utf-8").split("\n")
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("ignoring a damaged index cache %s: %s", cache, e)
        return None
    if kb.passage_count != index.n_docs:
        return None
    tokenizer = Tokenizer([w for w in words if w], cache_dir=cache.parent)
    return Engine(kb, index, tokenizer, gazetteer())


def _prune(root: Path, keep: str) -> None:
    try:
        others = sorted(
            (p for p in root.iterdir() if p.is_dir() and p.name != keep),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
    except OSError:
        return
    for old in others[KEEP_CACHES - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
