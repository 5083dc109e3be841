"""Three small offline training tasks whose linear layers are :class:`QLinear`.

* ``regression``: a 3-layer MLP student fits a fixed random tanh teacher (32 -> 1), MSE.
* ``digits``: a 3-layer MLP classifies the UCI 8x8 digits shipped in ``data/`` (cross-entropy).
* ``charlm``: a 2-block character-level transformer on ``data/kjv_genesis_exodus.txt``.

Everything is sized for two CPU cores. The data (teacher, split, validation windows) is fixed
by a data seed independent of the run seed, so runs with different seeds and recipes see the
same problem; the run seed drives the initialisation and the batch order. Embeddings, norms,
attention (softmax, QK^T, SV) and nonlinearities stay FP32, as in the NVFP4 recipe (§4.1).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..datasets import DATA_DIR, load_digits
from .qlinear import QLinear

__all__ = ["TASKS", "TaskSetup", "TaskSpec", "build_task", "get_task", "load_text"]

#: The character-level LM corpus (provenance in data/README.md).
TEXT_PATH = DATA_DIR / "kjv_genesis_exodus.txt"
TEXT_SHA256 = "be207415eff0e66e5898b1233c1492230f8be2adeb4ffbd31fb5fd0eb41391e0"
_DATA_SEED = 20261125  #: fixes teacher, split and validation windows for every run


@dataclass(frozen=True)
class TaskSpec:
    """Defaults of a task (a run may override steps, batch size and learning rate)."""

    name: str  #: id
    label: str  #: UI label
    steps: int  #: default training steps
    batch_size: int  #: samples per step (a multiple of 16 so RHT-16 along the batch fits whole)
    lr: float  #: Adam peak learning rate
    metric: str  #: name of the validation metric beside the loss


TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in [
        TaskSpec("regression", "Regression (tanh teacher)", 400, 128, 3e-3, "rel_mse"),
        TaskSpec("digits", "Digits 8x8 (MLP)", 500, 64, 2e-3, "accuracy"),
        TaskSpec("charlm", "Char-level LM (tiny transformer)", 300, 16, 3e-3, "bits_per_char"),
    ]
}


def get_task(task: TaskSpec | str) -> TaskSpec:
    """A task by name. Raises ValueError naming an unknown task."""
    if isinstance(task, TaskSpec):
        return task
    key = str(task).strip().lower()
    if key not in TASKS:
        raise ValueError(f"unknown task {task!r}: use one of {', '.join(TASKS)}")
    return TASKS[key]


Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class TaskSetup:
    """A built task: model, its quantizable layers in forward order, data access and losses."""

    spec: TaskSpec
    model: nn.Module
    linears: list[QLinear]  #: in forward order (the recipe keeps the last ones in BF16)
    sample: Callable[[torch.Generator, int], Batch]  #: (generator, batch size) -> batch
    loss: Callable[[nn.Module, Batch], torch.Tensor]  #: scalar training loss
    val: Batch  #: the fixed validation set
    metric: Callable[[nn.Module, Batch], tuple[float, float]]  #: -> (val loss, metric)


def _linears(model: nn.Module) -> list[QLinear]:
    return [m for m in model.modules() if isinstance(m, QLinear)]


class MLP(nn.Module):
    """Linear layers of the given widths with an activation between them."""

    def __init__(self, widths: list[int], act: Callable[[torch.Tensor], torch.Tensor],
                 gen: torch.Generator) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            QLinear(a, b, generator=gen) for a, b in itertools.pairwise(widths)
        )
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.act(x)
        return x


def _sampler(x: torch.Tensor, y: torch.Tensor) -> Callable[[torch.Generator, int], Batch]:
    def sample(gen: torch.Generator, bs: int) -> Batch:
        idx = torch.randint(0, x.shape[0], (bs,), generator=gen).to(x.device)
        return x[idx], y[idx]

    return sample


# --- 1. regression on a synthetic teacher --------------------------------------------------------


def _regression(spec: TaskSpec, gen: torch.Generator, device: torch.device) -> TaskSetup:
    dg = torch.Generator().manual_seed(_DATA_SEED)
    d_in, d_h = 32, 64
    w1 = torch.randn(d_in, d_h, generator=dg) / math.sqrt(d_in)
    w2 = torch.randn(d_h, 1, generator=dg) * 2 / math.sqrt(d_h)

    def teacher(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(2 * x @ w1) @ w2

    xs = torch.randn(8192 + 1024, d_in, generator=dg)  # (n, 32)
    ys = teacher(xs)
    ys = (ys - ys.mean()) / ys.std()  # unit-variance target: MSE = relative MSE
    xs, ys = xs.to(device), ys.to(device)
    model = MLP([d_in, 64, 64, 1], F.gelu, gen).to(device)

    def loss(m: nn.Module, b: Batch) -> torch.Tensor:
        out: torch.Tensor = F.mse_loss(m(b[0]), b[1])
        return out

    def metric(m: nn.Module, b: Batch) -> tuple[float, float]:
        v = float(loss(m, b))
        return v, v  # the target has unit variance, so MSE is already relative

    return TaskSetup(spec, model, _linears(model), _sampler(xs[:8192], ys[:8192]), loss,
                     (xs[8192:], ys[8192:]), metric)


# --- 2. digits classification -------------------------------------------------------------------


def _digits(spec: TaskSpec, gen: torch.Generator, device: torch.device) -> TaskSetup:
    x_np, y_np = load_digits()
    perm = np.random.default_rng(_DATA_SEED).permutation(len(y_np))
    tr, va = perm[:1437], perm[1437:]  # 80 / 20 split, 360 validation images
    mu, sd = x_np[tr].mean(0), x_np[tr].std(0) + 1e-3
    x = torch.from_numpy((x_np - mu) / sd).to(torch.float32).to(device)
    y = torch.from_numpy(y_np).to(device)
    model = MLP([64, 128, 128, 10], F.relu, gen).to(device)

    def loss(m: nn.Module, b: Batch) -> torch.Tensor:
        out: torch.Tensor = F.cross_entropy(m(b[0]), b[1])
        return out

    def metric(m: nn.Module, b: Batch) -> tuple[float, float]:
        logits = m(b[0])
        acc = float((logits.argmax(-1) == b[1]).to(torch.float32).mean())
        return float(F.cross_entropy(logits, b[1])), acc

    itr, iva = torch.from_numpy(tr).to(device), torch.from_numpy(va).to(device)
    return TaskSetup(spec, model, _linears(model), _sampler(x[itr], y[itr]), loss,
                     (x[iva], y[iva]), metric)


# --- 3. character-level tiny transformer ---------------------------------------------------------


@cache
def load_text(path: Path = TEXT_PATH) -> str:
    """The LM corpus as a string (ASCII), checked against its sha256 (data/README.md).

    Raises:
        ValueError: the file's checksum is not the expected one.
    """
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if path == TEXT_PATH and digest != TEXT_SHA256:
        raise ValueError(f"{path} has sha256 {digest}, expected {TEXT_SHA256}")
    return blob.decode("utf-8")


class _Block(nn.Module):
    def __init__(self, d: int, heads: int, gen: torch.Generator) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = QLinear(d, 3 * d, generator=gen)
        self.proj = QLinear(d, d, generator=gen)
        self.fc = QLinear(d, 4 * d, generator=gen)
        self.fc2 = QLinear(4 * d, d, generator=gen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)  # (b, t, d) each
        q, k, v = (z.reshape(b, t, self.heads, -1).transpose(1, 2) for z in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # FP32 attention
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        out: torch.Tensor = x + self.fc2(F.gelu(self.fc(self.ln2(x))))
        return out


class CharLM(nn.Module):
    """A GPT-style character model: token + position embeddings, pre-LN blocks, linear head."""

    def __init__(self, vocab: int, ctx: int, d: int, layers: int, heads: int,
                 gen: torch.Generator) -> None:
        super().__init__()
        self.tok = nn.Parameter(torch.randn(vocab, d, generator=gen) * 0.02)
        self.pos = nn.Parameter(torch.randn(ctx, d, generator=gen) * 0.02)
        self.blocks = nn.ModuleList(_Block(d, heads, gen) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = QLinear(d, vocab, generator=gen)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = F.embedding(idx, self.tok) + self.pos[: idx.shape[1]]  # (b, t, d)
        for blk in self.blocks:
            x = blk(x)
        out: torch.Tensor = self.head(self.ln(x))  # (b, t, vocab)
        return out


def _charlm(spec: TaskSpec, gen: torch.Generator, device: torch.device) -> TaskSetup:
    text = load_text()
    chars = sorted(set(text))
    lut = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([lut[c] for c in text], dtype=torch.int64)
    n_tr = int(0.9 * len(data))
    ctx = 64
    train, valid = data[:n_tr].to(device), data[n_tr:]
    dg = torch.Generator().manual_seed(_DATA_SEED)
    starts = torch.randint(0, len(valid) - ctx - 1, (64,), generator=dg)
    vx = torch.stack([valid[s : s + ctx] for s in starts]).to(device)  # (64, ctx)
    vy = torch.stack([valid[s + 1 : s + ctx + 1] for s in starts]).to(device)
    model = CharLM(len(chars), ctx, 64, 2, 4, gen).to(device)

    def sample(g: torch.Generator, bs: int) -> Batch:
        s = torch.randint(0, n_tr - ctx - 1, (bs,), generator=g).to(device)
        off = torch.arange(ctx, device=device)
        return train[s[:, None] + off], train[s[:, None] + off + 1]

    def loss(m: nn.Module, b: Batch) -> torch.Tensor:
        logits = m(b[0])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b[1].reshape(-1))

    def metric(m: nn.Module, b: Batch) -> tuple[float, float]:
        v = float(loss(m, b))
        return v, v / math.log(2)

    return TaskSetup(spec, model, _linears(model), sample, loss, (vx, vy), metric)


_BUILDERS = {"regression": _regression, "digits": _digits, "charlm": _charlm}


def build_task(task: TaskSpec | str, seed: int, device: torch.device | str = "cpu") -> TaskSetup:
    """Build a task's model (initialised from ``seed``) and data on ``device``.

    Raises:
        ValueError: unknown task.
    """
    spec = get_task(task)
    gen = torch.Generator().manual_seed(seed)
    return _BUILDERS[spec.name](spec, gen, torch.device(device))
