"""RealtimeKit's error envelope: the one judge of "is this answer the error envelope", for
every phase (scenarios through `ApiResponse`, the fuzz phase through its `error_envelope`
check), so API-02 and API-03 mean the same thing wherever they are checked.

What Cloudflare's description documents (cloudflare-realtimekit-openapi.yaml, the response
`realtimekit_GenericError` and the 404s of GetActiveSession, kick and get_active_recording):
content `application/json` with the schema `realtimekit_GenericErrorResponse`:

    {success: boolean (false), error: {code: number, message: string}}, all required,
    `code` described as "HTTP status code of the error".

Hence, and no stricter:
- the media type is `application/json` (parameters such as `charset` allowed, any case):
  that is the only media type the description gives the envelope, so a body that merely
  parses as JSON under `text/plain`, or with no content type at all, is not it;
- `code` is a JSON number (`404` and `404.0` alike: the schema says number, not integer;
  a boolean is no number) equal to the HTTP status.
"""

from __future__ import annotations

from typing import Any

__all__ = ["envelope_problem", "is_json_media_type"]

JSON_MEDIA_TYPE = "application/json"


def is_json_media_type(content_type: str | None) -> bool:
    """Whether a Content-Type value is the description's `application/json`."""
    return (content_type or "").split(";")[0].strip().lower() == JSON_MEDIA_TYPE


def envelope_problem(status: int, content_type: str | None, body: Any) -> str | None:
    """Why an answer is not `{success: false, error: {code: <status>, message}}` served as
    application/json, or None when it is. `body` is the parsed JSON body (None if none)."""
    if not is_json_media_type(content_type):
        return f"content type is {content_type or 'missing'}, not {JSON_MEDIA_TYPE}"
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if body.get("success") is not False:
        return f"`success` is {body.get('success')!r}, not false"
    error = body.get("error")
    if not isinstance(error, dict):
        return "there is no `error` object"
    code = error.get("code")
    if not isinstance(code, int | float) or isinstance(code, bool):
        return f"`error.code` is {code!r}, not a number"
    if code != status:
        return f"`error.code` is {code!r}, not the HTTP status {status}"
    if not isinstance(error.get("message"), str):
        return "`error.message` is not a string"
    return None
