"""Assertions shared by the API tests."""

from typing import Any

from httpx import Response


def assert_error(response: Response, status: int, code: str) -> dict[str, Any]:
    """The response is an error in the API's one format, with this status and code; returns the error body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error
