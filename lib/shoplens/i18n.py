"""Report wording in English and Chinese. A key missing in one language is a bug the tests catch."""

from __future__ import annotations

from shoplens.errors import ShoplensError

LANGS = ("en", "zh")

TEXT: dict[str, dict[str, str]] = {
    "shop_report": {"en": "Shop effect report", "zh": "店铺经营效果报告"},
    "creator_report": {"en": "Creator report", "zh": "达人带货报告"},
    "live_recap": {"en": "LIVE recap", "zh": "直播复盘"},
    "explore": {"en": "Explore", "zh": "数据探索"},
    "campaign_recap": {"en": "Campaign recap", "zh": "活动复盘"},
    "kpi_scorecard": {"en": "KPI scorecard", "zh": "KPI 达成看板"},
    "all_shops": {"en": "All shops", "zh": "全部店铺"},
    "scorecard": {"en": "Targets and attainment", "zh": "目标与达成"},
    "attainment_trend": {"en": "Attainment, last four weeks", "zh": "近四周达成率"},
    "owner": {"en": "Owner", "zh": "负责人"},
    "role": {"en": "Role", "zh": "岗位"},
    "target": {"en": "Target", "zh": "目标"},
    "actual": {"en": "Actual", "zh": "实际"},
    "attainment": {"en": "Attainment", "zh": "达成率"},
    "operations": {"en": "Operations", "zh": "运营"},
    "ad_buyer": {"en": "Ad buyer", "zh": "投手"},
    "live_host": {"en": "LIVE host", "zh": "主播"},
    "week": {"en": "Week", "zh": "周"},
    "campaign": {"en": "Campaign", "zh": "活动"},
    "campaign_days": {"en": "Campaign days", "zh": "活动日期"},
    "trend": {"en": "Before, during and after", "zh": "活动前、中、后趋势"},
    "during": {"en": "campaign", "zh": "活动期间"},
    "results_vs_previous": {"en": "Results against the previous comparable period",
                            "zh": "与上一可比期间对比"},
    "campaign_own": {"en": "The campaign's own results", "zh": "活动自身效果"},
    "peak": {"en": "The peak and what drove it", "zh": "峰值日及其驱动因素"},
    "peak_day": {"en": "Peak day", "zh": "峰值日"},
    "no_peak": {"en": "No sales during the campaign.", "zh": "活动期间无销售。"},
    "leaderboard": {"en": "Creator leaderboard", "zh": "达人排行榜"},
    "creator_content": {"en": "Each creator's content", "zh": "达人内容表现"},
    "videos": {"en": "Videos", "zh": "短视频"},
    "lives": {"en": "LIVE sessions", "zh": "直播场次"},
    "new_vs_repeat": {"en": "New and repeat creators", "zh": "新达人与复购达人"},
    "new_creators": {"en": "New this period", "zh": "本期新达人"},
    "repeat_creators": {"en": "Also active before", "zh": "此前已合作达人"},
    "content_id": {"en": "Content", "zh": "内容"},
    "live": {"en": "LIVE session", "zh": "直播场次"},
    "session_kpis": {"en": "Session results", "zh": "直播核心数据"},
    "sessions": {"en": "Every session", "zh": "各场直播"},
    "sold_during": {"en": "Products sold while on air", "zh": "直播期间售出商品"},
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
    "analytics_until": {"en": "Analytics available to", "zh": "分析数据截至"},
    "stale_analytics": {"en": "Shop analytics do not yet cover the whole period: traffic, content and paid-GMV "
                              "figures for the last days are incomplete.",
                        "zh": "店铺分析数据尚未覆盖整个报告期间：最后几天的流量、内容与付费 GMV 数据不完整。"},
    "previous": {"en": "Previous period", "zh": "上一期"},
    "change": {"en": "Change", "zh": "变化"},
    "content_and_channels": {"en": "GMV by content type and channel", "zh": "按内容类型与渠道的 GMV"},
    "content_type": {"en": "Content type", "zh": "内容类型"},
    "channel": {"en": "Channel", "zh": "渠道"},
    "top_products": {"en": "Top products", "zh": "热销商品"},
    "product": {"en": "Product", "zh": "商品"},
    "top_creators": {"en": "Top creators", "zh": "头部达人"},
    "creator": {"en": "Creator", "zh": "达人"},
    "refunds_cancellations": {"en": "Refunds and cancellations", "zh": "退款与取消"},
    "funnel": {"en": "Conversion funnel", "zh": "转化漏斗"},
    "nothing_in_period": {"en": "Nothing in this period.", "zh": "本期间无数据。"},
    "VIDEO": {"en": "Video", "zh": "短视频"},
    "LIVE": {"en": "LIVE", "zh": "直播"},
    "PRODUCT_CARD": {"en": "Product card", "zh": "商品卡"},
    "affiliate": {"en": "Affiliate creators", "zh": "联盟达人"},
    "own": {"en": "Own channels", "zh": "自有渠道"},
    "paid": {"en": "Paid traffic", "zh": "付费流量"},
    "organic": {"en": "Organic traffic", "zh": "自然流量"},
}


def t(key: str, lang: str) -> str:
    """The text for `key` in `lang`."""
    if lang not in LANGS:
        raise ShoplensError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    return TEXT[key][lang]
