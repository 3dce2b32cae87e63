"""Translate the API's error envelope into the typed errors of `shoplens.errors`.

TikTok overloads code 36009004 for several credential problems and asks clients to match the
message; every other documented code maps to one class. Messages tell the user what to do.
"""

from __future__ import annotations

from shoplens import errors

RATE_LIMIT = 36009002
RETRYABLE_CODES = frozenset({36009002, 36009003, 36009007})

_BY_CODE: dict[int, tuple[type[errors.ApiError], str]] = {
    106001: (errors.SignatureRejected,
             "the API rejected the request signature: check that SHOPLENS_APP_SECRET belongs to SHOPLENS_APP_KEY"),
    105002: (errors.AuthExpired, "the access token has expired: run `shoplens auth refresh`"),
    36004004: (errors.AuthCodeInvalid,
               "the auth code is invalid: codes are single-use and expire after 30 minutes; "
               "get a new one through `shoplens auth url`"),
    105005: (errors.ScopeMissing,
             "the app is not granted the scope this endpoint needs: add it in Partner Center and re-authorize"),
    106013: (errors.ShopCipherMissing, "this endpoint needs the shop's cipher (`shop_cipher`)"),
    101000: (errors.InvalidCredentials, "the access token does not belong to this shop: re-authorize the shop"),
    36009002: (errors.RateLimited, "rate limited by the API"),
    36009003: (errors.TransientApiError, "the API had an internal error"),
    36009007: (errors.TransientApiError, "the API timed out"),
    36009009: (errors.InvalidPath, "the API does not know this path: upgrade shoplens"),
    36009010: (errors.InvalidPath, "the API does not accept this method on this path"),
    36009014: (errors.InvalidPath, "the API version in the path is invalid or retired: upgrade shoplens"),
}


def error_from_response(status: int, payload: dict | None, *, path: str,
                        retry_after: float | None = None) -> errors.ApiError:
    """The typed error for a failed response (non-2xx status or non-zero `code`)."""
    payload = payload or {}
    code = payload.get("code")
    server_message = str(payload.get("message") or "").strip()
    request_id = payload.get("request_id")
    kwargs = {"code": code, "status": status, "request_id": request_id, "path": path}
    if status == 429 or code == RATE_LIMIT:
        return errors.RateLimited("rate limited by the API", retry_after=retry_after, **kwargs)
    if code in _BY_CODE:
        cls, message = _BY_CODE[code]
        return cls(message, **kwargs)
    if code == 36009004:
        return _credential_error(server_message, kwargs)
    if status >= 500:
        return errors.TransientApiError(f"the API answered HTTP {status}: {server_message}", **kwargs)
    return errors.ApiError(server_message or f"the API answered HTTP {status}", **kwargs)


def _credential_error(server_message: str, kwargs: dict) -> errors.ApiError:
    lowered = server_message.lower()
    if lowered.startswith("invalid request"):
        return errors.ApiError(f"{server_message} (the API refused a parameter shoplens sent: please report this "
                               "as a bug, with the request id)", **kwargs)
    if "version" in lowered:
        return errors.InvalidPath("the API version in the path is invalid: upgrade shoplens", **kwargs)
    if "timestamp" in lowered:
        hint = "check the machine's clock (the API accepts 5 minutes early to 30 seconds late)"
    elif "app_key" in lowered:
        hint = "check SHOPLENS_APP_KEY"
    elif "access_token" in lowered or "x-tts-access-token" in lowered:
        hint = "the access token is invalid: run `shoplens auth exchange` again"
    elif "shop_cipher" in lowered:
        hint = "shoplens sent shop_cipher where it is not allowed: this is a bug, please report it"
    else:
        hint = "check the app credentials"
    return errors.InvalidCredentials(f"{server_message} ({hint})", **kwargs)
