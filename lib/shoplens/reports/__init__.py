"""Reports: the context notebooks open, papermill execution, and the batch over shops."""

from shoplens.reports.context import ReportContext, format_value

__all__ = ["ReportContext", "format_value"]
