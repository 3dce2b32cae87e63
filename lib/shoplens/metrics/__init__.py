"""KPI catalogue, validator, SQL compiler and the query API. Only the compiler writes KPI SQL."""

from shoplens.metrics.api import default_catalogue, glossary, parse_period, query
from shoplens.metrics.catalogue import CATALOGUE, Catalogue, Metric, Policies, Source, validate
from shoplens.metrics.compiler import QuerySpec, compile_query

__all__ = ["CATALOGUE", "Catalogue", "Metric", "Policies", "QuerySpec", "Source", "compile_query",
           "default_catalogue", "glossary", "parse_period", "query", "validate"]
