"""What every role of a store shares: its settings, its clock, and a lifecycle."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from gateway.config import StoreSettings
from gateway.errors import StoreError

if TYPE_CHECKING:
    from gateway.store._cipher import PayloadCipher

__all__ = ["StoreBase"]

T = TypeVar("T")


class StoreBase(abc.ABC):
    """The common base of the roles (`Inbox`, `DeliveryQueue`, `StoreAdmin`). All times
    are clock seconds."""

    settings: StoreSettings
    clock: Callable[[], float]
    #: Seals payloads and stored headers before they are written (`[store] encryption_keys`).
    cipher: PayloadCipher | None = None
    #: Why the last write could not commit, and when (None: it committed). `/readyz`
    #: reports the store unavailable meanwhile (a full disk, a database down).
    commit_failure: str | None = None
    commit_failed_at: float = 0.0

    @abc.abstractmethod
    async def open(self) -> None:
        """Acquire the backend's resources (a database creates or migrates its schema)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release them; work arriving afterwards fails with `StoreError`."""

    async def _committing(self, write: Awaitable[T]) -> T:
        """Await `write`, noting whether it committed (`commit_failure`)."""
        try:
            result = await write
        except StoreError as exc:
            self.commit_failure, self.commit_failed_at = str(exc), self.clock()
            raise
        self.commit_failure = None
        return result
