"""Report wording in English and Chinese. A key missing in one language is a bug the tests catch."""

from __future__ import annotations

from shoplens.errors import ShoplensError

LANGS = ("en", "zh")

TEXT: dict[str, dict[str, str]] = {
    "shop_report": {"en": "Shop effect report", "zh": "店铺经营效果报告"},
    "period": {"en": "Period", "zh": "报告期间"},
    "shop": {"en": "Shop", "zh": "店铺"},
    "generated": {"en": "Generated", "zh": "生成时间"},
    "freshness": {"en": "Data as of", "zh": "数据更新至"},
    "never_synced": {"en": "never synced", "zh": "尚未同步"},
    "headline": {"en": "Headline KPIs", "zh": "核心指标"},
    "daily_gmv": {"en": "Daily GMV and orders", "zh": "每日 GMV 与订单"},
    "definitions": {"en": "Definitions in force", "zh": "本报告采用的口径"},
    "glossary": {"en": "Glossary", "zh": "指标说明"},
    "metric": {"en": "Metric", "zh": "指标"},
    "value": {"en": "Value", "zh": "数值"},
    "day": {"en": "Day", "zh": "日期"},
    "currency": {"en": "Currency", "zh": "币种"},
    "contents": {"en": "Contents", "zh": "目录"},
}


def t(key: str, lang: str) -> str:
    """The text for `key` in `lang`."""
    if lang not in LANGS:
        raise ShoplensError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    return TEXT[key][lang]
