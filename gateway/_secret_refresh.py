"""Lambda mode's sources with their AWS secrets read again, so that a secret put after
the deploy, or rotated, takes effect without a cold start:

    after the TTL        every secret read more than `ttl` seconds ago, at the next request
    after a 401          the failing source's secrets, once, if read more than a minute ago;
                         the delivery is then verified again by the rebuilt source

`AwsSecrets` fetches each secret at most once a minute whatever is asked of it, so forged
deliveries cannot turn into a flood of calls; concurrent failures wait for one refresh
and share its result. Connectors stay immutable and sans-I/O: the configuration is loaded
again through the same `AwsSecrets` (every secret not due comes from its cache), and a
source whose settings changed is rebuilt (`build_source`) and replaces the old one in the
gateway's `sources`. A refresh that fails keeps the sources as they were.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import structlog

from gateway.app import build_source
from gateway.config import Settings, SourceSpec
from gateway.errors import ConfigError
from gateway.http import Source
from gateway.secrets import AwsSecrets

__all__ = ["SourceRefresher"]

log = structlog.get_logger()

#: A secret read less than this long ago is not read again after a failed verification.
RECENT_SECONDS = 60.0


class SourceRefresher:
    """Rebuilds the sources in `sources` (the gateway's own dict, changed in place) whose
    secrets changed, from the settings `load` reads through `secrets`."""

    def __init__(
        self,
        sources: dict[str, Source],
        specs: Mapping[str, SourceSpec],
        load: Callable[[], Settings],
        secrets: AwsSecrets,
        *,
        ttl: float,
    ) -> None:
        self.sources = sources
        self.secrets = secrets
        self.ttl = ttl
        self._specs = dict(specs)
        self._load = load
        self._lock = asyncio.Lock()

    def stale(self) -> bool:
        """Whether secrets read more than `ttl` ago are due (then `refresh` reads them)."""
        return self.secrets.expire(older_than=self.ttl)

    async def refresh(self) -> None:
        """Load the configuration again, reading the secrets that are due."""
        async with self._lock:
            await self._reload()

    async def after_rejection(self, source: Source) -> Source | None:
        """`source` rebuilt with its secrets read again, after one of its deliveries failed
        verification; None when there is nothing new to verify it with."""
        async with self._lock:
            current = self.sources.get(source.name)
            if current is not source:  # rebuilt by a refresh this request waited for
                return current
            spec = self._specs.get(source.name)
            if spec is None or not self.secrets.expire(spec.secret_references, older_than=RECENT_SECONDS):
                return None
            await self._reload()
            current = self.sources.get(source.name)
            return current if current is not source else None

    async def _reload(self) -> None:
        try:
            settings = await asyncio.to_thread(self._load)
        except ConfigError as exc:  # a secret's new content is unusable: keep the old one
            log.error("sources_refresh_failed", error=str(exc))
            return
        for name, spec in settings.sources.items():
            if name in self._specs and spec != self._specs[name]:
                self._specs[name] = spec
                self.sources[name] = build_source(spec)
                log.info("source_rebuilt", source=name, reason="secrets_changed")
