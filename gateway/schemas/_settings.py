"""The `[schemas]` settings (bounds of discovery) and the per-source keys it reads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Compatibility", "Enforcement", "SchemaSettings"]

Compatibility = Literal[
    "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"
]
Enforcement = Literal["off", "flag", "reject"]


class SchemaSettings(BaseModel):
    """`[schemas]`: how much discovery keeps, and how it keeps up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: A schema has at most this many versions; beyond, its last version stays the last
    #: and events it does not describe are counted as overflow, not versioned.
    max_versions_per_schema: int = Field(100, ge=1)
    #: A source has at most this many schemas (detail-types); beyond, events of a new
    #: detail-type are counted as overflow and not discovered.
    max_schemas_per_source: int = Field(200, ge=1)
    #: Stored events waiting for inference; when full, new ones are not inferred (counted).
    queue_size: int = Field(10_000, ge=1)
    #: Events inferred together (one store transaction per schema per batch).
    batch_size: int = Field(500, ge=1)
    #: Inference uses at most this share of one CPU over time (after a burst of one CPU
    #: second); beyond, whole batches are skipped (sampled) until the budget refills.
    max_cpu_share: float = Field(0.02, gt=0, le=1)
    #: Nesting deeper than this is not described (an open schema marked truncated).
    max_depth: int = Field(32, ge=1, le=255)
    #: An object's properties past this many are not listed (marked truncated).
    max_properties: int = Field(500, ge=1)
    #: Values described per event at most (the rest left open, marked truncated).
    max_nodes: int = Field(20_000, ge=1)
