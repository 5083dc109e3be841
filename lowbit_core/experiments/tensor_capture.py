"""Real tensors for the Your-tensor page, captured from the lab's own trained models.

    python -m lowbit_core.experiments.tensor_capture            # writes data/tensors.safetensors

For the ``digits`` MLP and the ``charlm`` transformer this repeats the curve library's FP32 run
(``python -m lowbit_core.training.library``: recipe ``fp32``, seed 0, the task's default steps,
one torch thread), checks that its final validation loss equals the library's, then runs one
batch forward and backward and keeps, for every linear layer (``QLinear``), four tensors:

* ``weight``: the trained weight ``W`` (out, in);
* ``act``: the layer's input activation ``x`` (tokens, in), or (windows, ctx, in) for charlm;
* ``grad_out``: the gradient of the loss at the layer's output ``dy`` (same leading shape, out);
* ``weight_grad``: the weight's gradient ``dW`` (out, in).

The batch is the first 64 validation images (digits) or the first 4 validation windows of 64
characters (charlm): activations and gradients of a real step, small enough to ship. Names are
``<task>.<layer>.<kind>`` (``charlm.blocks.0.fc.weight``); the file's metadata holds a JSON
manifest with each tensor's shape, kind, layer and sha256 of its float32 bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import DATA_DIR

__all__ = [
    "KINDS",
    "LAYERS",
    "SHIPPED_NAMES",
    "SHIPPED_PATH",
    "SHIPPED_SHA256",
    "capture",
    "main",
    "tensor_sha256",
]

SHIPPED_PATH = DATA_DIR / "tensors.safetensors"
#: sha256 of the whole shipped file (data/README.md); the tests check it.
SHIPPED_SHA256 = "7df993cd0f64a8896eb4de76411f93caaefcecfee69990592ad146313ba94dca"
KINDS = ("weight", "act", "grad_out", "weight_grad")
#: The linear layers of each task, in forward order (``named_modules`` names).
LAYERS: dict[str, tuple[str, ...]] = {
    "digits": ("layers.0", "layers.1", "layers.2"),
    "charlm": (
        *(f"blocks.{b}.{m}" for b in (0, 1) for m in ("qkv", "proj", "fc", "fc2")),
        "head",
    ),
}
SHIPPED_NAMES: tuple[str, ...] = tuple(
    f"{task}.{layer}.{kind}"
    for task, layers in LAYERS.items()
    for layer in layers
    for kind in KINDS
)
_BATCH = {"digits": 64, "charlm": 4}  #: validation samples (images / windows) in the batch
_SEED, _RECIPE = 0, "fp32"


def tensor_sha256(a: np.ndarray) -> str:
    """sha256 of an array's C-order float32 bytes (the manifest's per-tensor checksum)."""
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float32).tobytes()).hexdigest()


def _train(task: str) -> tuple[Any, Any, float]:
    """The library's FP32 run of ``task`` (seed 0): (setup, result, seconds)."""
    from ..training import train

    captured: dict[str, Any] = {}
    build = train.build_task  # type: ignore[attr-defined]

    def keep(*args: Any, **kw: Any) -> Any:  # the trained model is the run's own setup
        captured["setup"] = build(*args, **kw)
        return captured["setup"]

    t0 = time.perf_counter()
    train.build_task = keep  # type: ignore[attr-defined]
    try:
        res = train.run(train.TrainParams(task=task, recipe=_RECIPE, seed=_SEED, device="cpu"))
    finally:
        train.build_task = build  # type: ignore[attr-defined]
    return captured["setup"], res, time.perf_counter() - t0


def _layer_tensors(task: str, setup: Any) -> dict[str, np.ndarray]:
    """Forward and backward one validation batch; the four tensors of every linear layer."""
    import torch

    from ..training.qlinear import QLinear

    model = setup.model
    names = {m: n for n, m in model.named_modules() if isinstance(m, QLinear)}
    assert tuple(names.values()) == LAYERS[task], tuple(names.values())
    acts: dict[str, torch.Tensor] = {}
    outs: dict[str, torch.Tensor] = {}

    def hook(mod: Any, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        acts[names[mod]] = inp[0].detach().clone()
        out.retain_grad()
        outs[names[mod]] = out

    handles = [m.register_forward_hook(hook) for m in names]
    k = _BATCH[task]
    batch = (setup.val[0][:k], setup.val[1][:k])
    model.zero_grad(set_to_none=True)
    model.eval()  # no dropout or norm statistics change; eval vs train is the same here
    loss = setup.loss(model, batch)
    loss.backward()
    for h in handles:
        h.remove()
    out: dict[str, np.ndarray] = {}
    for mod, name in names.items():
        grad_out = outs[name].grad
        assert grad_out is not None and mod.weight.grad is not None
        for kind, t in (
            ("weight", mod.weight.detach()),
            ("act", acts[name]),
            ("grad_out", grad_out),
            ("weight_grad", mod.weight.grad),
        ):
            out[f"{task}.{name}.{kind}"] = np.ascontiguousarray(t.cpu().numpy(), np.float32)
    return out


def _library_loss(task: str) -> float | None:
    from ..training.library import load_curves

    c = load_curves()
    if c.empty:
        return None
    d = c[(c["recipe"] == _RECIPE) & (c["task"] == task) & (c["seed"] == _SEED)]
    return None if d.empty else float(d.sort_values("step")["val_loss"].iloc[-1])


def capture(path: Path | str = SHIPPED_PATH) -> dict[str, Any]:
    """Train both models as the library does, capture their tensors, write ``path``.

    Returns:
        The manifest written into the file's metadata (per tensor: task, layer, kind, shape,
        sha256; per task: final validation loss, the library's, steps) and ``seconds`` (each
        run's training time, not stored in the file so that its bytes reproduce).

    Raises:
        RuntimeError: a run's final validation loss differs from the curve library's.
    """
    import torch
    from safetensors.numpy import save_file

    from ..training.tasks import get_task

    torch.set_num_threads(1)  # the library's setting: runs are bit-reproducible on one thread
    tensors: dict[str, np.ndarray] = {}
    runs: dict[str, Any] = {}
    seconds: dict[str, float] = {}  # printed, not stored: the file's bytes must reproduce
    for task in LAYERS:
        setup, res, secs = _train(task)
        lib = _library_loss(task)
        if lib is not None and abs(lib - res.final_val_loss) > 1e-6 * max(1.0, abs(lib)):
            raise RuntimeError(
                f"{task}: final validation loss {res.final_val_loss!r} is not the library's "
                f"{lib!r} (data/fp4_curves.parquet): the run did not repeat"
            )
        tensors.update(_layer_tensors(task, setup))
        runs[task] = {
            "recipe": _RECIPE, "seed": _SEED, "steps": get_task(task).steps,
            "final_val_loss": res.final_val_loss, "library_val_loss": lib,
            "batch": _BATCH[task],
        }
        seconds[task] = round(secs, 2)
    assert tuple(tensors) == SHIPPED_NAMES
    manifest = {
        "runs": runs,
        "tensors": {
            n: {
                "task": n.split(".")[0],
                "layer": n.split(".", 1)[1].rsplit(".", 1)[0],
                "kind": n.rsplit(".", 1)[1],
                "shape": list(a.shape),
                "sha256": tensor_sha256(a),
            }
            for n, a in tensors.items()
        },
        "command": "python -m lowbit_core.experiments.tensor_capture",
        "torch": torch.__version__,
    }
    save_file(tensors, str(path), metadata={"manifest": json.dumps(manifest, sort_keys=True)})
    return {**manifest, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=SHIPPED_PATH)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    m = capture(a.out)
    blob = Path(a.out).read_bytes()
    print(f"{len(m['tensors'])} tensors, {len(blob):,} bytes in {a.out} "
          f"({time.perf_counter() - t0:.0f} s)")
    print(f"sha256 {hashlib.sha256(blob).hexdigest()}")
    for task, r in m["runs"].items():
        print(f"{task}: final val loss {r['final_val_loss']:.6f} (library "
              f"{r['library_val_loss']}), trained in {m['seconds'][task]} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
