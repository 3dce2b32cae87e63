"""Every exception shoplens raises, in one tree.

    ShoplensError
    ├── ConfigError                 a setting, file or credential is missing or wrong
    ├── ApiError                    the TikTok Shop API (or the sandbox) answered with an error
    │   ├── SignatureRejected       106001: the `sign` query parameter did not match
    │   ├── InvalidCredentials      36009004 family: bad app key, bad token header, timestamp window
    │   ├── AuthExpired             105002: the access token has expired
    │   ├── AuthCodeInvalid         36004004: the auth code was used or is older than 30 minutes
    │   ├── ScopeMissing            105005: the app lacks a scope the endpoint needs
    │   ├── ShopCipherMissing       106013: a shop endpoint was called without `shop_cipher`
    │   ├── RateLimited             HTTP 429 / 36009002
    │   ├── InvalidPath             36009009 / 36009014: unknown path or API version
    │   └── TransientApiError       5xx, 36009003, 36009007, dropped connections (retryable)
    ├── SyncError                   a sync run could not complete
    ├── WarehouseError              the DuckDB warehouse is missing, locked or has an unexpected schema
    ├── ExportFileError             a Seller Center export cannot be imported: file, row and column
    ├── MetricError                 a metric query named something that does not exist
    │   └── MetricDefinitionError   the catalogue itself is invalid (carries every problem at once)
    ├── ReportError                 a notebook failed: notebook, cell index and exception name
    ├── RenderError                 a renderer failed: exit code and the tail of its stderr
    │   └── OutputsMissing          some formats were made, others could not be (e.g. PDFs without Chromium)
    ├── LinkError                   a tracking link, its UTM values, the click log or a click import is wrong
    ├── AttributionError            an attribution model, look-back window or half-life is not usable
    ├── AlertError                  alerts.toml is invalid (carries every problem at once), or a channel is
    │                               missing its secret
    └── WebhookError                the webhook receiver cannot listen, log or process notifications

Errors from libraries underneath (httpx, duckdb, papermill) are translated where they are caught,
with `raise ... from exc`. A message names the offending value and the option or file that fixes it.
This module must not import anything from the rest of the package.
"""

from __future__ import annotations


class ShoplensError(Exception):
    """Base class of every error shoplens raises on purpose."""


class ConfigError(ShoplensError):
    """A setting, file or credential is missing or invalid."""


class ApiError(ShoplensError):
    """The API answered with a non-zero `code` or an error HTTP status."""

    retryable = False

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None,
                 request_id: str | None = None, path: str | None = None) -> None:
        self.code = code
        self.status = status
        self.request_id = request_id
        self.path = path
        where = f" ({path})" if path else ""
        ident = f" [code {code}, HTTP {status}, request {request_id}]" if code is not None else ""
        super().__init__(f"{message}{where}{ident}")
        self.bare_message = message


class SignatureRejected(ApiError):
    """The API recomputed the signature and it did not match."""


class InvalidCredentials(ApiError):
    """App key, access token header or timestamp rejected."""


class AuthExpired(ApiError):
    """The access token has expired; refresh it."""


class AuthCodeInvalid(ApiError):
    """The auth code is single-use and valid for 30 minutes."""


class ScopeMissing(ApiError):
    """The app's granted scopes do not cover this endpoint."""


class ShopCipherMissing(ApiError):
    """A shop-scoped endpoint was called without `shop_cipher`."""


class InvalidPath(ApiError):
    """Unknown path, method or API version."""


class TransientApiError(ApiError):
    """A failure worth retrying: 5xx, internal error, timeout, dropped connection."""

    retryable = True


class RateLimited(TransientApiError):
    """HTTP 429 or code 36009002; `retry_after` is in seconds when the server said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class SyncError(ShoplensError):
    """A sync run could not complete."""


class WarehouseError(ShoplensError):
    """The warehouse is missing, locked or has an unexpected schema."""


class ExportFileError(ShoplensError):
    """A Seller Center export file was refused; `row` is 1-based as a spreadsheet shows it (header = 1)."""

    def __init__(self, message: str, *, file: str, row: int | None = None, column: str | None = None) -> None:
        self.file = file
        self.row = row
        self.column = column
        where = "".join([f", row {row}" if row is not None else "", f", column {column}" if column else ""])
        super().__init__(f"{file}{where}: {message}")


class MetricError(ShoplensError):
    """A metric query asked for an unknown metric, dimension, policy or period."""


class MetricDefinitionError(MetricError):
    """The metric catalogue is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the metric catalogue has {len(self.problems)} problem(s):\n{lines}")


class ReportError(ShoplensError):
    """A report notebook failed while executing."""

    def __init__(self, message: str, *, notebook: str, cell_index: int | None = None,
                 exception: str | None = None, output_path: str | None = None) -> None:
        self.message = message
        self.notebook = notebook
        self.cell_index = cell_index
        self.exception = exception
        self.output_path = output_path
        where = f" cell {cell_index}" if cell_index is not None else ""
        exc = f" ({exception})" if exception else ""
        super().__init__(f"{notebook}{where}{exc}: {message}")

    def __reduce__(self):  # survives pickling (a Dask worker sends it back)
        return _report_error, (self.message, self.notebook, self.cell_index, self.exception, self.output_path)


def _report_error(message, notebook, cell_index, exception, output_path) -> ReportError:
    return ReportError(message, notebook=notebook, cell_index=cell_index, exception=exception, output_path=output_path)


class RenderError(ShoplensError):
    """A renderer failed."""

    def __init__(self, message: str, *, exit_code: int | None = None, stderr_tail: str = "") -> None:
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail
        extra = f" (exit code {exit_code})" if exit_code is not None else ""
        tail = f"\n{stderr_tail}" if stderr_tail else ""
        super().__init__(f"{message}{extra}{tail}")


class OutputsMissing(RenderError):
    """A report was rendered in part: `outputs` were made (its HTML), `missing` maps each format that
    could not be made to why (e.g. {"pdf": "no Chromium found: ..."}). The report itself is fine."""

    def __init__(self, outputs: dict, missing: dict[str, str]) -> None:
        self.outputs = outputs
        self.missing = missing
        super().__init__("; ".join(f"{kind.upper()} not made: {reason}" for kind, reason in missing.items()))

    def __reduce__(self):  # survives pickling (a Dask worker hands it back)
        return (type(self), (self.outputs, self.missing))


class LinkError(ShoplensError):
    """A tracking link was refused (target, UTM value, shop) or clicks could not be logged or loaded."""


class AttributionError(ShoplensError):
    """An attribution setting was refused: unknown model, a window or half-life that is not a positive number."""


class AlertError(ShoplensError):
    """alerts.toml was refused: `problems` lists every problem found, each naming the rule (or channel)
    and the field; or a channel cannot be used (its secret is missing)."""

    def __init__(self, problems: list[str] | str, *, path: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.path = path
        where = f"{path}: " if path else ""
        if len(self.problems) == 1:
            super().__init__(f"{where}{self.problems[0]}")
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            super().__init__(f"{where}{len(self.problems)} problems:\n{lines}")


class WebhookError(ShoplensError):
    """The webhook receiver cannot listen or write its notification log, or a notification cannot be handled."""
