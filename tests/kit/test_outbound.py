"""The one guarded path for requests made on a tenant's behalf: refused addresses, allowed hosts, no rebinding, no
redirects or proxies, bounded time, a cap per tenant; and no other module building its own HTTP client."""

import ast
import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.standins.server import serve
from vocalis.config import Settings
from vocalis.kit import outbound
from vocalis.kit.outbound import AddressRefused, Outbound, OutboundBusy

SRC = Path(__file__).resolve().parents[2] / "src" / "vocalis"
GUARD = SRC / "kit" / "outbound.py"
# Talks to our own Piper child process on 127.0.0.1, never to a tenant's server.
NOT_FOR_TENANTS = {SRC / "voice" / "providers" / "piper.py"}

arrived, release = threading.Event(), threading.Event()


async def hello(request: Request) -> Response:
    return PlainTextResponse(f"hello {request.headers['host']}")


async def bounce(request: Request) -> Response:
    return RedirectResponse(request.query_params["to"], status_code=302)


async def held(request: Request) -> Response:
    arrived.set()
    await asyncio.get_running_loop().run_in_executor(None, release.wait, 30)
    return PlainTextResponse("released")


async def drip(request: Request) -> Response:
    async def forever() -> AsyncIterator[bytes]:
        while True:
            yield b"."
            await asyncio.sleep(0.05)

    return StreamingResponse(forever())


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    routes = [Route("/", hello), Route("/bounce", bounce), Route("/held", held), Route("/drip", drip)]
    with serve(Starlette(routes=routes)) as url:
        yield url, int(url.rsplit(":", 1)[1])


def guarded(allowed: list[str] | None = None, **settings: Any) -> Outbound:
    return Outbound(Settings(secret_key="k" * 40, outbound_allowed_hosts=allowed or [], **settings), "tenant-a")


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",  # decimal
        "0177.0.0.1",  # octal
        "0x7f.0.0.1",  # hex
        "127.1",  # shortened
        "0.0.0.0",  # noqa: S104 (an address to refuse, not to bind)
        "10.0.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.100.100.200",  # shared address space (Alibaba's metadata)
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a00:1::",  # 6to4 of 10.0.0.1
        "fd00:ec2::254",  # AWS metadata over IPv6 (unique-local)
        "fe80::1",
        "ff02::1",
    ],
)
def test_private_loopback_and_metadata_addresses_are_refused(host: str) -> None:
    address = outbound.literal_address(host)
    assert address is not None and outbound.refused(address)
    with pytest.raises(AddressRefused):
        outbound.check_url(guarded().settings, f"http://[{host}]/v1" if ":" in host else f"http://{host}/v1")


@pytest.mark.parametrize("host", ["8.8.8.8", "2606:4700:4700::1111", "api.openai.com"])
def test_public_hosts_pass_the_check(host: str) -> None:
    outbound.check_url(guarded().settings, f"https://[{host}]/v1" if ":" in host else f"https://{host}/v1")


@pytest.mark.parametrize("url", ["http://localhost:11434/v1", "http://LOCALHOST./v1", "http://api.localhost/v1"])
def test_names_for_this_machine_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(AddressRefused, match="VOCALIS_OUTBOUND_ALLOWED_HOSTS"):
        outbound.check_url(guarded().settings, url)
    host = httpx.URL(url).host.rstrip(".")
    outbound.check_url(guarded([host]).settings, url)


def test_an_allowed_host_may_be_limited_to_a_port() -> None:
    settings = guarded(["localhost:11434"]).settings
    outbound.check_url(settings, "http://localhost:11434/v1")
    with pytest.raises(AddressRefused):
        outbound.check_url(settings, "http://localhost:6379/")


def test_the_setting_reads_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOCALIS_OUTBOUND_ALLOWED_HOSTS", "localhost:11434, [::1] ,ollama")
    assert Settings(_env_file=None).outbound_allowed_hosts == ["localhost:11434", "[::1]", "ollama"]
    monkeypatch.setenv("VOCALIS_OUTBOUND_ALLOWED_HOSTS", "localhost:99999")
    with pytest.raises(ValueError):
        Settings(_env_file=None)
    assert Settings(_env_file=None, outbound_allowed_hosts=[]).outbound_allowed_hosts == []


async def test_a_refused_address_answers_alike_whether_a_server_listens_or_not(server: tuple[str, int]) -> None:
    """Open and closed ports look the same: nothing is connected to, so nothing can be scanned."""
    url, port = server
    errors = []
    async with guarded().client(5) as client:
        for target in (url, "http://127.0.0.1:9", f"http://localhost:{port}", f"http://2130706433:{port}"):
            with pytest.raises(AddressRefused) as refused:
                await client.get(target)
            errors.append(str(refused.value).split(" ", 1)[1])
    assert len(set(errors)) == 1
    assert errors[0] == (
        "resolves to an address this server does not call (private, loopback or link-local); "
        "an operator can allow a host with VOCALIS_OUTBOUND_ALLOWED_HOSTS"
    )


async def test_an_allowed_host_is_reached_on_its_allowed_port_only(server: tuple[str, int]) -> None:
    url, port = server
    async with guarded([f"127.0.0.1:{port}"]).client(5) as client:
        assert (await client.get(url)).text == f"hello 127.0.0.1:{port}"
    async with guarded([f"127.0.0.1:{port + 1}"]).client(5) as client:
        with pytest.raises(AddressRefused):
            await client.get(url)


async def test_the_checked_address_is_the_one_connected_to(
    server: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved once, by the guard: the connection goes to that address (no second lookup to rebind),
    and the request still names the host."""
    _, port = server
    lookups: list[str] = []

    async def resolve(host: str, port: int, **kwargs: Any) -> list[Any]:
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(anyio, "getaddrinfo", resolve)
    # Pretend 127.0.0.1 were public, to see where the connection goes (service.test resolves nowhere else).
    monkeypatch.setattr(outbound, "refused", lambda address: False)
    async with guarded().client(5) as client:
        response = await client.get(f"http://service.test:{port}/")
    assert response.text == f"hello service.test:{port}"
    assert lookups == ["service.test"]


async def test_a_name_with_any_refused_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int, **kwargs: Any) -> list[Any]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:10.0.0.1", port, 0, 0)),
        ]

    monkeypatch.setattr(anyio, "getaddrinfo", resolve)
    async with guarded().client(5) as client:
        with pytest.raises(AddressRefused, match=r"^split\.test resolves"):
            await client.get("http://split.test/")


async def test_redirects_are_not_followed_and_each_hop_is_guarded(server: tuple[str, int]) -> None:
    url, port = server
    async with guarded([f"127.0.0.1:{port}"]).client(5) as client:
        response = await client.get(f"{url}/bounce", params={"to": "http://127.0.0.1:9/"})
        assert response.status_code == 302
        with pytest.raises(AddressRefused):
            await client.get(f"{url}/bounce", params={"to": "http://127.0.0.1:9/"}, follow_redirects=True)


async def test_proxies_from_the_environment_are_ignored(
    server: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, port = server
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    async with guarded([f"127.0.0.1:{port}"]).client(5) as client:
        assert (await client.get(url)).status_code == 200


async def test_an_endless_answer_is_cut_at_the_overall_timeout(server: tuple[str, int]) -> None:
    """Each piece arrives well within the read timeout; the whole exchange may not exceed outbound_timeout_seconds."""
    url, port = server
    async with guarded([f"127.0.0.1:{port}"], outbound_timeout_seconds=0.5).client(5) as client:
        with pytest.raises(httpx.ReadTimeout):
            async with client.stream("GET", f"{url}/drip") as response:
                async for _ in response.aiter_bytes():
                    pass


async def test_requests_per_tenant_are_capped_until_an_answer_is_closed(server: tuple[str, int]) -> None:
    url, port = server
    one_at_a_time = guarded([f"127.0.0.1:{port}"], outbound_requests_per_tenant=1)
    other_tenant = Outbound(one_at_a_time.settings, "tenant-b")
    arrived.clear()
    release.clear()
    async with one_at_a_time.client(5) as client, other_tenant.client(5) as other:
        first = asyncio.create_task(client.get(f"{url}/held"))
        try:
            assert await asyncio.to_thread(arrived.wait, 10), "the first request never arrived"
            async with one_at_a_time.client(httpx.Timeout(5, pool=0.2)) as second:
                with pytest.raises(OutboundBusy):
                    await second.get(url)
            assert (await other.get(url)).status_code == 200  # another tenant is not held up
        finally:
            release.set()
        assert (await first).text == "released"
        assert (await client.get(url)).status_code == 200  # the slot came back with the closed answer


def _builds_http_client(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    clients = ("AsyncClient", "Client")
    return [
        node.lineno
        for node in ast.walk(tree)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in clients
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "httpx"
        )
        or (
            isinstance(node, ast.ImportFrom)
            and (node.module or "").startswith("httpx")
            and any(alias.name in clients for alias in node.names)
        )
    ]


def test_outbound_requests_have_one_path() -> None:
    """Every request for a tenant goes through kit/outbound.py: no other module builds an httpx client."""
    offenders = [
        f"{path.relative_to(SRC)}:{line}"
        for path in SRC.rglob("*.py")
        if path != GUARD and path not in NOT_FOR_TENANTS
        for line in _builds_http_client(path)
    ]
    assert offenders == [], f"httpx clients built outside kit/outbound.py: {offenders}"
    assert _builds_http_client(GUARD), "the check must see the client that exists"
    assert all(_builds_http_client(path) for path in NOT_FOR_TENANTS), "an exemption no longer needed"


async def test_clients_share_one_tls_context() -> None:
    """Loading the CA bundle costs ~20 ms of CPU on the event loop: paid once per process, not per request (a burst
    of one tenant's chats, each making a client, stalled every tenant's requests for seconds)."""
    first, second = guarded().client(1.0), guarded(["ollama"]).client(1.0)
    async with first, second:
        contexts = [client._transport._transport._pool._ssl_context for client in (first, second)]  # type: ignore[attr-defined]
    assert contexts[0] is not None and contexts[0] is contexts[1]
