"""The official OpenAPI description of the TikTok Shop API, as the contract for client and sandbox.

TikTok ships it inside the npm package `@tts-open-toolkit/cli` (pinned below). `fetch_oas()` runs
`npm pack` (shoplens.npm) into a cache folder outside git (never committed) and keeps only the OAS files.
`OpenApiContract` finds the operation for a request and lists every way a request or a response
breaks it: missing required query parameters or headers, unknown query parameters, a body or a
response that does not validate against the operation's schema.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import httpx

from shoplens.npm import NpmUnavailable, npm_pack

OAS_PACKAGE = "@tts-open-toolkit/cli"
OAS_VERSION = "0.1.7"
OAS_INNER = "package/skills/tts-openapi-guide/references/oas"
#: query parameters every signed call carries; the OAS does not list them per operation
COMMON_QUERY = {"app_key", "sign", "timestamp"}


OasUnavailable = NpmUnavailable  # npm is missing or the registry cannot be reached


def fetch_oas(cache_dir: Path, version: str = OAS_VERSION) -> Path:
    """The folder holding `index.json` and `paths/*.json`, downloaded once into `cache_dir`."""
    return npm_pack(OAS_PACKAGE, version, cache_dir / f"tts-oas-{version}", OAS_INNER)


class OpenApiContract:
    """Operations from the split OAS files, looked up by method and concrete path."""

    def __init__(self, oas_dir: Path) -> None:
        self.dir = oas_dir
        self._operations: dict[tuple[str, str], dict] = {}
        self._patterns: list[tuple[re.Pattern, str]] = []
        for file in sorted((oas_dir / "paths").glob("*.json")):
            for template, methods in json.loads(file.read_text(encoding="utf-8"))["paths"].items():
                for method, operation in methods.items():
                    self._operations[(method.upper(), template)] = operation
                pattern = "^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"
                self._patterns.append((re.compile(pattern), template))

    def template_for(self, path: str) -> str:
        for pattern, template in self._patterns:
            if pattern.match(path):
                return template
        raise KeyError(f"no OAS path matches {path}")

    def operation(self, method: str, path: str) -> dict:
        return self._operations[(method.upper(), self.template_for(path))]

    def request_problems(self, request: httpx.Request) -> list[str]:
        """Every way a built request breaks its operation's contract."""
        op = self.operation(request.method, request.url.path)
        problems = []
        sent_query = {k for k, _ in request.url.params.multi_items()}
        declared_query = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        for p in op.get("parameters", []):
            if not p.get("required"):
                continue
            if p["in"] == "query" and p["name"] not in sent_query:
                problems.append(f"missing required query parameter {p['name']}")
            if p["in"] == "header" and p["name"].lower() not in request.headers:
                problems.append(f"missing required header {p['name']}")
        for name in sorted(sent_query - declared_query - COMMON_QUERY):
            problems.append(f"query parameter {name} is not in the operation")
        body_schema = (op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema"))
        if request.content:
            if body_schema is None:
                problems.append("a body was sent to an operation that takes none")
            else:
                problems += [f"body: {e}" for e in _schema_errors(body_schema, json.loads(request.content))]
        return problems

    def response_problems(self, method: str, path: str, payload: dict) -> list[str]:
        """Every way a response body breaks the operation's 200 schema."""
        op = self.operation(method, path)
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        return [f"response: {e}" for e in _schema_errors(schema, payload)]


def _schema_errors(schema: dict, instance) -> list[str]:
    validator = _validator_class()(schema)
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))]


@lru_cache(maxsize=1)
def _validator_class():
    from openapi_schema_validator import OAS30Validator

    return OAS30Validator
