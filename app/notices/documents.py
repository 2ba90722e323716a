"""Public documents: the village notice (公示) and the announcement (公告).

They are rendered from :class:`PublicFacts` alone — a whitelist of what may be posted on a
village board. Nothing else of the case reaches the renderer, so ID numbers, phone numbers,
bank accounts, health conditions and risk types cannot appear, whatever the case holds.
"""

from __future__ import annotations

import base64
import hashlib
import html
from dataclasses import dataclass
from datetime import date

MONITORING_TYPE_TITLES = {
    "unstable_lifted": "脱贫不稳定户",
    "marginal": "边缘易致贫户",
    "sudden_hardship": "突发严重困难户",
}


@dataclass(frozen=True)
class PublicFacts:
    """What a public document may show, and nothing more."""

    head_name: str
    village_name: str
    township_name: str
    household_size: int
    issued_on: date
    village_group: str | None = None
    """村民小组 (社/组), shown after the village."""

    @property
    def place(self) -> str:
        return f"{self.township_name}{self.village_name}{self.village_group or ''}"


@dataclass(frozen=True)
class Notice:
    facts: PublicFacts
    elimination: bool
    first_day: date
    last_day: date
    days: int
    location: str | None


@dataclass(frozen=True)
class Announcement:
    facts: PublicFacts
    monitoring_type: str
    responsible_person: str
    posting: tuple[date, str] | None = None
    """When and where the announcement was posted, once recorded."""


def _day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def notice_lines(notice: Notice) -> tuple[str, list[str]]:
    f = notice.facts
    decision = "拟标注“风险消除”" if notice.elimination else "拟纳入防返贫监测对象"
    basis = (
        "经村提名、民主评议，以下监测对象收入持续稳定、“两不愁三保障”及饮水安全持续巩固，"
        "拟标注为“风险消除”，现予公示。"
        if notice.elimination
        else "经村级核实、民主评议，以下农户拟纳入防返贫监测对象，现予公示。"
    )
    where = f"（公示地点：{notice.location}）" if notice.location else ""
    title = f"{f.village_name}防返贫监测{'风险消除' if notice.elimination else '对象'}公示"
    return title, [
        "根据蛟河市健全防止返贫动态监测和帮扶机制实施方案，" + basis,
        "",
        f"户主姓名：{f.head_name}",
        f"所在村：{f.place}",
        f"家庭人口：{f.household_size}人",
        f"拟定事项：{decision}",
        "",
        f"公示期：{_day(notice.first_day)}至{_day(notice.last_day)}（共{notice.days}天）。",
        f"公示期内如有异议，请向{f.village_name}村民委员会反映{where}。",
        "",
        f"{f.village_name}村民委员会",
        _day(f.issued_on),
    ]


def announcement_lines(announcement: Announcement) -> tuple[str, list[str]]:
    f = announcement.facts
    posted = (
        [f"公告张贴：{_day(announcement.posting[0])}，{announcement.posting[1]}"]
        if announcement.posting
        else []
    )
    return f"{f.village_name}防返贫监测对象公告", [
        "经村提名、乡镇复核、市级确定，以下农户确定为防返贫监测对象，现予公告。",
        "",
        f"户主姓名：{f.head_name}",
        f"所在村：{f.place}",
        f"家庭人口：{f.household_size}人",
        f"监测对象类别：{MONITORING_TYPE_TITLES[announcement.monitoring_type]}",
        f"帮扶责任人：{announcement.responsible_person}",
        *posted,
        "",
        f"{f.village_name}村民委员会（受蛟河市乡村振兴局委托）",
        _day(f.issued_on),
    ]


def as_text(title: str, lines: list[str]) -> str:
    return "\n".join([title, "", *lines]) + "\n"


PRINT_STYLE = """
  body { font-family: "Songti SC", "SimSun", serif; max-width: 40em; margin: 3em auto;
         font-size: 16pt; line-height: 1.8; }
  h1 { text-align: center; font-size: 22pt; }
  p { margin: 0; }
  @page { size: A4; margin: 2.5cm; }
  @media print { body { margin: 0; max-width: none; } }
"""
PRINT_STYLE_SOURCE = (
    "'sha256-" + base64.b64encode(hashlib.sha256(PRINT_STYLE.encode()).digest()).decode() + "'"
)
"""The printable page's one style block as a CSP source: the console opens the page it
fetched in a window of its own, which keeps the console's policy (styles from its origin
only) and so needs this hash to show the page as printed."""


def as_html(title: str, lines: list[str]) -> str:
    """A printable page: one A4 sheet, large type, no scripts, everything escaped."""
    body = "\n".join(f"<p>{html.escape(line)}</p>" if line else "<br>" for line in lines)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{PRINT_STYLE}</style></head>
<body><h1>{html.escape(title)}</h1>
{body}
</body></html>
"""
