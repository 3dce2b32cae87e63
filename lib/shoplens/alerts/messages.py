"""What an alert says, in the rule's language (English or Chinese): which line was crossed, the figure
and the threshold, the window and the shop, the metric's definition, and where the relevant report is.

A `Message` holds plain text only: a title, a summary sentence, labelled fields, items (platform text:
product titles, sync errors) and a link. Each channel renders it into its own markup and escapes every
piece of text for that markup (`channels.py`), so a shop or product name can never format, mention or
link anything.

Must never: hold a secret, or markup of any channel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from shoplens.alerts.conditions import Finding
from shoplens.alerts.windows import describe, span
from shoplens.i18n import t
from shoplens.metrics import default_catalogue

KINDS = ("fired", "repeat", "resolved")

#: every piece of wording, in both languages (a test checks that none is missing)
WORDS: dict[str, dict[str, str]] = {
    "fired": {"en": "ALERT", "zh": "告警"},
    "repeat": {"en": "STILL FIRING", "zh": "持续告警"},
    "resolved": {"en": "RESOLVED", "zh": "已恢复"},
    "figure": {"en": "Figure", "zh": "数值"},
    "threshold": {"en": "Threshold", "zh": "阈值"},
    "previous": {"en": "Previous comparable window", "zh": "上一可比期间"},
    "change": {"en": "Change", "zh": "变化"},
    "window": {"en": "Window", "zh": "时间范围"},
    "shop": {"en": "Shop", "zh": "店铺"},
    "owner": {"en": "Owner", "zh": "负责人"},
    "definition": {"en": "Definition", "zh": "定义"},
    "note": {"en": "Note", "zh": "备注"},
    "rule": {"en": "Rule", "zh": "规则"},
    "report": {"en": "Report", "zh": "报告"},
    "open_report": {"en": "Open the shop report", "zh": "打开店铺报告"},
    "open_scorecard": {"en": "Open the KPI scorecard", "zh": "打开 KPI 达成看板"},
    "open_index": {"en": "Open the reports index", "zh": "打开报告目录"},
    "no_report": {"en": "none yet: run `shoplens reports run`", "zh": "暂无：请运行 `shoplens reports run`"},
    "above": {"en": "{label} above {limit}", "zh": "{label}高于 {limit}"},
    "below": {"en": "{label} below {limit}", "zh": "{label}低于 {limit}"},
    "falls_by": {"en": "{label} down more than {limit}", "zh": "{label}下降超过 {limit}"},
    "rises_by": {"en": "{label} up more than {limit}", "zh": "{label}上升超过 {limit}"},
    "anomaly": {"en": "{label} unusual", "zh": "{label}异常"},
    "target": {"en": "{label} below {limit} of target", "zh": "{label}目标达成率低于 {limit}"},
    "sync_stale": {"en": "Sync failing or stale beyond {limit}", "zh": "数据同步失败或超过 {limit} 未更新"},
    "authorization": {"en": "Authorization revoked or lapsing within {limit}", "zh": "授权已撤销或将在 {limit} 内到期"},
    "stockout_risk": {"en": "SKUs at stockout risk above {limit}", "zh": "缺货风险 SKU 数高于 {limit}"},
    "listing": {"en": "Listings taken down or refused above {limit}", "zh": "被下架或审核未通过的商品数高于 {limit}"},
    "says_fired": {"en": "{what}: {figure} over {window}.", "zh": "{what}：{window}的数值为 {figure}。"},
    "says_repeat": {"en": "Still true: {what}: {figure} over {window}.", "zh": "仍未恢复：{what}：{window}的数值为 {figure}。"},
    "says_resolved": {"en": "Cleared: {what} no longer holds; now {figure} over {window}.",
                      "zh": "已恢复：{what} 已不再成立；{window}的数值为 {figure}。"},
    "says_fired_now": {"en": "{what}: {figure}.", "zh": "{what}：{figure}。"},
    "says_repeat_now": {"en": "Still true: {what}: {figure}.", "zh": "仍未恢复：{what}：{figure}。"},
    "says_resolved_now": {"en": "Cleared: {what} no longer holds; now {figure}.",
                          "zh": "已恢复：{what} 已不再成立；当前为 {figure}。"},
    "anomaly_label": {"en": "Anomaly", "zh": "异常"},
    "anomaly_fact": {"en": "{kind} on {day}: expected about {expected}, robust z-score {deviation}",
                     "zh": "{day} 出现{kind}：预期约 {expected}，稳健 z 分数 {deviation}"},
    "spike": {"en": "a spike", "zh": "激增"},
    "drop": {"en": "a drop", "zh": "骤降"},
    "zero": {"en": "a drop to zero", "zh": "跌至零"},
    "target_label": {"en": "Target", "zh": "目标"},
    "target_fact": {"en": "actual {actual} against a target of {target} for {days} day(s), pro-rated from the weekly target",
                    "zh": "实际 {actual}，按周目标折算 {days} 天的目标为 {target}"},
    "auth_revoked": {"en": "revoked", "zh": "已撤销"},
    "auth_expired": {"en": "expired", "zh": "已过期"},
    "auth_expiring": {"en": "lapses {expires_at} (in {days_left} days)", "zh": "将于 {expires_at} 到期（剩 {days_left} 天）"},
    "last_sync_age": {"en": "oldest successful sync {age} ago", "zh": "最早一次成功同步在 {age} 前"},
    "listing_count": {"en": "{count} product(s)", "zh": "{count} 个商品"},
    "more_items": {"en": "… and {n} more", "zh": "……另有 {n} 项"},
    "def_sync_stale": {"en": "A shop's sync keeps failing, or a synced resource has had no successful sync for longer "
                             "than the limit: its figures stop where the last good sync left them.",
                       "zh": "店铺同步持续失败，或某项数据超过时限未成功同步：相关数字停留在最后一次成功同步时。"},
    "def_authorization": {"en": "The seller revoked the shop's authorization, or it lapses within the limit; until the "
                                "seller authorizes again (`shoplens auth url`), nothing syncs.",
                          "zh": "卖家已撤销店铺授权，或授权将在时限内到期；在卖家重新授权（`shoplens auth url`）之前无法同步数据。"},
    "def_listing": {"en": "Products the platform deactivated, froze or refused in audit (status PLATFORM_DEACTIVATED, "
                          "FREEZE or FAILED): they cannot sell.",
                    "zh": "被平台下架、冻结或审核未通过的商品（状态 PLATFORM_DEACTIVATED、FREEZE 或 FAILED），无法销售。"},
}


def word(key: str, lang: str, **values) -> str:
    return WORDS[key][lang].format(**values)


@dataclass
class Message:
    """An alert message in plain text. `fields` are (label, value) pairs; `items` platform text lines;
    `link` (label, url) or None."""

    kind: str
    lang: str
    rule_id: str
    subject: str
    shop_id: str | None
    title: str
    summary: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    link: tuple[str, str] | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Message:
        data = dict(data)
        data["fields"] = [tuple(f) for f in data.get("fields", [])]
        data["link"] = tuple(data["link"]) if data.get("link") else None
        return cls(**data)

    def text(self) -> str:
        """The whole message as plain text (email's text part, the generic webhook's `text`)."""
        lines = [self.title, "", self.summary, ""]
        lines += [f"{label}: {value}" for label, value in self.fields]
        if self.items:
            lines += [""] + [f"- {item}" for item in self.items]
        if self.link:
            lines += ["", f"{self.link[0]}: {self.link[1]}"]
        return "\n".join(lines).rstrip() + "\n"


def compose(finding: Finding, kind: str, *, home: Path | None = None, reports_url: str | None = None) -> Message:
    """The message for `finding` becoming `kind` (fired, repeat or resolved), in its rule's language."""
    rule, lang = finding.rule, finding.rule.language
    catalogue = default_catalogue()
    label = catalogue.get(rule.metric).label[lang] if rule.metric else ""
    what = _what(finding, label, lang)
    shop = f"{finding.shop_name} ({finding.shop_id})" if finding.shop_name else (finding.shop_id or "")
    figure = _figure(finding, lang)
    window = describe(rule.window, finding.days, lang) if finding.days else ""
    title = f"[shoplens] {word(kind, lang)} · {what} · {finding.shop_name or finding.shop_id}"
    summary = word(f"says_{kind}" if finding.days else f"says_{kind}_now", lang, what=what, figure=figure,
                   window=window)
    fields = [(word("figure", lang), figure), (word("threshold", lang), finding.limit_shown)]
    if finding.previous_days:
        fields.append((word("previous", lang), f"{finding.previous_shown} · {span(finding.previous_days)}"))
    if finding.change_shown:
        fields.append((word("change", lang), finding.change_shown))
    if finding.days:
        fields.append((word("window", lang), window))
    fields.append((word("shop", lang), shop))
    if "owner" in finding.facts:
        fields.append((word("owner", lang), f"{finding.facts['owner']} ({t(finding.facts['role'], lang)})"))
    if "anomaly" in finding.facts:
        facts = finding.facts
        fields.append((word("anomaly_label", lang), word("anomaly_fact", lang, kind=word(facts["anomaly"], lang),
                                                  day=facts["day"], expected=facts["expected"],
                                                  deviation=facts["deviation"])))
    if "target" in finding.facts:
        fields.append((word("target_label", lang), word("target_fact", lang, actual=finding.facts["actual"], target=finding.facts["target"],
                            days=finding.facts["target_days"])))
    fields.append((word("definition", lang), _definition(rule, lang)))
    if rule.note:
        fields.append((word("note", lang), rule.note))
    fields.append((word("rule", lang), rule.id))
    items = list(finding.items)
    if finding.facts.get("more"):
        items.append(word("more_items", lang, n=finding.facts["more"]))
    link = report_link(finding, lang, home=home, reports_url=reports_url)
    if link is None:
        fields.append((word("report", lang), word("no_report", lang)))
    return Message(kind, lang, rule.id, finding.subject, finding.shop_id, title, summary, fields, items, link)


def _what(finding: Finding, label: str, lang: str) -> str:
    rule = finding.rule
    if rule.kind in ("threshold", "change"):
        return word(rule.direction, lang, label=label, limit=finding.limit_shown.lstrip("+-"))
    if rule.kind in ("anomaly", "target"):
        return word(rule.kind, lang, label=label, limit=finding.limit_shown)
    return word(rule.kind, lang, limit=finding.limit_shown)


def _figure(finding: Finding, lang: str) -> str:
    kind = finding.rule.kind
    if kind == "authorization":
        facts = finding.facts
        if facts.get("problem") == "expiring":
            return word("auth_expiring", lang, expires_at=facts.get("expires_at", "?"), days_left=facts.get("days_left", "?"))
        return word(f"auth_{facts['problem']}", lang) if facts.get("problem") else finding.shown
    if kind == "sync_stale":
        return word("last_sync_age", lang, age=finding.shown)
    if kind == "listing":
        return word("listing_count", lang, count=finding.shown)
    if "day" in finding.facts:  # an anomaly: the figure of the day flagged
        return f"{finding.shown} ({finding.facts['day']})" if lang == "en" else f"{finding.shown}（{finding.facts['day']}）"
    return finding.shown or "–"


def _definition(rule, lang: str) -> str:
    if rule.metric:
        return default_catalogue().get(rule.metric).description[lang]
    if rule.kind == "stockout_risk":
        from shoplens.alerts.rules import STOCKOUT_METRIC

        return default_catalogue().get(STOCKOUT_METRIC).description[lang]
    return word(f"def_{rule.kind}", lang)


def report_link(finding: Finding, lang: str, *, home: Path | None, reports_url: str | None) -> tuple[str, str] | None:
    """(label, address) of the newest report for the finding: the shop report of its shop, or the KPI
    scorecard for a target rule; the index page when that report was never made; None without reports."""
    if home is None:
        return None
    reports = home / "reports"
    suffix = "" if lang == "en" else f".{lang}"
    if finding.rule.kind == "target":
        name, key = f"kpi_scorecard/all-shops{suffix}.html", "open_scorecard"
    else:
        name, key = f"shop_report/{finding.shop_id}{suffix}.html", "open_report"
    found = sorted(reports.glob(f"*/{name}"))
    if found:
        target, key = found[-1], key
    elif (reports / "index.html").exists():
        target, key = reports / "index.html", "open_index"
    else:
        return None
    relative = target.relative_to(reports).as_posix()
    address = f"{reports_url.rstrip('/')}/{relative}" if reports_url else target.resolve().as_uri()
    return word(key, lang), address
