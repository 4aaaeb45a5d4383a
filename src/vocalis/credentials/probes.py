"""Checking an API key with its provider: one cheap authenticated GET that any valid key may make.

- OpenAI and OpenAI-compatible servers: `GET {base_url}/models` with `Authorization: Bearer <key>`.
- ElevenLabs: `GET {base_url}/v1/user` with `xi-api-key: <key>`.
- Deepgram: `GET {base_url}/v1/projects` with `Authorization: Token <key>`.

The outcome is a sentence for people, never an exception, and never contains the key.
"""

from typing import Any

import httpx

MAX_ERROR_CHARS = 500


def _request(provider: str, base_url: str, api_key: str) -> tuple[str, dict[str, str], str]:
    """(url, headers, the top-level JSON field a successful answer has)."""
    root = base_url.rstrip("/")
    if provider == "openai":
        return f"{root}/models", {"Authorization": f"Bearer {api_key}"}, "data"
    if provider == "elevenlabs":
        return f"{root}/v1/user", {"xi-api-key": api_key}, "subscription"
    if provider == "deepgram":
        return f"{root}/v1/projects", {"Authorization": f"Token {api_key}"}, "projects"
    raise ValueError(f"No key test for provider {provider!r}")


async def check(provider: str, base_url: str, api_key: str, timeout_seconds: float) -> str | None:
    """None when the provider accepts the key, else why not (refused, unreachable, or not the provider's API)."""
    url, headers, expected = _request(provider, base_url, api_key)
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False) as client:
            response = await client.get(url, headers={**headers, "Accept": "application/json"})
    except httpx.TimeoutException:
        return _clean(f"{base_url} did not answer within {timeout_seconds:g} s", api_key)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        # The exception's text may quote the request; its class name says enough (connection refused, DNS...).
        return _clean(f"Could not reach {base_url} ({exc.__class__.__name__})", api_key)
    body = _json(response)
    said = f"{response.status_code}: {detail}" if (detail := _detail(body)) else str(response.status_code)
    hint = " (for OpenAI-compatible servers it usually ends in /v1)" if provider == "openai" else ""
    if response.status_code in (401, 403):
        return _clean(f"The provider refused the key ({said})", api_key)
    if response.status_code == 404:
        return _clean(f"The provider answered {said} at {url}; check the base URL{hint}", api_key)
    if response.status_code != 200:
        return _clean(f"The provider answered {said}", api_key)
    if not isinstance(body, dict) or expected not in body:
        return _clean(f"{url} answered, but not as the {provider} API does; check the base URL{hint}", api_key)
    return None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _detail(body: Any) -> str:
    """The error message in the providers' documented error bodies (OpenAI, ElevenLabs, Deepgram legacy and new)."""
    if not isinstance(body, dict):
        return ""
    candidates: list[Any] = []
    error, detail = body.get("error"), body.get("detail")
    if isinstance(error, dict):
        candidates.append(error.get("message"))
    candidates.append(error)
    if isinstance(detail, dict):
        candidates.append(detail.get("message"))
    candidates += [detail, body.get("err_msg"), body.get("message")]
    return next((text for text in candidates if isinstance(text, str) and text.strip()), "").strip()[:200]


def _clean(message: str, api_key: str) -> str:
    """The message without the key (a careless server may echo it), shortened to fit the stored column."""
    if api_key:
        message = message.replace(api_key, "***")
    return message[:MAX_ERROR_CHARS]
