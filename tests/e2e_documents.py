"""The documents the admin end-to-end tests upload: plain-text, .docx, HTML and knowledge-base
YAML reports, minimal PDFs, and the broken ones the bot must refuse."""

from __future__ import annotations

import io
import zipfile


def report_text(agency: str, year: int, items: list[tuple[str, str]], kind: str = "") -> str:
    """A plain-text report: title, an opening paragraph, 一、 with （一）（二）… and a
    signature. Each item is (sub-heading, paragraph)."""
    kind = kind or "法治政府建设工作总结"
    lines = [
        f"{agency}{year}年{kind}",
        "",
        f"{year}年，{agency}在市委、市政府的坚强领导下，深入学习贯彻习近平法治思想，"
        "全面推进法治政府建设，各项工作取得明显成效。现将有关情况总结如下：",
        "",
        "一、主要工作和成效",
    ]
    for n, (heading, paragraph) in zip("一二三四五六七八", items, strict=False):
        lines += [f"（{n}）{heading}", paragraph]
    lines += ["", agency, f"{year + 1}年1月20日", ""]
    return "\n".join(lines)


NINGBO = """宁波市财政局2021年法治政府建设工作总结

2021年，宁波市财政局在市委、市政府的坚强领导下，深入学习贯彻习近平法治思想，全面推进财政领域法治政府建设，各项工作取得明显成效。现将有关情况总结如下：

一、加强组织领导，压实法治建设责任
（一）落实第一责任人职责
我局主要负责人全年主持召开党组会议专题研究法治政府建设工作 7 次，局领导班子集体学法 12 次，切实履行推进法治建设第一责任人职责，把法治政府建设纳入年度工作要点统筹推进。
（二）深化政务公开工作
我局坚持以公开为常态、不公开为例外，全年主动公开政府信息 485 条，办理依申请公开 36 件，全部在法定期限内答复，未发生因政务公开引发的行政复议和行政诉讼。
二、规范行政权力运行
（一）严格规范性文件管理
全年制定出台财政规范性文件 9 件，均经过合法性审核和集体讨论决定，备案率和及时率均达到百分之百，清理涉及营商环境的规范性文件 23 件。
（二）强化财会监督检查
组织开展会计信息质量检查 148 户次，对发现问题的单位依法作出行政处罚 17 起，罚没金额共计 64.5 万元，有力维护了财经秩序。

宁波市财政局
2022年1月20日
"""


def make_docx() -> bytes:
    import docx

    document = docx.Document()
    for text in [
        "温州市司法局2022年法治政府建设年度报告",
        "2022年，温州市司法局坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻落实上级关于"
        "法治政府建设的部署要求，现将本年度法治政府建设情况报告如下：",
        "一、主要举措和成效",
        "（一）推进公共法律服务体系建设",
        "我局全年新建村（社区）公共法律服务点 263 个，组织律师为群众提供免费法律咨询 9371 人次，"
        "办理法律援助案件 5128 件，群众满意率保持在较高水平。",
        "（二）深化人民调解工作",
        "全市各级人民调解组织全年共调解各类矛盾纠纷 41726 件，调解成功率达到百分之九十八以上，"
        "有效维护了社会和谐稳定。",
        "二、存在的不足和下一步打算",
        "我局将继续完善公共法律服务网络，推动法律服务资源向基层延伸，进一步提升人民群众的法治"
        "获得感和满意度。",
        "温州市司法局",
        "2023年1月15日",
    ]:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


HTML = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>台州市教育局2020年法治政府建设工作总结</title>
<script>var note = "脚本里的文字不应出现";</script></head><body>
<nav>首页 &gt; 政务公开 &gt; 法治政府</nav>
<div class="content">
<h1>台州市教育局2020年法治政府建设工作总结</h1>
<p>2020年，台州市教育局认真贯彻落实市委市政府关于法治政府建设的决策部署，依法治教工作取得新进展。现将主要工作总结如下：</p>
<h2>一、依法治校工作</h2>
<h3>（一）开展法治教育进校园活动</h3>
<p>我局全年组织开展法治教育进校园活动 316 场次，覆盖全市中小学生 27.8 万人次，聘任法治副校长 642 名，实现中小学校全覆盖。</p>
<h3>（二）规范校外培训机构管理</h3>
<p>全年检查校外培训机构 1459 家次，责令整改 203 家，依法取缔无证办学机构 38 家，校外培训市场秩序明显好转。</p>
<p>台州市教育局</p><p>2021年1月8日</p>
</div>
<footer>版权所有 台州市教育局 ICP备12345678号</footer>
</body></html>"""

KB_YAML = """report_id: jiaxing-audit-2019
title: 嘉兴市审计局2019年法治政府建设工作总结
agency: 嘉兴市审计局
agency_short:
- 嘉兴审计局
- 市审计局
region:
- 浙江省
- 嘉兴市
year: 2019
published: '2020-01-10'
doc_type: 工作总结
source_file: ''
script: simplified
passages:
- id: jiaxing-audit-2019-p1
  section:
  - 一、审计监督
  text: 2019年，嘉兴市审计局全年共完成审计项目 87 个，查出违规金额 3.6 亿元，提出审计建议 412 条，推动建立健全制度 59 项。
- id: jiaxing-audit-2019-p2
  section:
  - 二、普法宣传
  text: 我局组织开展审计法宣传周活动，发放宣传资料 2700 余份，举办专题法治讲座 14 场。
"""


def make_pdf(content: bytes) -> bytes:
    """A minimal valid one-page PDF (Helvetica) whose page draws `content`."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


ENGLISH_PDF = make_pdf(
    b"BT /F1 12 Tf 72 720 Td (Annual report on building a law-based government, 2021.) Tj "
    b"0 -16 Td (The bureau published 485 items of government information.) Tj ET"
)
SCANNED_PDF = make_pdf(b"0.5 g 72 72 468 648 re f")  # a grey rectangle, no text


def zip_bomb_docx() -> bytes:
    """A .docx whose word/document.xml is 5 MB of zeros deflated to a few KB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", b"0" * (5 * 1024 * 1024))
    return out.getvalue()


UNKNOWN_KEY_YAML = KB_YAML.replace("report_id: jiaxing-audit-2019", "report_id: bad-key") + (
    "reviewer: 张三\n"
)
ANCHOR_YAML = (
    KB_YAML.replace("report_id: jiaxing-audit-2019", "report_id: bad-anchor")
    .replace(
        "agency_short:\n- 嘉兴审计局\n- 市审计局", "agency_short: &names\n- 嘉兴审计局\n- 市审计局"
    )
    .replace("region:\n- 浙江省\n- 嘉兴市", "region: *names")
)


NO_AGENCY = """2021年法治建设工作总结

2021年，我们坚持依法办事，认真落实各项法治建设任务，全年各项工作稳步推进，取得了一定成效。现将有关情况总结如下：

一、主要工作
（一）学法用法
全年组织集体学法活动 11 次，参加人员 260 余人次，编印学习资料 95 册，干部职工的法治意识明显增强。
（二）矛盾化解
全年受理群众来信来访 73 件，按期办结率达到百分之百，未发生越级上访和群体性事件。
"""
