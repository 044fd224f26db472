"""Orbax checkpoints keyed by the run's config: keep the latest N plus the best by val accuracy,
and never resume from a checkpoint of another config."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

from rewardpipe.errors import UserError
from rewardpipe.params import ModelParams, TrainParams, to_dict

CONFIG_FILE = "run_config.json"
FORMAT = 2  # 2: steps count optimizer updates, curves saved in the meta
# Params that do not change the trained weights: a changed value must not block a resume.
NOT_IN_IDENTITY = ("eval_every", "log_every", "keep_checkpoints")


def file_sha256(*paths: str | Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(Path(path).read_bytes())
    return h.hexdigest()


def run_identity(
    model_params: ModelParams, train_params: TrainParams, data_sha256: str, devices: int
) -> dict[str, Any]:
    """Everything that determines the weights; checkpoints are keyed by it."""
    train = {k: v for k, v in to_dict(train_params).items() if k not in NOT_IN_IDENTITY}
    return {
        "model": to_dict(model_params),
        "train": train,
        "data_sha256": data_sha256,
        "devices": devices,
        "format": FORMAT,
    }


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def run_dir(root: str | Path, config: dict[str, Any]) -> Path:
    """`root/<hash of config>`: a changed param starts a new run instead of resuming a stale one."""
    return Path(root) / config_hash(config)


def copy_runs(source: Path, root: Path) -> list[tuple[Path, Path]]:
    """Copy a run folder (or a folder of them) into `root/<config hash>`, where the train stage
    looks; it resumes only when the params and data match the run's run_config.json."""
    runs = (
        [source]
        if (source / CONFIG_FILE).is_file()
        else sorted(p.parent for p in source.glob(f"*/{CONFIG_FILE}"))
    )
    if not runs:
        raise UserError(
            f"{source}: --resume-from: no {CONFIG_FILE} here or one level down "
            "(expected a models/checkpoints/<hash> folder written by the train stage)"
        )
    copied = []
    for run in runs:
        target = root / config_hash(json.loads((run / CONFIG_FILE).read_text(encoding="utf-8")))
        if target.resolve() != run.resolve():
            shutil.copytree(run, target, dirs_exist_ok=True)
        copied.append((run, target))
    return copied


def check_config(directory: Path, config: dict[str, Any]) -> None:
    """Refuse to resume from `directory` if it was written by another config; say what differs."""
    path = directory / CONFIG_FILE
    if not path.exists():
        return
    saved = json.loads(path.read_text(encoding="utf-8"))
    if saved == config:
        return
    diffs = _diff(saved, config)
    raise UserError(
        f"{directory}: checkpoint was written by a different config ({'; '.join(diffs[:6])}); "
        "it will not be loaded. Delete that folder or restore the params it was trained with."
    )


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += _diff(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [f"{prefix.rstrip('.')}: checkpoint {a!r}, now {b!r}"]


def _to_saveable(tree: Any) -> Any:
    """Typed PRNG keys -> their raw uint32 data (orbax stores plain arrays)."""
    return jax.tree.map(
        lambda x: jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x,
        tree,
    )


def _from_saveable(tree: Any, like: Any) -> Any:
    return jax.tree.map(
        lambda x, ref: (
            jax.random.wrap_key_data(x, impl=jax.random.key_impl(ref))
            if jnp.issubdtype(ref.dtype, jax.dtypes.prng_key)
            else x
        ),
        tree,
        like,
    )


class Checkpoints:
    """A CheckpointManager over `directory` that also records the run config."""

    def __init__(self, directory: Path, config: dict[str, Any], keep: int):
        self.directory = Path(directory).absolute()
        check_config(self.directory, config)
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True))
        policy = policies.AnyPreservationPolicy(
            [
                policies.LatestN(n=keep),
                policies.BestN(
                    get_metric_fn=lambda m: m["val_accuracy"],
                    reverse=False,
                    n=1,
                    keep_checkpoints_without_metrics=False,
                ),
            ]
        )
        options = ocp.CheckpointManagerOptions(
            preservation_policy=policy, enable_async_checkpointing=False, create=True
        )
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def best_step(self) -> int | None:
        return self.manager.best_step()

    def all_steps(self) -> list[int]:
        return list(self.manager.all_steps())

    def meta(self, step: int) -> dict[str, Any]:
        """The JSON saved beside the state at `step` (its optimizer step and dvclive curves)."""
        restored = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        return restored["meta"]

    def save(self, step: int, state: Any, meta: dict[str, Any], val_accuracy: float) -> None:
        """`step` counts optimizer updates."""
        self.manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(_to_saveable(state)), meta=ocp.args.JsonSave(meta)
            ),
            metrics={"val_accuracy": float(val_accuracy)},
            force=True,
        )
        self.manager.wait_until_finished()

    def restore(self, step: int, like: Any) -> tuple[Any, dict[str, Any]]:
        """Restore into the structure, shapes and shardings of `like`."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _to_saveable(like))
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
            ),
        )
        return _from_saveable(restored["state"], like), restored["meta"]

    def close(self) -> None:
        self.manager.close()
