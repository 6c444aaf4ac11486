"""The optional dependencies (extras) of features the embedded default does not need.

    postgres   psycopg, psycopg-pool      a `postgresql://` store (replicas)
    lambda     mangum                     AWS Lambda mode (`gateway.aws_lambda`)
    schemas    datamodel-code-generator   Python code bindings (`gateway.schemas.bindings`)

`require` turns the ImportError of a missing one into a `MissingExtraError` naming the
extra to install (`gateway.aws_lambda` raises the same for mangum); the command line
prints it as one line.
"""

from __future__ import annotations

import importlib

from gateway.errors import MissingExtraError

__all__ = ["EXTRAS", "require"]

#: Each extra's top-level modules, as `pyproject.toml`'s optional dependencies install them.
EXTRAS: dict[str, tuple[str, ...]] = {
    "postgres": ("psycopg", "psycopg_pool"),
    "lambda": ("mangum",),
    "schemas": ("datamodel_code_generator",),
}


def require(extra: str, feature: str) -> None:
    """Import the modules of `extra`, or raise `MissingExtraError` saying `feature` needs it."""
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtraError(extra, feature) from None
