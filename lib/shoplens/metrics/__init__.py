"""KPI catalogue, validator, SQL compiler, the query API and `explain` (a figure down to its records).
Only the compiler writes KPI SQL."""

from shoplens.metrics.api import default_catalogue, glossary, glossary_html, glossary_markdown, parse_period, query
from shoplens.metrics.catalogue import CATALOGUE, DIMENSIONS, Catalogue, Metric, Policies, Source, validate
from shoplens.metrics.compiler import QuerySpec, comparison_period, compile_query, compile_records
from shoplens.metrics.explain import Explanation, explain

__all__ = ["CATALOGUE", "DIMENSIONS", "Catalogue", "Explanation", "Metric", "Policies", "QuerySpec", "Source",
           "comparison_period", "compile_query", "compile_records", "default_catalogue", "explain", "glossary",
           "glossary_html", "glossary_markdown", "parse_period", "query", "validate"]
