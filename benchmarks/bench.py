"""Benchmark of the QA engine on synthetic knowledge bases, with bm25s as the reference.

    .venv/bin/python benchmarks/bench.py [--sizes 1000,10000,16000,100000] [--questions 300]
                                          [--runs 3] [--seed 20240501] [--profile]

For each size the bundled knowledge base (knowledge/, 5 real reports) is padded with generated
reports up to that many passages. Generated reports get new ids, an agency made of a real place
and a real kind of agency (宁波市财政局, 温州市鹿城区公安局 ...), a year in 2018-2024,
and the section structure of one real report; their passages are real sentences (split at
。；) shuffled together, with the real reports' place and agency names swapped for the new
report's own, and numbers redrawn at random. The RNG is seeded, so every run generates the same
passages. Each knowledge base is written as YAML (benchmarks/.work/<size>/reports/*.yaml, as a
deployment holds it).

Measured for the engine:
- build: `kb.open.open_engine(folder)` with no cache (hash + YAML load + jieba dictionary +
  tokenising + index + saving the cache), in this process;
- first answer: wall time from spawning `bot.py ask --json` (KNOWLEDGE_DIR = the folder, cache
  present, OS page cache warm) until its first answer line is read; median of --runs runs;
- peak RSS: VmHWM (/proc/<pid>/status) of that child after it answered every distinct question
  once, read while it waits for more input (ru_maxrss would include this process's RSS, see
  _peak_rss_mb);
- p50/p95: `engine.ask(q)` on the engine loaded from its cache (memory-mapped arrays, as the
  bot runs), after one warm-up pass, over --questions questions.
Measured for bm25s on the same passages and the same tokens (`engine.tokenizer.terms` of
`search.index_texts(kb)`; queries: terms of the normalised question; k1/b/idf as the engine):
- build: `BM25.index(tokens)` (tokenising not included; it is shown in the breakdown);
- p50/p95/mean: `retrieve([query_tokens], k=40)`, query tokens computed beforehand; and the
  mean per question with tokenising the question included, which the engine's mean (ask, per
  question) is held against: within 3x at 16,000 passages (a few hundred reports).
A second table breaks the engine down: tokenising time, Index.build on the same tokens,
loading the cache in-process, and retrieval alone (Index.score + top 40 on an analysed query),
which is the part comparable with bm25s; `ask` adds question analysis and fuzzy rescoring.
It also gives `ask` on first sight: each distinct question once, before the timed passes, after
warming up on other questions. The engine memoises per-passage work (normalised text, sentences)
as questions come, and the timed passes repeat the same questions, so their caches are hot.

Questions: ../shared/qa/dev.yaml when present, else a built-in list. Progress goes to stderr,
the report (Markdown) to stdout.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import io
import os
import platform
import pstats
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the engine importable
    sys.path.insert(0, str(ROOT))

import change_bench  # noqa: E402  (beside this file)

from reportqa.agencies import AGENCY_KINDS, agency_kind, canonical_name, short_names  # noqa: E402
from reportqa.index import K1, B, Index  # noqa: E402
from reportqa.kb import layout, schema, validate  # noqa: E402
from reportqa.kb.open import CACHE_DIR, content_hash, open_engine  # noqa: E402
from reportqa.models import KnowledgeBase, Passage, Report  # noqa: E402
from reportqa.normalize import normalize  # noqa: E402
from reportqa.places import Place, gazetteer  # noqa: E402
from reportqa.search import CANDIDATES, Engine  # noqa: E402
from reportqa.segment import index_texts  # noqa: E402

WORK = Path(__file__).resolve().parent / ".work"
KNOWLEDGE = ROOT / "knowledge"
DEV_SET = ROOT.parent / "shared" / "qa" / "dev.yaml"
DEFAULT_SIZES = (1000, 10000, 16000, 100000)
YEARS = range(2018, 2025)
INFO_SECTION = "文件信息"
TARGET_P95_MS = {10000: 3.0, 100000: 15.0}
TARGET_FIRST_S = {"bundled": 2.0, 16000: 3.0, 100000: 5.0}
# Mean time per question of engine.ask within this many times bm25s's (tokenising the question
# plus retrieval) on the same passages: a few hundred reports.
TARGET_MEAN_RATIO = {16000: 3.0}
# A change costs what it changes (issue 11): seconds until a changed report is answerable,
# cold build, warm start (first answer of a new process), p95 ms, peak RSS MB of that process.
TARGET_CHANGE_S = {10000: 0.5, 100000: 1.5}
TARGET_COLD_S = {10000: 5.0, 100000: 35.0}
TARGET_WARM_S = {10000: 1.5, 100000: 2.5}
TARGET_CHANGE_P95_MS = {10000: 3.0, 100000: 7.0}
TARGET_PEAK_MB = {10000: 250.0, 100000: 600.0}

# Region paths of the places generated reports belong to (resolved with the gazetteer).
PLACES: tuple[tuple[str, ...], ...] = (
    ("浙江省", "宁波市"),
    ("浙江省", "温州市"),
    ("浙江省", "嘉兴市"),
    ("浙江省", "湖州市"),
    ("浙江省", "绍兴市"),
    ("浙江省", "金华市"),
    ("浙江省", "衢州市"),
    ("浙江省", "台州市"),
    ("浙江省", "丽水市"),
    ("浙江省", "杭州市"),
    ("浙江省", "舟山市"),
    ("江苏省", "南京市"),
    ("江苏省", "苏州市"),
    ("江苏省", "无锡市"),
    ("安徽省", "合肥市"),
    ("福建省", "厦门市"),
    ("广东省", "深圳市"),
    ("北京市",),
    ("重庆市",),
    ("浙江省", "宁波市", "鄞州区"),
    ("浙江省", "宁波市", "海曙区"),
    ("浙江省", "温州市", "鹿城区"),
    ("浙江省", "杭州市", "西湖区"),
    ("浙江省", "杭州市", "拱墅区"),
    ("浙江省", "杭州市", "余杭区"),
    ("浙江省", "绍兴市", "柯桥区"),
    ("浙江省", "台州市", "黄岩区"),
    ("浙江省", "嘉兴市", "南湖区"),
    ("浙江省", "舟山市", "定海区"),
    ("江苏省", "苏州市", "姑苏区"),
    ("上海市", "浦东新区"),
)
# Kinds of agency (official suffixes, see reportqa/agencies.py).
KINDS = (
    "财政局",
    "公安局",
    "司法局",
    "教育局",
    "民政局",
    "审计局",
    "统计局",
    "商务局",
    "自然资源和规划局",
    "住房和城乡建设局",
    "交通运输局",
    "农业农村局",
    "市场监督管理局",
    "生态环境局",
    "应急管理局",
    "人力资源和社会保障局",
    "科学技术局",
    "经济和信息化局",
    "发展和改革委员会",
    "卫生健康委员会",
    "文化广电旅游局",
    "人民政府办公室",
)
# Used when ../shared/qa/dev.yaml is missing: questions on the bundled reports in the styles
# people use (full, terse, colloquial, traditional, typos) plus some the reports cannot answer.
FALLBACK_QUESTIONS = (
    "舟山市经信局2020年开展了几次法律法规学习？",
    "舟山经信局 民营企业发展促进条例 直播 受众",
    "舟山经信局发放了多少册条例单行本？",
    "舟山市经信局宣讲活动一共搞了多少场",
    "舟山的政府定价涉企收费清单是哪个部门建立的？",
    "舟山经信局开展了几次法率法规学习",
    "舟山市科技局2020年公开了多少条政府信息？",
    "舟山科技局 浙里办 推广完成率",
    "舟山科技局 执法证 申领人数",
    "舟山首部地方科技立法叫什么？",
    "舟山科技局机关内部办事事项梳理了几项",
    "舟山市科学技术局承担哪两项行政检查职能？",
    "上海经信委 信访件数量",
    "上海经信委 外聘法律顾问 几名",
    "上海企业服务云 注册用户数",
    "上海市经信委中小企业服务专员第一批有多少人？",
    "上海那个企业法务技能大赛一共收了多少篇征文",
    "央企法总论坛是由谁主办的？",
    "上海市经济信息化委2020年制定了哪些规范性文件？",
    "上海经信委请外聘法律顾问一年要花多少钱啊",
    "普陀区2020年行政执法平均持证率要达到多少？",
    "普陀區現場執法的掌上執法率目標是多少？",
    "普陀区法治政府建设311运行体系指什么",
    "普陀 竣工验收审批时间",
    "普陀区计划出台的政府法律顾问管理制度叫什么？",
    "普陀區2020年要組織申報第幾批全國民主法治示範村？",
    "普陀区印发法治政府建设工作要点的通知文号是什么",
    "普陀区 县域社会治理新模式",
    "上城区发改局 新增主动公开政府信息",
    "上城區發改局2023年報送了多少條聯合獎懲案例？",
    "上城发改局去年信用修复办了多少件啊",
    "上城发改局营商环境上了几回红榜？",
    "上城区发改局承认在执法人员持证方面存在什么不足？",
    "上城发改局 公职律师",
    "上城发改局 人防审批事项 2023",
    "上城区发改局2023年价格信访案件中停车收费有多少件？",
    "上城区发改局2023年人防违法行为一共罚款多少钱？",
    "舟山市公安局2020年的执法证持证率是多少？",
    "宁波市财政局2021年公开了多少条政府信息？",
    "温州市鹿城区公安局开展了几次法治培训",
)
_SENTENCE = re.compile(r"[^。；]+[。；]?")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- synthetic knowledge bases


@dataclass(frozen=True)
class Names:
    """The names a report's text uses for its own place and agency, by role."""

    city_full: str
    city_stem: str
    local_full: str
    local_stem: str
    kind_full: str
    kind_short: str


@dataclass(frozen=True)
class Template:
    """A real report as a pattern: its script, section paths and sentence pool."""

    report: Report
    sections: tuple[tuple[str, ...], ...]  # of the body passages, in order


class Generator:
    """Reports that look like the bundled ones, drawn from their sentences (seeded)."""

    def __init__(self, real: KnowledgeBase, seed: int) -> None:
        self.rng = random.Random(seed)
        self.gaz = gazetteer()
        import opencc  # the engine's dependency; s2t gives the traditional reports' names

        self._s2t = opencc.OpenCC("s2t")
        self.templates = [
            Template(
                r,
                tuple(p.section for p in r.passages if p.section[:1] != (INFO_SECTION,)),
            )
            for r in real.reports
        ]
        # sentence pools and passage lengths per script, so a traditional report stays traditional
        self.pools: dict[str, list[str]] = {}
        self.lengths: dict[str, list[int]] = {}
        for r in real.reports:
            for p in r.passages:
                if p.section[:1] == (INFO_SECTION,):
                    continue
                text = p.text.replace("\n", "")
                sentences = [s.strip() for s in _SENTENCE.findall(text) if len(s.strip()) >= 4]
                self.pools.setdefault(r.script, []).extend(sentences)
                self.lengths.setdefault(r.script, []).append(len(text))
        # the real reports' own names (and their traditional forms) -> role
        self.roles: dict[str, str] = {}
        for r in real.reports:
            for role, name in dataclasses.asdict(self._names_of(r.region, r.agency)).items():
                for form in (name, self._s2t.convert(name)):
                    if len(form) >= 2:
                        self.roles.setdefault(form, role)
        alternation = "|".join(re.escape(n) for n in sorted(self.roles, key=len, reverse=True))
        self._names_re = re.compile(alternation)
        self.agencies = [
            (path, kind) for path in PLACES for kind in KINDS if self.gaz.resolve(path) is not None
        ]

    def _names_of(self, region: Sequence[str], agency: str) -> Names:
        place = self.gaz.resolve(tuple(region))
        if place is None:
            raise ValueError(f"unknown region {region!r}")
        chain = self.gaz.chain(place)
        city = next((p for p in chain if p.level == 1), chain[0])
        local = place if place.level == 2 else city
        kind = agency_kind(normalize(agency)) or agency
        shorts = AGENCY_KINDS.get(kind, ())
        return Names(
            city.name,
            self._stem(city),
            local.name,
            self._stem(local),
            kind,
            shorts[0] if shorts else kind,
        )

    def _stem(self, place: Place) -> str:
        for suffix in ("新区", "市", "区", "县", "省"):
            stem = place.name.removesuffix(suffix)
            if stem != place.name and len(stem) >= 2 and place in self.gaz.by_name.get(stem, ()):
                return stem
        return place.name

    def report(self, number: int, n_passages: int | None = None) -> Report:
        """One generated report (the number makes its id unique)."""
        rng = self.rng
        template = rng.choice(self.templates)
        script = template.report.script
        path, kind = rng.choice(self.agencies)
        place = self.gaz.resolve(path)
        agency = canonical_name(kind, place, self.gaz)
        names = self._names_of(path, agency)
        year = rng.choice(YEARS)
        source_year = template.report.year or year
        report_id = f"{number:05d}_{rng.getrandbits(64):016x}"
        doc_type = template.report.doc_type or "工作总结"
        title = self._title(year, agency, doc_type, names)
        if script == "traditional":  # the text and title of such a report are traditional
            title = self._s2t.convert(title)
            names = Names(*(self._s2t.convert(v) for v in dataclasses.astuple(names)))
        published = f"{year}-{rng.randint(10, 12):02d}-{rng.randint(1, 28):02d}"

        def rewrite(text: str) -> str:
            text = self._names_re.sub(lambda m: getattr(names, self.roles[m.group(0)]), text)
            return _NUMBER.sub(lambda m: self._number(m.group(0), year, source_year), text)

        info = Passage(
            f"{report_id}-{rng.getrandbits(32):08x}",
            (INFO_SECTION,),
            f"{agency}\n{title}\n{published[:4]}年{int(published[5:7])}月{int(published[8:])}日",
        )
        passages = [info, *self._body(report_id, template, script, rewrite, {info.id})]
        report = Report(
            report_id=report_id,
            title=title,
            agency=agency,
            year=year,
            doc_type=doc_type,
            source_file=f"{report_id}.txt",
            passages=tuple(passages),
            agency_short=short_names(kind, place, self.gaz),
            region=tuple(p.name for p in self.gaz.chain(place)) if place else (),
            published=published,
            script=script,
        )
        if n_passages is not None:
            report = dataclasses.replace(report, passages=report.passages[:n_passages])
        return report

    def _title(self, year: int, agency: str, doc_type: str, names: Names) -> str:
        if doc_type == "工作要点":
            return self.rng.choice(
                (f"关于印发{year}年{names.local_full}法治政府建设工作要点的通知",)
            )
        return self.rng.choice(
            (
                f"{year}年度法治政府建设工作总结",
                f"{agency}{year}年法治政府建设工作报告",
                f"关于{year}年度法治政府建设情况的报告",
            )
        )

    def _body(
        self,
        report_id: str,
        template: Template,
        script: str,
        rewrite: Callable[[str], str],
        seen: set[str],
    ) -> list[Passage]:
        """A passage per section of the template, of a real passage's length, drawn from the
        pool of the script's sentences, names and numbers rewritten."""
        rng = self.rng
        pool, lengths = self.pools[script], self.lengths[script]
        out = []
        for section in template.sections:
            target = rng.choice(lengths)
            parts: list[str] = []
            while sum(map(len, parts)) < target:
                parts.append(rng.choice(pool))
            pid = f"{report_id}-{rng.getrandbits(32):08x}"
            while pid in seen:
                pid = f"{report_id}-{rng.getrandbits(32):08x}"
            seen.add(pid)
            out.append(Passage(pid, tuple(rewrite(h) for h in section), rewrite("".join(parts))))
        return out

    def _number(self, text: str, year: int, source_year: int) -> str:
        """A year moves with the report's year; any other number is redrawn, same shape."""
        if "." not in text and len(text) == 4 and 1990 <= int(text) <= 2035:
            return str(int(text) - source_year + year)
        whole, _, frac = text.partition(".")
        digits = str(self.rng.randint(10 ** (len(whole) - 1), 10 ** len(whole) - 1))
        if len(whole) == 1:
            digits = str(self.rng.randint(1, 9))
        if frac:
            digits += "." + "".join(str(self.rng.randint(0, 9)) for _ in frac)
        return digits


def synthetic_kb(real: KnowledgeBase, size: int, seed: int) -> KnowledgeBase:
    """The real reports plus generated ones, `size` passages in all (passage ids unique)."""
    gen = Generator(real, seed + size)
    reports = list(real.reports)
    total = real.passage_count
    number = 100
    while total < size:
        report = gen.report(number)
        if total + len(report.passages) > size:
            report = dataclasses.replace(report, passages=report.passages[: size - total])
        reports.append(report)
        total += len(report.passages)
        number += 1
    ids = [p.id for r in reports for p in r.passages]
    if len(ids) != len(set(ids)):
        raise AssertionError("generated passage ids are not unique")
    return KnowledgeBase(tuple(reports), real.facts)


def write_kb(kb: KnowledgeBase, folder: Path) -> None:
    """The knowledge base as a deployment holds it: reports/<id>.yaml (and facts.yaml)."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "reports").mkdir(parents=True)
    for report in kb.reports:
        path = folder / "reports" / f"{report.report_id}.yaml"
        layout.atomic_write(path, schema.dump_report(report))
    if kb.facts:
        layout.atomic_write(folder / "facts.yaml", schema.dump_facts(kb.facts))


# ---------------------------------------------------------------- questions


def load_questions() -> tuple[list[str], str]:
    """The dev set's questions, or the built-in list; and where they came from."""
    if DEV_SET.exists():
        import yaml

        items = yaml.load(DEV_SET.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        questions = [str(i["question"]) for i in items if i.get("question")]
        if questions:
            return questions, str(DEV_SET)
    return list(FALLBACK_QUESTIONS), "built-in list"


def cycle(items: Sequence[str], n: int) -> list[str]:
    return [items[i % len(items)] for i in range(n)]


# ---------------------------------------------------------------- measurements


def percentiles(ns: Sequence[int]) -> tuple[float, float]:
    """p50 and p95 in milliseconds of durations in nanoseconds."""
    ms = np.asarray(ns, dtype=np.float64) / 1e6
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def mean_ms(ns: Sequence[int]) -> float:
    return float(np.mean(np.asarray(ns, dtype=np.float64))) / 1e6


def first_sight(engine: Engine, questions: Sequence[str]) -> list[int]:
    """Durations (ns) of engine.ask on each distinct question the first time it is asked,
    after warming the engine up (lazy tables, imports) on questions not in the set."""
    distinct = list(dict.fromkeys(questions))
    warm = [q for q in FALLBACK_QUESTIONS if q not in set(distinct)] or distinct[:10]
    for q in warm:
        engine.ask(q)
    out = []
    for q in distinct:
        if q in warm:
            continue
        t = time.perf_counter_ns()
        engine.ask(q)
        out.append(time.perf_counter_ns() - t)
    return out


def timed_calls(fn: Callable[[str], object], questions: Sequence[str], n: int) -> list[int]:
    """Per-call durations (ns) of fn over n questions, after one warm-up pass."""
    for q in questions:
        fn(q)
    out = []
    clock = time.perf_counter_ns
    for q in cycle(questions, n):
        t = clock()
        fn(q)
        out.append(clock() - t)
    return out


@dataclass
class FirstAnswer:
    seconds: float  # median over runs
    runs: list[float]
    peak_rss_mb: float  # max over runs


def first_answer(folder: Path, questions: Sequence[str], runs: int) -> FirstAnswer:
    """Spawn `bot.py ask --json` on `folder`; time spawn -> first answer line; peak RSS."""
    env = dict(os.environ, KNOWLEDGE_DIR=str(folder))
    env.pop("TELEGRAM_BOT_TOKEN", None)
    distinct = list(dict.fromkeys(q.replace("\n", " ") for q in questions))
    data = "".join(q + "\n" for q in distinct).encode("utf-8")
    times: list[float] = []
    rss: list[float] = []
    WORK.mkdir(parents=True, exist_ok=True)
    log_path = WORK / "child-stderr.log"
    for _ in range(runs):
        with log_path.open("wb") as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, str(ROOT / "bot.py"), "ask", "--json"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
            )
            assert proc.stdin is not None and proc.stdout is not None
            writer = threading.Thread(target=_feed, args=(proc.stdin, data))
            writer.start()
            first = proc.stdout.readline()
            elapsed = time.perf_counter() - t0
            answers = 1 if first else 0
            while answers and answers < len(distinct) and proc.stdout.readline():
                answers += 1
            # stdin is still open, so the child is alive, idle, waiting for the next question
            peak = _peak_rss_mb(proc.pid) if answers == len(distinct) else 0.0
            writer.join()
            proc.stdin.close()
            proc.stdout.read()
            proc.wait()
        if proc.returncode != 0 or answers != len(distinct):
            tail = log_path.read_text(encoding="utf-8", errors="replace")
            raise RuntimeError(
                f"bot.py ask failed on {folder} (exit {proc.returncode}, {answers} answers "
                f"of {len(distinct)}):\n{tail[-2000:]}"
            )
        times.append(elapsed)
        rss.append(peak)
    return FirstAnswer(statistics.median(times), times, max(rss))


def _feed(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.flush()
    except BrokenPipeError:  # the child died; the reader reports it
        pass


def _peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process: the peak resident set of its current image (after exec).

    Not ru_maxrss: on Linux a child's ru_maxrss includes the parent's RSS at fork/vfork time
    (exec keeps the old image's high-water mark), which here is the benchmark's gigabytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return 0.0


def ensure_cache(folder: Path) -> None:
    """Make sure the index cache for the current code and YAML exists (builds it if not)."""
    if not (folder / CACHE_DIR / "points" / f"{content_hash(folder)}.json").exists():
        log(f"no index cache for {folder}; building it")
        open_engine(folder)


@dataclass
class Row:
    passages: int
    reports: int
    gen_s: float = 0.0
    write_s: float = 0.0
    build_s: float = 0.0
    first: FirstAnswer | None = None
    p50: float = 0.0
    p95: float = 0.0
    mean: float = 0.0
    load_s: float = 0.0
    tokenize_s: float = 0.0
    index_only_s: float = 0.0
    retrieve_p50: float = 0.0
    retrieve_p95: float = 0.0
    first_p50: float = 0.0
    first_p95: float = 0.0
    bm_build_s: float = 0.0
    bm_p50: float = 0.0
    bm_p95: float = 0.0
    bm_mean: float = 0.0  # retrieval alone, query tokens computed beforehand
    bm_mean_q: float = 0.0  # tokenising the question + retrieval: per question
    profile: str = ""
    changes: change_bench.ChangeRow | None = None


def bench_engine(
    row: Row, folder: Path, questions: Sequence[str], args: argparse.Namespace
) -> None:
    """Cold build, first answer in a fresh process, per-question latency; then bm25s."""
    shutil.rmtree(folder / CACHE_DIR, ignore_errors=True)
    gc.collect()
    t = time.perf_counter()
    engine = open_engine(folder)
    row.build_s = time.perf_counter() - t
    log(f"  engine cold build {row.build_s:.1f} s")
    del engine
    gc.collect()

    ensure_cache(folder)  # the engine code may have changed under us: never time a rebuild
    t = time.perf_counter()
    engine = open_engine(folder)  # from the cache, memory-mapped: what the bot runs on
    row.load_s = time.perf_counter() - t
    asked = cycle(questions, args.questions)
    row.first_p50, row.first_p95 = percentiles(first_sight(engine, questions))
    durations = timed_calls(engine.ask, questions, len(asked))
    row.p50, row.p95 = percentiles(durations)
    row.mean = mean_ms(durations)
    log(f"  engine.ask p50 {row.p50:.2f} ms, p95 {row.p95:.2f} ms, mean {row.mean:.2f} ms")
    queries = {q: engine.analyse(q) for q in questions}
    k = min(CANDIDATES, engine.index.n_docs)

    def retrieve(q: str) -> object:
        scores = engine.index.score(queries[q].term_weights)
        return np.argpartition(-scores, k - 1)[:k]

    row.retrieve_p50, row.retrieve_p95 = percentiles(timed_calls(retrieve, questions, len(asked)))
    if args.profile and row.passages == max(args.sizes):
        row.profile = profile_ask(engine, questions, len(asked))

    ensure_cache(folder)  # the engine code may have changed under us: never time a rebuild
    row.first = first_answer(folder, questions, args.runs)
    log(f"  first answer {row.first.seconds:.2f} s, peak RSS {row.first.peak_rss_mb:.0f} MB")
    bench_bm25s(row, engine, questions, len(asked))
    row.changes = change_bench.measure(folder, WORK / "changes", _ask_first)
    log(f"  changes: bot {row.changes.bot}, command line {row.changes.cli_ask}")


def _ask_first(folder: Path, question: str) -> float:
    """Seconds from spawning `bot.py ask` on `folder` to its first answer."""
    return first_answer(folder, [question], 1).seconds


def bench_bm25s(row: Row, engine: Engine, questions: Sequence[str], n: int) -> None:
    """bm25s on the engine's own tokens of the same passages."""
    import bm25s

    texts = index_texts(engine.kb)
    interned: dict[str, str] = {}
    t = time.perf_counter()
    corpus = [[interned.setdefault(w, w) for w in engine.tokenizer.terms(x)] for x in texts]
    row.tokenize_s = time.perf_counter() - t
    log(f"  tokenised {len(texts)} passages in {row.tokenize_s:.1f} s")

    row.index_only_s = index_build_seconds(corpus)

    retriever = bm25s.BM25(k1=K1, b=B, method="lucene")
    gc.collect()
    t = time.perf_counter()
    retriever.index(corpus, show_progress=False)
    row.bm_build_s = time.perf_counter() - t
    del corpus, interned
    query_tokens = {q: engine.tokenizer.terms(normalize(q)) for q in questions}
    k = min(CANDIDATES, len(texts))

    def search(q: str) -> object:
        return retriever.retrieve([query_tokens[q]], k=k, show_progress=False, n_threads=0)

    def ask(q: str) -> object:
        tokens = engine.tokenizer.terms(normalize(q))
        return retriever.retrieve([tokens], k=k, show_progress=False, n_threads=0)

    usable = [q for q in questions if retriever.get_tokens_ids(query_tokens[q])]
    durations = timed_calls(search, usable, n)
    row.bm_p50, row.bm_p95 = percentiles(durations)
    row.bm_mean = mean_ms(durations)
    row.bm_mean_q = mean_ms(timed_calls(ask, usable, n))
    log(f"  bm25s build {row.bm_build_s:.1f} s, p50 {row.bm_p50:.2f} ms, p95 {row.bm_p95:.2f} ms")


def index_build_seconds(corpus: list[list[str]]) -> float:
    """Index.build on already tokenised passages: the engine's part comparable with bm25s."""
    keys = [str(i) for i in range(len(corpus))]
    t = time.perf_counter()
    Index.build(keys, lambda key: corpus[int(key)])
    return time.perf_counter() - t


def profile_ask(engine: Engine, questions: Sequence[str], n: int) -> str:
    """cProfile of engine.ask over n questions: the top functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for q in cycle(questions, n):
        engine.ask(q)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(15)
    out.write("\n")
    stats.sort_stats("cumulative").print_stats(20)
    return out.getvalue()


# ---------------------------------------------------------------- report


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import bm25s
    import jieba

    return (
        f"Machine: nproc {len(os.sched_getaffinity(0))} ({cpu}), {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, numpy {np.__version__}, "
        f"bm25s {bm25s.__version__}, jieba {jieba.__version__}"
    )


def verdict(value: float | None, limit: float, unit: str) -> str:
    if value is None:
        return "not measured (size not run)"
    ok = "met" if value <= limit else "**missed**"
    return f"{value:.2f} {unit} vs <= {limit:g} {unit}: {ok}"


def report(
    rows: list[Row],
    bundled: FirstAnswer,
    bundled_passages: int,
    source: str,
    args: argparse.Namespace,
    total: float,
) -> str:
    out = [machine(), ""]
    out.append(
        f"Questions: {source}; {args.questions} asked per size after a warm-up pass; "
        f"first answer = median of {args.runs} runs of `bot.py ask --json`."
    )
    out += ["", *_speed_table(rows), ""]
    out.append(
        "mean ratio = engine mean / bm25s mean with tokenising (both turn a question into "
        "ranked passages; the engine also checks place, agency, year and value and picks the "
        "answer sentence)."
    )
    out.append("")
    out.append(
        f"Bundled knowledge base (knowledge/, {bundled_passages} passages): first answer "
        f"{bundled.seconds:.2f} s (runs: {', '.join(f'{t:.2f}' for t in bundled.runs)}), "
        f"peak RSS {bundled.peak_rss_mb:.0f} MB"
    )
    out.append("")
    out.append("Breakdown (engine build = YAML load + jieba + tokenising + index + cache save):")
    out += ["", *_breakdown_table(rows), ""]
    out += ["Targets:", *_targets(rows, bundled), ""]
    out += ["A change costs what it changes:", "", *_changes_table(rows), ""]
    out.append(
        "bot = from the write 「确认入库」/删除 makes to the answer, in the running bot's process; "
        "command line = `bot.py ingest`/`remove`, then `bot.py ask` until its first answer; "
        "ask alone = that first answer before the change (a warm start); the change adds "
        "`ask after - ask alone` to answering."
    )
    out += ["", "Targets (a change costs what it changes):", *_change_targets(rows), ""]
    out.append(f"Total benchmark time: {total:.0f} s")
    for r in rows:
        if r.profile:
            out += ["", f"cProfile of engine.ask at {r.passages:,} passages:", "```", r.profile]
            out.append("```")
    return "\n".join(out)


_SPEED_COLUMNS = (
    "passages | engine build s | engine first answer s | engine peak RSS MB | engine p50 ms "
    "| engine p95 ms | engine mean ms | bm25s build s | bm25s p50 ms | bm25s p95 ms "
    "| bm25s mean ms | bm25s mean with tokenising ms | mean ratio",
    ", .2f .2f .0f .2f .2f .2f .2f .2f .2f .2f .2f .2f",
)
_BREAKDOWN_COLUMNS = (
    "passages | reports | generate s | write YAML s | tokenise s | Index.build on tokens s "
    "| load cache in-process s | retrieval only p50 ms | retrieval only p95 ms "
    "| ask first sight p50 ms | ask first sight p95 ms",
    ", , .1f .1f .1f .2f .2f .2f .2f .2f .2f",
)


def _speed_table(rows: list[Row]) -> list[str]:
    def values(r: Row) -> tuple[float, ...]:
        assert r.first is not None
        engine = (r.build_s, r.first.seconds, r.first.peak_rss_mb, r.p50, r.p95, r.mean)
        ratio = r.mean / max(r.bm_mean_q, 1e-9)
        return (
            r.passages,
            *engine,
            r.bm_build_s,
            r.bm_p50,
            r.bm_p95,
            r.bm_mean,
            r.bm_mean_q,
            ratio,
        )

    return _table(_SPEED_COLUMNS, [values(r) for r in rows])


_CHANGES_COLUMNS = (
    "passages | bot add s | bot replace s | bot remove s | ingest add s | ingest replace s "
    "| remove s | ask alone s | ask after add s | ask after replace s | ask after remove s "
    "| cold build s | warm start s | p95 ms | bm25s p95 ms | peak RSS MB",
    ", .2f .2f .2f .2f .2f .2f .2f .2f .2f .2f .1f .2f .2f .2f .0f",
)


def _changes_table(rows: list[Row]) -> list[str]:
    def values(r: Row) -> tuple[float, ...]:
        assert r.changes is not None and r.first is not None
        engine = (r.build_s, r.first.seconds, r.p95, r.bm_p95, r.first.peak_rss_mb)
        return (r.passages, *r.changes.cells(), *engine)

    return _table(_CHANGES_COLUMNS, [values(r) for r in rows if r.changes is not None])


def _change_targets(rows: list[Row]) -> list[str]:
    by_size = {r.passages: r for r in rows}
    out = []
    for size in TARGET_CHANGE_S:
        r = by_size.get(size)
        c = r.changes if r else None
        first = r.first if r else None
        at = f"at {size:,} passages"
        out += [
            f"- change until answerable, bot, worst of add/replace/remove {at}: "
            + verdict(c.bot_worst if c else None, TARGET_CHANGE_S[size], "s"),
            f"- change until answerable, command line, ask after - ask alone (worst) {at}: "
            + verdict(c.cli_extra_worst if c else None, TARGET_CHANGE_S[size], "s"),
            f"- cold build {at}: " + verdict(r.build_s if r else None, TARGET_COLD_S[size], "s"),
            f"- warm start {at}: "
            + verdict(first.seconds if first else None, TARGET_WARM_S[size], "s"),
            f"- p95 {at}: " + verdict(r.p95 if r else None, TARGET_CHANGE_P95_MS[size], "ms"),
            f"- peak RSS {at}: "
            + verdict(first.peak_rss_mb if first else None, TARGET_PEAK_MB[size], "MB"),
        ]
    return out


def _breakdown_table(rows: list[Row]) -> list[str]:
    def values(r: Row) -> tuple[float, ...]:
        build = (r.gen_s, r.write_s, r.tokenize_s, r.index_only_s, r.load_s)
        ask = (r.retrieve_p50, r.retrieve_p95, r.first_p50, r.first_p95)
        return (r.passages, r.reports, *build, *ask)

    return _table(_BREAKDOWN_COLUMNS, [values(r) for r in rows])


def _table(columns: tuple[str, str], rows: list[tuple[float, ...]]) -> list[str]:
    """A Markdown table of right-aligned columns; `columns` holds the titles separated by |
    and the format spec of each column's values."""
    titles, formats = columns
    specs = formats.split()
    lines = [f"| {titles} |", "|" + "---:|" * len(specs)]
    for values in rows:
        cells = (f"{v:{spec}}" for v, spec in zip(values, specs, strict=True))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _targets(rows: list[Row], bundled: FirstAnswer) -> list[str]:
    by_size = {r.passages: r for r in rows}
    out = []
    for size, limit in TARGET_P95_MS.items():
        p95 = by_size[size].p95 if size in by_size else None
        out.append(f"- engine p95 at {size:,} passages: {verdict(p95, limit, 'ms')}")
    out.append(
        f"- first answer, bundled: {verdict(bundled.seconds, TARGET_FIRST_S['bundled'], 's')}"
    )
    for size, ratio in TARGET_MEAN_RATIO.items():
        r = by_size.get(size)
        got = r.mean / max(r.bm_mean_q, 1e-9) if r else None
        out.append(f"- engine mean / bm25s mean at {size:,} passages: {verdict(got, ratio, 'x')}")
    for size, limit in TARGET_FIRST_S.items():
        if size == "bundled":
            continue
        r = by_size.get(int(size))
        first = r.first.seconds if r and r.first else None
        out.append(f"- first answer at {int(size):,} passages: {verdict(first, limit, 's')}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--sizes",
        type=lambda s: sorted({int(x) for x in s.split(",") if x.strip()}),
        default=list(DEFAULT_SIZES),
        help="passages per knowledge base, comma-separated (default 1000,10000,16000,100000)",
    )
    p.add_argument("--questions", type=int, default=300, help="timed questions per size")
    p.add_argument("--runs", type=int, default=3, help="runs of the first-answer measurement")
    p.add_argument("--seed", type=int, default=20240501)
    p.add_argument("--profile", action="store_true", help="cProfile engine.ask at the largest size")
    args = p.parse_args(argv)
    start = time.perf_counter()

    real = validate.load(KNOWLEDGE)
    questions, source = load_questions()
    log(f"{len(questions)} questions from {source}; real KB: {real.passage_count} passages")
    ensure_cache(KNOWLEDGE)
    bundled = first_answer(KNOWLEDGE, questions, args.runs)
    log(f"bundled first answer {bundled.seconds:.2f} s")

    rows = []
    for size in args.sizes:
        if size < real.passage_count:
            raise SystemExit(f"size {size} is below the {real.passage_count} real passages")
        log(f"size {size}: generating")
        t = time.perf_counter()
        kb = synthetic_kb(real, size, args.seed)
        row = Row(kb.passage_count, len(kb.reports), gen_s=time.perf_counter() - t)
        folder = WORK / str(size)
        t = time.perf_counter()
        write_kb(kb, folder)
        row.write_s = time.perf_counter() - t
        log(f"  {row.reports} reports: generated {row.gen_s:.1f} s, written {row.write_s:.1f} s")
        del kb
        bench_engine(row, folder, questions, args)
        rows.append(row)
        gc.collect()

    print(report(rows, bundled, real.passage_count, source, args, time.perf_counter() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
