"""Data parallelism over every local device: batch sharded on a `data` mesh axis, params
replicated. On one device this is a no-op; multi-host runs call `jax.distributed.initialize()`
before building the mesh."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rewardpipe.errors import UserError

AXIS = "data"


def data_mesh() -> Mesh:
    return Mesh(np.asarray(jax.devices()), (AXIS,))


def replicate(tree: Any, mesh: Mesh) -> Any:
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def shard_batch(arrays: tuple[np.ndarray, ...], mesh: Mesh) -> tuple[jax.Array, ...]:
    """Split the leading (example) axis across devices; it must divide by the device count."""
    sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    return tuple(jax.device_put(a, sharding) for a in arrays)


def check_divisible(rows: int, mesh: Mesh, what: str) -> None:
    n = mesh.devices.size
    if rows % n:
        raise UserError(f"{what}={rows} rows must be divisible by the {n} devices of the mesh")
