"""Device meshes and placement.

Data parallelism (today's pipeline): `data_mesh()` puts every local device on one `data` axis,
`replicate` copies the state to each device and `shard_batch` splits the example axis.

FSDP (decoders): `make_mesh(data, fsdp)` builds a 2-D `data` × `fsdp` mesh; `place` shards each
large array of a tree (params, the optimizer state that mirrors them, frozen weights) along its
largest dimension divisible by the fsdp size, so a device holds 1/fsdp of it; XLA all-gathers
weights for the forward/backward and reduce-scatters the gradients. The batch is split over both
axes. On one device all of this is a no-op; multi-host runs call `jax.distributed.initialize()`
before building the mesh.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rewardpipe.errors import UserError

AXIS = "data"
FSDP = "fsdp"
MIN_SHARD_SIZE = 2**14  # arrays with fewer elements (norms, biases, scalars) stay replicated


def data_mesh() -> Mesh:
    return Mesh(np.asarray(jax.devices()), (AXIS,))


def make_mesh(data: int | None = None, fsdp: int | None = None) -> Mesh:
    """A 2-D (`data`, `fsdp`) mesh over every device. A size of None or 0 is derived from the
    device count; with neither given every device goes on `fsdp` (the decoder default)."""
    devices = jax.devices()
    n = len(devices)
    for name, size in (("data", data), ("fsdp", fsdp)):
        if size is not None and (not isinstance(size, int) or size < 0):
            raise UserError(f"mesh: {name} must be a positive integer or 0 (derive), got {size!r}")
    data, fsdp = data or None, fsdp or None
    if data is None and fsdp is None:
        data, fsdp = 1, n
    elif fsdp is None:
        if n % data:
            raise UserError(
                f"mesh: data={data} does not divide the {n} devices (fsdp would be {n}/{data})"
            )
        fsdp = n // data
    elif data is None:
        if n % fsdp:
            raise UserError(
                f"mesh: fsdp={fsdp} does not divide the {n} devices (data would be {n}/{fsdp})"
            )
        data = n // fsdp
    if data * fsdp != n:
        raise UserError(
            f"mesh: data={data} × fsdp={fsdp} = {data * fsdp} devices, but there are {n}"
        )
    return Mesh(np.asarray(devices).reshape(data, fsdp), (AXIS, FSDP))


def train_mesh(data: int, fsdp: int, *, fsdp_default: bool) -> Mesh:
    """The mesh of `train.mesh_data` × `train.mesh_fsdp` (0: derived). With both 0, every device
    goes on `fsdp` when `fsdp_default` (decoders), else on a 1-D `data` mesh (data parallel)."""
    if not data and not fsdp and not fsdp_default:
        return data_mesh()
    return make_mesh(data or None, fsdp or None)


def placement(mesh: Mesh) -> Any:
    """How `init_state` puts the state on `mesh`: `place` (FSDP) on a mesh with an `fsdp` axis,
    else `replicate`."""
    return place if FSDP in mesh.axis_names else replicate


def replicate(tree: Any, mesh: Mesh) -> Any:
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def fsdp_spec(shape: tuple[int, ...], size: int, min_size: int = MIN_SHARD_SIZE) -> PartitionSpec:
    """Shard the largest dimension divisible by `size` (the first of equal ones); replicate
    arrays under `min_size` elements or with no such dimension."""
    if size <= 1 or int(np.prod(shape, dtype=np.int64)) < min_size:
        return PartitionSpec()
    fits = [(d, -i) for i, d in enumerate(shape) if d % size == 0]
    if not fits:
        return PartitionSpec()
    axis = -max(fits)[1]
    return PartitionSpec(*(FSDP if i == axis else None for i in range(len(shape))))


def fsdp_shardings(tree: Any, mesh: Mesh, min_size: int = MIN_SHARD_SIZE) -> Any:
    """A NamedSharding per array leaf of `tree` (arrays or ShapeDtypeStructs): sharded on the
    mesh's `fsdp` axis by `fsdp_spec`; fully replicated on a mesh without one."""
    size = dict(mesh.shape).get(FSDP, 1)

    def one(leaf: Any) -> NamedSharding:
        shape = tuple(getattr(leaf, "shape", ()))
        return NamedSharding(mesh, fsdp_spec(shape, size, min_size))

    return jax.tree.map(one, tree)


def place(tree: Any, mesh: Mesh, min_size: int = MIN_SHARD_SIZE) -> Any:
    """`tree` on `mesh` with `fsdp_shardings` (replicated on a 1-D data mesh)."""
    return jax.device_put(tree, fsdp_shardings(tree, mesh, min_size))


def batch_spec(mesh: Mesh) -> PartitionSpec:
    """The example axis over every mesh axis: `data` (1-D) or (`data`, `fsdp`)."""
    names = tuple(mesh.axis_names)
    return PartitionSpec(names[0] if len(names) == 1 else names)


def shard_batch(arrays: tuple[np.ndarray, ...], mesh: Mesh) -> tuple[jax.Array, ...]:
    """Split the leading (example) axis across devices; it must divide by the device count."""
    sharding = NamedSharding(mesh, batch_spec(mesh))
    return tuple(jax.device_put(a, sharding) for a in arrays)


def check_divisible(rows: int, mesh: Mesh, what: str) -> None:
    n = mesh.devices.size
    if rows % n:
        raise UserError(f"{what}={rows} rows must be divisible by the {n} devices of the mesh")
