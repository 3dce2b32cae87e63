"""KPI catalogue, validator, SQL compiler and the query API. Only the compiler writes KPI SQL."""

from shoplens.metrics.api import default_catalogue, glossary, glossary_html, glossary_markdown, parse_period, query
from shoplens.metrics.catalogue import CATALOGUE, DIMENSIONS, Catalogue, Metric, Policies, Source, validate
from shoplens.metrics.compiler import QuerySpec, comparison_period, compile_query

__all__ = ["CATALOGUE", "DIMENSIONS", "Catalogue", "Metric", "Policies", "QuerySpec", "Source", "comparison_period",
           "compile_query", "default_catalogue", "glossary", "glossary_html", "glossary_markdown", "parse_period",
           "query", "validate"]
