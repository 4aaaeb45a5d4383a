"""Every HTTP request the platform makes on a tenant's behalf (LLM chat, embeddings, credential tests, and each
provider or webhook to come) goes through the client made here, because a tenant chooses where it goes.

- The host is resolved when connecting and every address is checked: loopback, private, link-local, unique-local,
  shared, multicast, unspecified and reserved addresses (IPv4 or IPv6, IPv4 inside IPv6 included) are refused, and
  the connection goes to the very address that was checked, so a second DNS answer cannot slip past the check. TLS
  still checks the certificate against the URL's host name. Hosts named in `outbound_allowed_hosts` (a local Ollama,
  say) are exempt: an operator's choice.
- No proxies from the environment (they would reach what the check refuses), no redirects followed.
- Each request is bounded: the caller's timeout for each step and `outbound_timeout_seconds` for the whole exchange,
  its streamed answer included. At most `outbound_requests_per_tenant` run at once per tenant in this process; one
  more waits for a free slot as long as the caller's timeout, then fails with `OutboundBusy` (429).
"""

import asyncio
import functools
import socket
import ssl
import typing
import weakref
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

from vocalis.config import Settings
from vocalis.kit.errors import AppError

# Names that mean this machine or a cloud's metadata service whatever the resolver says.
_REFUSED_NAMES = ("localhost", "metadata", "metadata.google.internal")
_NAT64 = (ip_network("64:ff9b::/96"), ip_network("64:ff9b:1::/48"))
IPAddress = IPv4Address | IPv6Address


class AddressRefused(Exception):
    """The host is, or resolves to, an address this server does not call; the message is safe to show."""

    def __init__(self, host: str) -> None:
        super().__init__(
            f"{host} resolves to an address this server does not call (private, loopback or link-local); "
            "an operator can allow a host with VOCALIS_OUTBOUND_ALLOWED_HOSTS"
        )
        self.host = host


class OutboundBusy(AppError):
    status_code = 429
    code = "outbound_busy"

    def __init__(self) -> None:
        super().__init__(
            "Too many requests to providers are running for this tenant; try again shortly",
            headers={"Retry-After": "1"},
        )


def refused(address: IPAddress) -> bool:
    """Whether the platform must not connect to this address."""
    if isinstance(address, IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if inner is None and any(address in network for network in _NAT64):
            inner = IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None and refused(inner):
            return True
    return not address.is_global or address.is_multicast or address.is_reserved


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP means, in any encoding a resolver accepts (`2130706433`, `0177.0.0.1`,
    `0x7f.1`, `[::ffff:127.0.0.1]`), or None for a name."""
    host = host.strip("[]")
    try:
        return ip_address(host.split("%")[0])
    except ValueError:
        pass
    try:
        return IPv4Address(socket.inet_aton(host))  # the BSD forms: decimal, octal, hex, shortened
    except OSError:
        return None


def allowed(settings: Settings, host: str, port: int) -> bool:
    """Whether the operator allowed this host (any port, or this port) in `outbound_allowed_hosts`."""
    host = host.strip("[]").rstrip(".").lower()
    for entry in settings.outbound_allowed_hosts:
        parts = urlsplit(f"//{entry}")
        if parts.hostname == host and parts.port in (None, port):
            return True
    return False


def check_url(settings: Settings, url: str) -> None:
    """Refuse, without resolving it, a URL whose host is a refused address or a name for this machine (the
    resolved addresses are checked again on every request). Raises AddressRefused."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if allowed(settings, host, parts.port or (443 if parts.scheme == "https" else 80)):
        return
    address = literal_address(host)
    by_name = host in _REFUSED_NAMES or host.endswith(".localhost")
    if by_name or (address is not None and refused(address)):
        raise AddressRefused(host)


@dataclass(frozen=True)
class Outbound:
    """Requests made for one tenant (`owner`; the cap on concurrent requests is per owner)."""

    settings: Settings
    owner: str

    def client(self, timeout: float | httpx.Timeout, *, base_url: str = "") -> httpx.AsyncClient:
        """A guarded client; close it after use (`async with`)."""
        return httpx.AsyncClient(
            transport=_GuardedTransport(self.settings, self.owner),
            timeout=timeout,
            base_url=base_url,
            follow_redirects=False,
            trust_env=False,
        )


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host, checks every address, and connects to a checked one."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if allowed(self._settings, host, port):
            return await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            with anyio.fail_after(timeout):
                found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"Resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"Could not resolve {host}") from exc
        addresses = list(dict.fromkeys(ip_address(str(sockaddr[0]).split("%")[0]) for *_, sockaddr in found))
        # All of them, not just the first: a name with one public and one private address is refused.
        if not addresses or any(refused(address) for address in addresses):
            raise AddressRefused(host)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Outbound requests do not use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _Slots:
    """The per-owner semaphores, one set per event loop (an asyncio semaphore belongs to one loop)."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, int], asyncio.Semaphore]]
        self._by_loop = weakref.WeakKeyDictionary()

    def semaphore(self, owner: str, limit: int) -> asyncio.Semaphore:
        semaphores = self._by_loop.setdefault(asyncio.get_running_loop(), {})
        return semaphores.setdefault((owner, limit), asyncio.Semaphore(limit))


_slots = _Slots()


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client: loading the CA bundle takes ~20 ms of CPU, too much to pay per request."""
    return httpx.create_ssl_context(trust_env=False)


class _GuardedTransport(httpx.AsyncBaseTransport):
    """httpx's transport over a guarded connection pool, holding a slot of the owner's cap until the answer is
    closed, and bounding the whole exchange."""

    def __init__(self, settings: Settings, owner: str) -> None:
        self._settings = settings
        self._owner = owner
        self._transport = httpx.AsyncHTTPTransport(verify=_tls(), trust_env=False)
        # httpx takes no network backend, so its pool is replaced by one built with ours (same defaults otherwise).
        self._transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=_tls(), network_backend=_GuardedBackend(settings)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = typing.cast(dict[str, float | None], request.extensions.get("timeout", {}))
        semaphore = _slots.semaphore(self._owner, self._settings.outbound_requests_per_tenant)
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await semaphore.acquire()
        except TimeoutError:
            raise OutboundBusy() from None
        deadline = anyio.current_time() + self._settings.outbound_timeout_seconds
        try:
            with anyio.fail_after(self._settings.outbound_timeout_seconds):
                response = await self._transport.handle_async_request(request)
        except TimeoutError:
            semaphore.release()
            raise httpx.ReadTimeout("The request took too long", request=request) from None
        except BaseException:
            semaphore.release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _BoundedBody(response.stream, request, deadline, semaphore)
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()


class _BoundedBody(httpx.AsyncByteStream):
    """An answer's body that must end by the deadline; closing it frees the owner's slot."""

    def __init__(
        self, body: httpx.AsyncByteStream, request: httpx.Request, deadline: float, semaphore: asyncio.Semaphore
    ) -> None:
        self._body = body
        self._request = request
        self._deadline = deadline
        self._semaphore: asyncio.Semaphore | None = semaphore

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._body.__aiter__()
        while True:
            try:
                # The scope covers one await, never a yield.
                with anyio.fail_after(max(self._deadline - anyio.current_time(), 0)):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise httpx.ReadTimeout("The answer took too long", request=self._request) from None
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._body.aclose()
        finally:
            if self._semaphore is not None:
                self._semaphore.release()
                self._semaphore = None
