"""The API docs pages load everything from this server, so they work on a machine without the internet."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from httpx import AsyncClient

# The least size of a real asset: the bundles are megabytes, the favicon kilobytes.
MIN_ASSET_BYTES = 1000
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml"}


class _References(HTMLParser):
    """The src and href of every script, link and img in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "link", "img"):
            self.found.extend(value for name, value in attrs if name in ("src", "href") and value)


def references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    return parser.found


async def assert_offline_page(client: AsyncClient, path: str, wanted: set[str]) -> None:
    """`path` is an HTML page whose every asset is a same-origin path answered by the app; it references `wanted`."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "fonts.googleapis" not in page.text and "fonts.gstatic" not in page.text
    found = references(page.text)
    assert wanted <= set(found), found
    for url in found:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), f"{path} loads {url} from elsewhere"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert CONTENT_TYPES[suffix] in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > MIN_ASSET_BYTES, url


async def test_swagger_ui_loads_its_assets_from_this_server(client: AsyncClient) -> None:
    await assert_offline_page(
        client,
        "/docs",
        {
            "/docs-assets/swagger/swagger-ui-bundle.js",
            "/docs-assets/swagger/swagger-ui.css",
            "/docs-assets/fastapi/favicon.png",
        },
    )
    page = (await client.get("/docs")).text
    assert "swagger" in page.lower()
    assert "url: '/openapi.json'" in page
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in page


async def test_redoc_loads_its_assets_from_this_server(client: AsyncClient) -> None:
    await assert_offline_page(
        client, "/redoc", {"/docs-assets/redoc/redoc.standalone.js", "/docs-assets/fastapi/favicon.png"}
    )
    assert '<redoc spec-url="/openapi.json">' in (await client.get("/redoc")).text


async def test_the_redoc_bundle_takes_its_logo_from_this_server(client: AsyncClient) -> None:
    bundle = await client.get("/docs-assets/redoc/redoc.standalone.js")
    assert "cdn.redoc.ly" not in bundle.text
    # The bundle asks for the logo at the page's own path plus this name.
    assert 'window.location.pathname+"/logo-mini.svg"' in bundle.text
    logo = await client.get("/redoc/logo-mini.svg")
    assert logo.status_code == 200
    assert logo.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in logo.content


async def test_the_oauth2_redirect_page_is_served(client: AsyncClient) -> None:
    response = await client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "oauth2" in response.text.lower()


async def test_the_openapi_schema_is_served_without_the_docs_routes(client: AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Vocalis"
    assert not [path for path in schema["paths"] if path.startswith(("/docs", "/redoc"))]


@pytest.mark.parametrize("path", ["/docs-assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/docs-assets/nothing.js"])
async def test_the_assets_mount_serves_nothing_else(client: AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 404
