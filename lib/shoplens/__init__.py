"""shoplens: sync TikTok Shop data into DuckDB, define KPIs once, render notebook reports you own."""

__version__ = "0.1.0"
