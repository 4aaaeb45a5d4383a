"""The API docs pages, Swagger UI and ReDoc, served with their assets from an installed package.

FastAPI's own pages load their JavaScript and CSS from a CDN, which leaves them blank on a machine without the
internet; these load everything from this server. The assets come from the pinned `fastapi-standalone-docs` package,
which ships swagger-ui-dist's and redoc's bundles beside their upstream licences; only its files are used, not its
code (which patches FastAPI globally).
"""

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
_ASSETS_PACKAGE = "fastapi_standalone_docs"

# The files under the assets directory that the pages load.
SWAGGER_JS = "swagger/swagger-ui-bundle.js"
SWAGGER_CSS = "swagger/swagger-ui.css"
REDOC_JS = "redoc/redoc.standalone.js"
FAVICON = "fastapi/favicon.png"
# The ReDoc bundle (patched by the package) loads its logo from the page's own path plus this name.
REDOC_LOGO = "redoc/logo-mini.svg"


def assets_directory() -> Path:
    """The directory of the installed docs assets."""
    directory = resources.files(_ASSETS_PACKAGE).joinpath("static")
    if not isinstance(directory, Path) or not directory.is_dir():
        raise RuntimeError(f"The API docs assets of {_ASSETS_PACKAGE} are not installed as files: {directory}")
    return directory


def _root_path(request: Request) -> str:
    root_path: str = request.scope.get("root_path", "")
    return root_path.rstrip("/")


def install_docs(app: FastAPI, docs_url: str | None = "/docs", redoc_url: str | None = "/redoc") -> None:
    """Serve Swagger UI at `docs_url` (with its OAuth2 redirect page) and ReDoc at `redoc_url`, offline.

    Create the app with `docs_url=None, redoc_url=None` so that FastAPI does not add its CDN-backed pages too.
    """
    openapi_url = app.openapi_url
    if openapi_url is None or (docs_url is None and redoc_url is None):
        return
    directory = assets_directory()
    app.mount(ASSETS_URL, StaticFiles(directory=directory), name="docs-assets")

    if docs_url is not None:
        oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url

        async def swagger_ui_html(request: Request) -> HTMLResponse:
            root = _root_path(request)
            return get_swagger_ui_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{root}{ASSETS_URL}/{SWAGGER_JS}",
                swagger_css_url=f"{root}{ASSETS_URL}/{SWAGGER_CSS}",
                swagger_favicon_url=f"{root}{ASSETS_URL}/{FAVICON}",
                oauth2_redirect_url=root + oauth2_redirect_url if oauth2_redirect_url else None,
                init_oauth=app.swagger_ui_init_oauth,
                swagger_ui_parameters=app.swagger_ui_parameters,
            )

        app.add_route(docs_url, swagger_ui_html, methods=["GET"], include_in_schema=False)

        if oauth2_redirect_url:

            async def swagger_ui_redirect(request: Request) -> HTMLResponse:
                return get_swagger_ui_oauth2_redirect_html()

            app.add_route(oauth2_redirect_url, swagger_ui_redirect, methods=["GET"], include_in_schema=False)

    if redoc_url is not None:

        async def redoc_html(request: Request) -> HTMLResponse:
            root = _root_path(request)
            return get_redoc_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_URL}/{REDOC_JS}",
                redoc_favicon_url=f"{root}{ASSETS_URL}/{FAVICON}",
                with_google_fonts=False,
            )

        async def redoc_logo(request: Request) -> FileResponse:
            return FileResponse(directory / REDOC_LOGO, media_type="image/svg+xml")

        app.add_route(redoc_url, redoc_html, methods=["GET"], include_in_schema=False)
        app.add_route(f"{redoc_url.rstrip('/')}/logo-mini.svg", redoc_logo, methods=["GET"], include_in_schema=False)
