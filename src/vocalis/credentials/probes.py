"""Checking an API key with its provider: one cheap authenticated GET that any valid key may make.

- OpenAI and OpenAI-compatible servers: `GET {base_url}/models` with `Authorization: Bearer <key>`.
- ElevenLabs: `GET {base_url}/v1/user` with `xi-api-key: <key>`.
- Deepgram: `GET {base_url}/v1/projects` with `Authorization: Token <key>`.

The outcome is a sentence for people, never an exception, and never contains the key nor the server's words: the
answer's body goes to the server log only, so the test cannot be used to read what a server says. The request goes
through kit/outbound.py, which refuses private, loopback and link-local addresses.
"""

import httpx
from loguru import logger

from vocalis.kit import outbound

MAX_ERROR_CHARS = 500
LOGGED_BODY_CHARS = 500


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


async def check(
    http: outbound.Outbound, provider: str, base_url: str, api_key: str, timeout_seconds: float
) -> str | None:
    """None when the provider accepts the key, else why not (refused, unreachable, or not the provider's API).

    Raises OutboundBusy when the tenant has too many outbound requests running."""
    url, headers, expected = _request(provider, base_url, api_key)
    try:
        async with http.client(timeout_seconds) as client:
            response = await client.get(url, headers={**headers, "Accept": "application/json"})
    except outbound.AddressRefused as exc:
        return _clean(str(exc), api_key)
    except httpx.TimeoutException:
        return _clean(f"{base_url} did not answer within {timeout_seconds:g} s", api_key)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        # The exception's text may quote the request; its class name says enough (connection refused, DNS...).
        return _clean(f"Could not reach {base_url} ({exc.__class__.__name__})", api_key)
    hint = " (for OpenAI-compatible servers it usually ends in /v1)" if provider == "openai" else ""
    if response.status_code != 200:
        logger.info(
            "Credential test: {url} answered {status}: {body}",
            url=url,
            status=response.status_code,
            body=_clean(response.text, api_key)[:LOGGED_BODY_CHARS],
        )
    if response.status_code in (401, 403):
        return _clean(f"The provider refused the key ({response.status_code})", api_key)
    if response.status_code == 404:
        return _clean(f"The provider answered 404 at {url}; check the base URL{hint}", api_key)
    if response.status_code != 200:
        return _clean(f"The provider answered {response.status_code}", api_key)
    if not _has_field(response, expected):
        return _clean(f"{url} answered, but not as the {provider} API does; check the base URL{hint}", api_key)
    return None


def _has_field(response: httpx.Response, field: str) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and field in body


def _clean(message: str, api_key: str) -> str:
    """The message without the key, shortened to fit the stored column."""
    if api_key:
        message = message.replace(api_key, "***")
    return message[:MAX_ERROR_CHARS]
