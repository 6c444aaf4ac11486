"""The console's schema registry pages, over `/api/v1/schemas`.

    /schemas                    every schema, with its drift mark (`?source=`)
    /schemas/NAME               its versions, a version pretty-printed (`?version=&format=`),
                                a diff between two (`?from=&to=`), download buttons, and
                                for an admin the compatibility mode (a POST)
    /schemas/NAME/bindings      the API's download, passed through (`?language=&style=&version=`)

A name holds `@` and dots, maybe `/`: it goes to the API percent-encoded whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from gateway.schemas import MODES
from gateway.schemas.bindings import STYLES

if TYPE_CHECKING:
    from gateway.console._client import ApiClient
    from gateway.console._session import Session
    from gateway.console.app import Console

__all__ = ["SchemaPages"]

#: The download buttons: (language, style, label).
DOWNLOADS = (
    *(("python", style, f"Python ({'TypedDict' if style == 'typeddict' else style})") for style in STYLES),
    ("typescript", "", "TypeScript"),
)
FORMATS = (("openapi3", "OpenAPI 3"), ("jsonschema-draft4", "JSON Schema Draft 4"))


def _path(name: str) -> str:
    return f"/schemas/{quote(name, safe='')}"


class SchemaPages:
    """The pages, rendered by `console`."""

    def __init__(self, console: Console) -> None:
        self.console = console

    async def listing(self, request: Request, session: Session, api: ApiClient) -> Response:
        source = request.query_params.get("source", "")
        answer = await api.get("/schemas", {"source": source})
        if not answer.ok:
            return self.console.failed(request, session, answer)
        return self.console.render(
            request, session, "schemas.html", schemas=answer.body["schemas"], source=source
        )

    async def detail(self, request: Request, session: Session, api: ApiClient) -> Response:
        name = request.path_params["name"]
        if request.method == "POST":
            return await self._set_compatibility(request, session, api, name)
        answer = await api.get(_path(name))
        if not answer.ok:
            return self.console.failed(request, session, answer)
        schema = answer.body
        numbers = [v["version"] for v in schema["versions"]]
        query = request.query_params
        shown = query.get("version") if query.get("version") in numbers else schema["latest_version"]
        fmt = query.get("format") if query.get("format") in dict(FORMATS) else "openapi3"
        document = await api.get(f"{_path(name)}/versions/{shown}", {"format": fmt})
        if not document.ok:
            return self.console.failed(request, session, document)
        compared, problem = None, None
        old, new = query.get("from", ""), query.get("to", "")
        if old or new:
            result = await api.get(f"{_path(name)}/diff", {"from": old, "to": new})
            if result.ok:
                compared = result.body
            else:
                problem = result.error
        return self.console.render(
            request,
            session,
            "schema.html",
            400 if problem else 200,
            schema=schema,
            numbers=numbers,
            shown=shown,
            fmt=fmt,
            formats=FORMATS,
            document=document.body,
            old=old or (numbers[-2] if len(numbers) > 1 else numbers[-1]),
            new=new or numbers[-1],
            compared=compared,
            problem=problem,
            downloads=DOWNLOADS,
            modes=MODES,
        )

    async def _set_compatibility(
        self, request: Request, session: Session, api: ApiClient, name: str
    ) -> Response:
        from gateway.console.app import _form, _text  # noqa: PLC0415 - the console's form reader

        mode = _text(_form(request), "mode") or ""
        answer = await api.put(f"{_path(name)}/compatibility", {"mode": mode})
        if not answer.ok:
            return self.console.failed(request, session, answer)
        return self.console.back(_path(name), f"Compatibility of {name}: {answer.body['compatibility']}")

    async def bindings(self, request: Request, session: Session, api: ApiClient) -> Response:
        name = request.path_params["name"]
        wanted = {k: request.query_params.get(k, "") for k in ("language", "style", "version")}
        answer = await api.get(f"{_path(name)}/bindings", wanted)
        if not answer.ok:
            return self.console.failed(request, session, answer)
        return Response(
            answer.content,
            media_type=answer.headers.get("content-type", "application/octet-stream"),
            headers={"Content-Disposition": answer.headers.get("content-disposition", "attachment")},
        )
