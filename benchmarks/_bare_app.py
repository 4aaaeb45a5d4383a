"""The baseline of `benchmarks.api`: one bare FastAPI route (no middleware, database or auth), served by uvicorn the
way `vocalis serve` serves the platform (one process, uvicorn's default loop and HTTP implementation, no access log).

Its JSON body has the fields and about the size of `GET /api/v1/auth/me`'s, so both send the same bytes.
"""

import argparse
from typing import Any

import uvicorn
from fastapi import FastAPI

app = FastAPI()

_USER: dict[str, Any] = {
    "id": "6f1c2a7e-3b0d-4d8e-9a51-2c7b9e0f4a13",
    "tenant_id": "0b9d5e44-7c1a-4f62-8e3d-5a6b7c8d9e0f",
    "email": "bench-user@example.com",
    "username": "bench_user",
    "first_name": None,
    "last_name": None,
    "role": "owner",
    "is_super_admin": False,
    "is_active": True,
    "is_verified": False,
    "verified_at": None,
    "last_login_at": "2026-01-01T12:00:00.000000Z",
    "created_at": "2026-01-01T12:00:00.000000Z",
    "updated_at": "2026-01-01T12:00:00.000000Z",
}


@app.get("/bare")
async def bare() -> dict[str, Any]:
    return _USER


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the bare baseline route")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The same call as `vocalis serve` makes; its logging setup disables uvicorn's access log, so this does too.
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
