"""The admin HTTP API (`/api/v1/`): authenticated JSON over the store, the sources and the rules.

    config.py        the `[admin]` table: tokens and roles, its own listener, the requests log
    auth.py          bearer tokens compared in constant time; failed logins limited per address
    api.py           how an endpoint is declared (`Routes`, `Call`, `Params`, `Document`),
                     the JSON errors, and `Api`, the ASGI app with its generated openapi.json
    app.py           the routes the composition root mounts (`admin_routes`), every
                     endpoint module listed once
    <resource>.py    the endpoints of one resource, declared on its module's `Routes`

Off unless `[admin] tokens` names at least one token: then nothing is mounted and
`/api/…` answers 404 like any unknown path. See `docs/console.md`.
"""
