"""What every role of a store shares: its settings, its clock, and a lifecycle."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.config import StoreSettings

if TYPE_CHECKING:
    from gateway.store._cipher import PayloadCipher

__all__ = ["StoreBase"]


class StoreBase(abc.ABC):
    """The common base of the roles (`Inbox`, `DeliveryQueue`, `StoreAdmin`). All times
    are clock seconds."""

    settings: StoreSettings
    clock: Callable[[], float]
    #: Seals payloads and stored headers before they are written (`[store] encryption_keys`).
    cipher: PayloadCipher | None = None

    @abc.abstractmethod
    async def open(self) -> None:
        """Acquire the backend's resources (a database creates or migrates its schema)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release them; work arriving afterwards fails with `StoreError`."""
