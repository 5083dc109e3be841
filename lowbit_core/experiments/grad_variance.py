"""Gradient variance vs batch size under stochastic rounding (paper (a), Training with Fewer Bits).

The lab's own model (papers_spec.md (a), [INFER]; the paper's theorem was not available): the
mini-batch gradient with per-sample stochastic rounding (SR) at spacing Δ is

    ĝ_B = (1/B) Σ_i Q(∇ℓ_i),   Var[ĝ_B] ≈ σ²_sample / B + Σ_e Δ_e² / (6B)

because SR's error on one element has mean 0 and variance δ(1−δ)Δ², which averages to Δ²/6 over
a uniform fraction δ. Both terms fall as 1/B, so a larger batch pays for fewer bits. Quantizing the
weights is different: one Q(W) is drawn per step and shared by the whole batch, so its error is
not averaged away; it leaves a floor (SR) or a bias (RNE) that no batch size removes.

What is quantized (each a :class:`Target`, each with its own format and rounding mode):

* ``w``: the weights used in the forward and backward pass, one draw per step (per repeat here);
* ``a``: the activations saved for the weight gradient (the layer inputs; forward is unquantized);
* ``g``: the gradient flowing backward, at every layer's output, per sample (it is propagated on
  to the layer below in its quantized form).

Tensor scaling multiplies a tensor by one power of two, chosen so its largest magnitude lands in
the format's top binade, before rounding, and divides it back afterwards (exact).

Method: for each repeat ``r`` a pool of ``B_max`` samples is drawn with replacement from the data
set; the batch of size ``B`` is the first ``B`` samples of the pool (nested batches, so the
per-sample work is done once). Per-sample gradients of a linear layer are outer products
``g_i ⊗ a_i`` and batch sums are one einsum per segment between consecutive batch sizes. The
same samples are used for every rounding mode and for the unquantized ("fp32") estimate, so the
quantization part ``ĝ_B − ĝ_B^fp32`` is measured on identical batches. Arithmetic is float64.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..datasets import load_digits
from ..formats import Format, get_format
from ..jitclock import compile_seconds
from ..rng import check_seed, key
from ..rounding import STOCHASTIC_MODES, RoundMode, check_mode, quantize

__all__ = [
    "FP32",
    "Deadline",
    "GradVarianceParams",
    "Model",
    "SGDParams",
    "Target",
    "TimeLimit",
    "bits_format",
    "bits_sweep",
    "exchange_from_sweep",
    "exchange_rate",
    "gradient_variance",
    "problem",
    "sgd_curves",
    "sr_noise_variance",
]

FP32 = "fp32"  #: the "mode" label of the unquantized reference
Progress = Callable[[float], None]
DATA_SEED = 20261125  #: fixed seed of the synthetic teacher-student data and of the fixed points
#: samples per chunk of repeats (bounds memory; a constant, so results never depend on it)
CHUNK_SAMPLES = 16384
MODEL_SAMPLES = 64  #: samples per repeat over which the Δ²/(6B) model is averaged
SMALL_ARRAY = 8192  #: below this many elements quantize with the numpy reference (see _q)


class TimeLimit(ValueError):
    """A computation ran past its :class:`Deadline` (a ValueError: the settings ask too much)."""


@dataclass(frozen=True)
class Deadline:
    """A wall-clock limit, checked between chunks of work (results never depend on it: a run
    either finishes with the same numbers or raises :class:`TimeLimit`). Time spent compiling
    numba kernels meanwhile does not count (:mod:`lowbit_core.jitclock`): a fresh server's first
    run compiles for longer than the run itself takes."""

    at: float  #: :func:`time.monotonic` value after which :meth:`check` raises
    seconds: float  #: the limit, for the message
    #: :func:`~lowbit_core.jitclock.compile_seconds` when the deadline was set
    jit_at: float = field(default_factory=compile_seconds)

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now."""
        return cls(time.monotonic() + seconds, seconds)

    def check(self) -> None:
        """Raise :class:`TimeLimit` once the deadline has passed."""
        if time.monotonic() - (compile_seconds() - self.jit_at) > self.at:
            raise TimeLimit(
                f"stopped after {self.seconds:.0f} s, this page's time limit per part (the "
                "server is busy or the settings ask a lot): lower the repeats, the largest "
                "batch, the bit counts or the steps, or pick fewer modes")


def _check(deadline: Deadline | None) -> None:
    if deadline is not None:
        deadline.check()


class Model(StrEnum):
    """The models; all layers are bias-free linear maps."""

    LINEAR = "linear"
    """Teacher-student linear regression on synthetic data: x ~ N(0, I_16), y = x·w* + 0.1 ε,
    loss ½(x·w − y)², 2048 samples; the fixed point is w* plus a N(0, 1/16) offset."""
    LOGISTIC = "logistic"
    """Softmax regression on the 8×8 digits (64 → 10), cross-entropy, 1797 samples."""
    MLP = "mlp"
    """One hidden layer on the 8×8 digits (64 → 32 ReLU → 10), cross-entropy."""


class Target(StrEnum):
    """Which tensors are quantized (see the module docstring)."""

    W = "w"
    """weights in the forward pass: one draw per step, shared by the batch."""
    A = "a"
    """activations saved for the backward pass (weight-gradient operand), per sample."""
    G = "g"
    """gradients flowing backward (output of every layer), per sample."""


def _check_targets(targets: Iterable[str]) -> tuple[Target, ...]:
    out: list[Target] = []
    for t in targets:
        try:
            out.append(Target(str(t).strip().lower()))
        except ValueError:
            raise ValueError(f"unknown target {t!r}: use 'w', 'a' or 'g'") from None
    return tuple(dict.fromkeys(out))


def _check_mode_or_fp32(mode: str) -> str:
    return FP32 if str(mode).lower() == FP32 else check_mode(mode).value


@dataclass(frozen=True)
class _QuantConfig:
    """Shared quantization fields of both experiments (validated in ``__post_init__``)."""

    model: str = Model.LINEAR.value  #: a :class:`Model` value
    #: format of every quantized target unless overridden; "eXmYieee" is the generic IEEE-like
    #: float (bare "eXmY" may be a catalogue alias: "e4m3" is OCP float8_e4m3fn)
    fmt: str = "e5m2"
    modes: tuple[str, ...] = ("rne", "sr", "srff")  #: rounding modes compared ("fp32" always added)
    rbits: int = 4  #: random bits of the few-bit SR modes (srff, srf, src, sro)
    targets: tuple[str, ...] = ("w", "a", "g")  #: which of W/A/G are quantized
    scaling: bool = True  #: power-of-two tensor scaling before rounding
    fmt_w: str = ""  #: format override for W ("" = fmt)
    fmt_a: str = ""  #: format override for A
    fmt_g: str = ""  #: format override for G
    mode_w: str = ""  #: rounding-mode override for W ("" = the compared mode), e.g. "rne"
    mode_a: str = ""  #: rounding-mode override for A
    mode_g: str = ""  #: rounding-mode override for G
    seed: int = 0  #: seed of batch sampling, initialisation and every SR stream

    def __post_init__(self) -> None:
        if self.model not in tuple(Model):
            raise ValueError(f"model={self.model!r} is not one of {', '.join(Model)}")
        for f in (self.fmt, self.fmt_w, self.fmt_a, self.fmt_g):
            if f and not get_format(f).signed:
                raise ValueError(f"format {f!r} is unsigned: gradients and weights need a sign")
        modes = tuple(_check_mode_or_fp32(m) for m in self.modes)
        if not modes:
            raise ValueError("modes is empty: compare at least one rounding mode")
        object.__setattr__(self, "modes", modes)
        for m in (self.mode_w, self.mode_a, self.mode_g):
            if m:
                check_mode(m)
        if isinstance(self.rbits, bool) or not 1 <= int(self.rbits) <= 32:
            raise ValueError(f"rbits={self.rbits!r} out of range 1..32")
        object.__setattr__(self, "targets", tuple(t.value for t in _check_targets(self.targets)))
        check_seed(self.seed)

    def spec(self, target: Target, mode: str, fmt: str | None = None) -> _Spec | None:
        """How ``target`` is quantized in the run for ``mode`` (None: not quantized); ``fmt``
        replaces ``self.fmt`` as the format of targets without an override."""
        if mode == FP32 or target.value not in self.targets:
            return None
        fmt = getattr(self, f"fmt_{target.value}") or fmt or self.fmt
        m = RoundMode(getattr(self, f"mode_{target.value}") or mode)
        return _Spec(get_format(fmt), m, self.rbits, self.scaling)


@dataclass(frozen=True)
class GradVarianceParams(_QuantConfig):
    """Parameters of :func:`gradient_variance` (and :func:`exchange_rate`)."""

    batch_sizes: tuple[int, ...] = tuple(2**k for k in range(9))  #: sorted, each 1..65536
    repeats: int = 32  #: independent mini-batch estimates per batch size (R)
    floor_draws: int = 16  #: weight draws for the B → ∞ floor (full-data gradient)

    def __post_init__(self) -> None:
        super().__post_init__()
        bs = tuple(sorted({int(b) for b in self.batch_sizes}))
        if not bs or bs[0] < 1 or bs[-1] > 65536:
            raise ValueError(f"batch_sizes={self.batch_sizes!r}: need values in 1..65536")
        object.__setattr__(self, "batch_sizes", bs)
        if not 2 <= self.repeats <= 100_000:
            raise ValueError(f"repeats={self.repeats!r} out of range 2..100000")
        if not 1 <= self.floor_draws <= 10_000:
            raise ValueError(f"floor_draws={self.floor_draws!r} out of range 1..10000")


@dataclass(frozen=True)
class SGDParams(_QuantConfig):
    """Parameters of :func:`sgd_curves`. Here W means the weights are *stored* in the format."""

    batch: int = 16  #: mini-batch size
    steps: int = 200  #: SGD steps
    lr: float = 0.05  #: learning rate (plain SGD, no momentum)
    seeds: int = 3  #: independent runs per mode (a band on the chart)
    eval_every: int = 10  #: steps between full-data loss evaluations

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.batch <= 65536:
            raise ValueError(f"batch={self.batch!r} out of range 1..65536")
        if not 1 <= self.steps <= 100_000:
            raise ValueError(f"steps={self.steps!r} out of range 1..100000")
        if not (math.isfinite(self.lr) and 0 < self.lr <= 100):
            raise ValueError(f"lr={self.lr!r} must be in (0, 100]")
        if not 1 <= self.seeds <= 64:
            raise ValueError(f"seeds={self.seeds!r} out of range 1..64")
        if not 1 <= self.eval_every <= self.steps:
            raise ValueError(f"eval_every={self.eval_every!r} out of range 1..steps")


class _Spec(NamedTuple):
    fmt: Format
    mode: RoundMode
    rbits: int
    scaling: bool


class Problem(NamedTuple):
    """A data set and a fixed parameter point (read-only arrays)."""

    x: np.ndarray  #: (N, d_in) float64
    y: np.ndarray  #: (N,) float64 targets (linear) or int64 labels
    ws: tuple[np.ndarray, ...]  #: weights, layer l is (out, in)
    loss: str  #: "mse" or "ce"


@cache
def problem(model: str) -> Problem:
    """The data set and fixed point of ``model`` (a pure constant table, hence cached)."""
    rng = np.random.default_rng(DATA_SEED)
    m = Model(model)
    if m is Model.LINEAR:
        d, n = 16, 2048
        x = rng.standard_normal((n, d))
        w_star = rng.standard_normal(d) / math.sqrt(d)
        y = x @ w_star + 0.1 * rng.standard_normal(n)
        ws: tuple[np.ndarray, ...] = ((w_star + rng.standard_normal(d) / math.sqrt(d))[None, :],)
        loss = "mse"
    else:
        x32, labels = load_digits()
        x, y = x32.astype(np.float64), labels
        sizes = (64, 10) if m is Model.LOGISTIC else (64, 32, 10)
        ws = tuple(
            rng.standard_normal((o, i)) * math.sqrt(2.0 / i) for i, o in itertools.pairwise(sizes)
        )
        loss = "ce"
    for a in (x, y, *ws):
        a.setflags(write=False)
    return Problem(x, y, ws, loss)


# --- quantization helpers -------------------------------------------------------------------------


def _sub_seed(seed: int, *tags: int) -> int:
    """An independent SR stream per (seed, tags): quantize's counter restarts at 0 on every call."""
    h = seed & _M64
    for t in (*tags, len(tags)):
        h = _splitmix64((h ^ (t & _M64)) + 0x9E3779B97F4A7C15)
    return h >> 1


_M64 = (1 << 64) - 1


def _splitmix64(z: int) -> int:
    """SplitMix64 finaliser (Steele, Lea, Flood 2014) on Python ints: a bijection on 64 bits."""
    z &= _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _scale(x: np.ndarray, fmt: Format) -> np.ndarray:
    """Power-of-two scale per leading index (one tensor per repeat): amax into the top binade."""
    amax = np.abs(x).reshape(x.shape[0], -1).max(axis=1)
    e = np.floor(np.log2(fmt.max / np.where(amax > 0, amax, fmt.max)))
    return np.ldexp(1.0, e.astype(np.int32)).reshape((-1,) + (1,) * (x.ndim - 1))


def _q(x: np.ndarray, spec: _Spec | None, seed: int) -> np.ndarray:
    """Round ``x`` (leading axis = independent tensors) as ``spec`` says; None = unchanged."""
    if spec is None:
        return x
    s = _scale(x, spec.fmt) if spec.scaling else np.ones((1,) * x.ndim)
    kw: dict[str, object] = {}
    if spec.mode in STOCHASTIC_MODES:
        kw["seed"] = seed
        if spec.mode is not RoundMode.SR:
            kw["rbits"] = spec.rbits
    # Tensors are held in float32 before rounding, as on an accelerator (and quantize's float32
    # kernels are the fast ones); the scale is a power of two, so x * s is exact.
    xs = (x * s).astype(np.float32)
    q = _quantize_small(xs, spec, seed) if xs.size < SMALL_ARRAY else None
    if q is None:
        q = quantize(xs, spec.fmt, spec.mode, **kw)  # type: ignore[arg-type]
    out: np.ndarray = q.astype(np.float64) / s
    return out


def _quantize_small(x: np.ndarray, spec: _Spec, seed: int) -> np.ndarray | None:
    """:func:`quantize` (saturating, counter-RNG streams) for small arrays, serially.

    Remove when lowbit_core's numba kernels get a serial path for small arrays: their parallel
    thread-pool start costs more than the work on a few thousand elements (the SGD loop makes
    thousands of such calls). Built from the backend's documented scalar building blocks
    (``round_one``, ``round_one_sr``, ``rng_word``), so it is bit-identical to quantize; None
    when numba is not available (the caller falls back to quantize).
    """
    if _serial_kernel is None:
        return None
    k0, k1 = np.uint32(seed & 0xFFFFFFFF), np.uint32((seed >> 32) & 0xFFFFFFFF)
    a0, b0 = (np.uint32(k) for k in key(seed, 0))
    out = np.empty(x.size, dtype=np.float64)
    _serial_kernel(np.ascontiguousarray(x).reshape(-1), out, *_grid_args(spec.fmt),
                   np.int64(_MODE_CODE[spec.mode]), np.int64(spec.rbits), k0, k1, a0, b0)
    return out.astype(np.float32).reshape(x.shape)


@cache
def _grid_args(fmt: Format) -> tuple[int, int, int, float, float, float, int]:
    from .._numba import grid_args

    return grid_args(fmt)


try:  # numba is optional for lowbit_core; without it quantize's numpy reference runs
    import numba

    from .._numba import MODE_CODE as _MODE_CODE
    from .._numba import rng_word, round_one, round_one_sr
except ImportError:  # pragma: no cover
    _serial_kernel: Callable[..., None] | None = None
else:
    _MODE_SR = _MODE_CODE[RoundMode.SR]

    @numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
    def _serial_kernel(
        x: Any, out: Any, mbits: int, emin: int, bias: int, max_pos: float, max_neg: float,
        min_pos: float, flags: int, mode: int, nb: int, k0: Any, k1: Any, a0: Any, b0: Any,
    ) -> None:
        for i in range(x.size):
            v = np.float64(x[i])
            idx = np.uint64(i)
            if mode == _MODE_SR:
                out[i] = round_one_sr(v, idx, k0, k1, mbits, emin, bias, max_pos, max_neg,
                                      min_pos, flags, True)
            else:
                w = rng_word(idx, a0, b0) if mode > _MODE_SR - 1 else np.uint32(0)
                out[i] = round_one(v, w, mbits, emin, bias, max_pos, max_neg, min_pos, flags,
                                   mode, nb, True)


def _sr_model_var(x: np.ndarray, spec: _Spec | None, n_max: int = MODEL_SAMPLES) -> np.ndarray:
    """Per-element model SR variance Δ²/6 (Δ = local grid spacing); 0 where x is on the grid.

    Only the first ``n_max`` samples of each repeat (axis 1) are evaluated (the model is a mean
    over samples); the scale is still taken from the whole tensor, as :func:`_q` does.
    """
    if spec is None or spec.mode not in STOCHASTIC_MODES:
        return np.zeros_like(x[:, :n_max])
    f = spec.fmt
    s = _scale(x, f) if spec.scaling else np.ones((1,) * x.ndim)
    x = x[:, :n_max]
    v = np.abs(x * s)
    _, ex = np.frexp(v)
    emin, mb = f.grid_emin, f.grid_mbits  # integers: spacing 2^(emin - mb) = 1 below 2^emin
    delta = np.ldexp(1.0, (np.maximum(ex - 1, emin) - mb).astype(np.int32))
    on_grid = np.floor(v / delta) * delta == v  # exact: delta is a power of two
    return np.where(on_grid, 0.0, (delta / s) ** 2 / 6.0)


# --- per-sample forward/backward ------------------------------------------------------------------


class _Grads(NamedTuple):
    g: list[np.ndarray]  #: per layer, gradient at the layer output (R, B, out), as used
    a: list[np.ndarray]  #: per layer, layer input (R, B, in), as used


def _per_sample(
    ws: list[np.ndarray], x: np.ndarray, y: np.ndarray, loss: str,
    specs: dict[Target, _Spec | None], seed: int, tag: int,
) -> _Grads:
    """Per-sample quantized gradient factors for weights ``ws`` (each (R or 1, out, in))."""
    n_layers = len(ws)
    acts, pres = [x], []
    a = x  # (R, B, in)
    for layer, w in enumerate(ws):
        z = a @ np.swapaxes(w, -1, -2)  # (R, B, out)
        pres.append(z)
        if layer < n_layers - 1:
            a = np.maximum(z, 0.0)
            acts.append(a)
    if loss == "mse":
        g = z - y[..., None]
    else:
        g = np.exp(z - z.max(axis=-1, keepdims=True))
        g /= g.sum(axis=-1, keepdims=True)
        np.put_along_axis(g, y[..., None], np.take_along_axis(g, y[..., None], -1) - 1.0, -1)
    gs: list[np.ndarray] = [g] * n_layers
    as_: list[np.ndarray] = [x] * n_layers
    for layer in reversed(range(n_layers)):
        gq = _q(g, specs[Target.G], _sub_seed(seed, tag, 1, layer))
        aq = _q(acts[layer], specs[Target.A], _sub_seed(seed, tag, 2, layer))
        gs[layer], as_[layer] = gq, aq
        if layer > 0:
            g = (gq @ ws[layer]) * (pres[layer - 1] > 0)
    return _Grads(gs, as_)


def _model_q(gr: _Grads, g_spec: _Spec | None, a_spec: _Spec | None) -> float:
    """The model's per-sample rounding variance E_i Σ_e c_e Δ_e²/6 at the unrounded tensors ``gr``
    (direct terms only: G's rounding times ‖a‖², A's times ‖g‖², per layer)."""
    n = min(gr.g[0].shape[1], MODEL_SAMPLES)
    total = np.zeros((gr.g[0].shape[0], n))
    for g, a in zip(gr.g, gr.a, strict=True):
        total += _sr_model_var(g, g_spec).sum(-1) * (a[:, :n] ** 2).sum(-1)
        total += _sr_model_var(a, a_spec).sum(-1) * (g[:, :n] ** 2).sum(-1)
    return float(total.mean())


def _batch_means(gr: _Grads, batch_sizes: tuple[int, ...]) -> np.ndarray:
    """Mean gradient over the first B samples, for each B: (n_B, R, P), layers flattened."""
    r = gr.g[0].shape[0]
    out = []
    for g, a in zip(gr.g, gr.a, strict=True):
        acc = np.zeros((r, g.shape[-1], a.shape[-1]))
        sums, lo = [], 0
        for b in batch_sizes:
            acc = acc + np.einsum("rbo,rbi->roi", g[:, lo:b], a[:, lo:b])  # Σ_i g_i ⊗ a_i
            sums.append(acc / b)
            lo = b
        out.append(np.stack(sums).reshape(len(batch_sizes), r, -1))
    return np.concatenate(out, axis=-1)


def _weights(
    prob: Problem, spec: _Spec | None, n: int, seed: int, tag: int
) -> list[np.ndarray]:
    """The weights as used: n independent draws of Q(W) (one per repeat / step), or W itself."""
    if spec is None:
        return [w[None] for w in prob.ws]
    return [
        _q(np.broadcast_to(w, (n, *w.shape)).copy(), spec, _sub_seed(seed, tag, 3, layer))
        for layer, w in enumerate(prob.ws)
    ]


def _full_gradient(prob: Problem, ws: list[np.ndarray]) -> np.ndarray:
    """Full-data unquantized gradient at weights ``ws`` (each (R, out, in)): (R, P)."""
    r = ws[0].shape[0]
    x = np.broadcast_to(prob.x, (r, *prob.x.shape))
    y = np.broadcast_to(prob.y, (r, *prob.y.shape))
    none: dict[Target, _Spec | None] = {t: None for t in Target}
    gr = _per_sample(ws, x, y, prob.loss, none, 0, 0)
    out: np.ndarray = _batch_means(gr, (prob.x.shape[0],))[0]
    return out


# --- the variance sweep ---------------------------------------------------------------------------


def gradient_variance(
    p: GradVarianceParams, progress: Progress | None = None, *, deadline: Deadline | None = None,
) -> pd.DataFrame:
    """Measure the mini-batch gradient's variance, its split and its bias, per mode and batch size.

    For each rounding mode (plus the unquantized ``"fp32"`` reference) and batch size ``B``, over
    ``R = p.repeats`` independent mini-batches (sampled with replacement) at the model's fixed
    point, with ``g`` the full-data unquantized gradient and ``ĝ^fp32`` the unquantized gradient on
    the same batch (norms are over all weights):

    * ``total_var`` = E‖ĝ − Eĝ‖²; ``sampling_var`` = E‖ĝ^fp32 − Eĝ^fp32‖² (σ²/B exactly);
    * ``quant_var`` = E‖(ĝ − ĝ^fp32) − E(ĝ − ĝ^fp32)‖²; ``cross`` = total − sampling − quant
      (twice the covariance; ≈ 0 for per-sample SR, whose error has mean 0 given the batch);
    * ``bias2`` = ‖mean ĝ − g‖² − total_var / R (debiased: the raw value is inflated by the
      noise of the mean, ``bias2_noise`` = total_var / R); ``bias2_se`` its standard error,
      sqrt(Σ_e 4 b_e² v_e + 2 v_e²) with v_e the variance of element e's mean over the R batches
      (a value within about 2 SE of 0 is not resolved) and ``bias2_se0`` the same for a zero
      bias, sqrt(Σ_e 2 v_e²) (twice it: the smallest bias R batches resolve); ``mse`` =
      total_var + bias2;
    * ``model_var`` = (S + Q)/B, the lab's model, with S = mean of B·sampling_var and
      Q = E_i Σ_e c_e Δ_e²/6 over the per-sample SR roundings (Δ_e the local spacing, c_e the
      squared factor multiplying that element in the gradient; exact-grid values count 0);
      ``model_quant_var`` = Q/B; NaN for deterministic modes and fp32;
    * ``floor_var``, ``floor_bias2``: the B → ∞ limit left by weight quantization alone, from
      ``p.floor_draws`` draws of Q(W) with the full-data gradient (0 when W is not quantized).

    Args:
        p: the parameters.
        progress: called with the done fraction (0..1) after each mode of each chunk of
            repeats (it may raise to cancel the run).
        deadline: checked at the same points; past it, :class:`TimeLimit` is raised.

    Returns:
        Tidy DataFrame, one row per (mode, batch): columns ``model, fmt, mode, batch, repeats,
        total_var, sampling_var, quant_var, cross, bias2, bias2_noise, bias2_se, bias2_se0, mse,
        model_var, model_quant_var, floor_var, floor_bias2, grad_norm2``.
    """
    variants = [_Variant(m, p.fmt) for m in p.modes if m != FP32]
    return _sweep(p, variants, progress, deadline)


class _Variant(NamedTuple):
    mode: str  #: rounding mode, also the ``mode`` column
    fmt: str  #: format of the targets that have no override


def _sweep(
    p: GradVarianceParams, variants: list[_Variant], progress: Progress | None,
    deadline: Deadline | None = None,
) -> pd.DataFrame:
    """The sweep behind :func:`gradient_variance`: one fp32 pass plus one pass per variant, all
    on the same sample grid (see the module docstring)."""
    prob = problem(p.model)
    n = prob.x.shape[0]
    bs, r_total, b_max = p.batch_sizes, p.repeats, p.batch_sizes[-1]
    runs = [_Variant(FP32, p.fmt), *variants]
    g_full = _full_gradient(prob, [w[None] for w in prob.ws])[0]  # (P,)
    chunk = max(1, CHUNK_SAMPLES // b_max)
    rng = np.random.default_rng([p.seed, 1])
    shape = (len(runs), len(bs), g_full.size)
    s_q, s_q2, s_d, s_d2 = (np.zeros(shape) for _ in range(4))  # running sums over repeats
    model_q = np.zeros(len(runs))
    done = 0
    for ci, r0 in enumerate(range(0, r_total, chunk)):
        rc = min(chunk, r_total - r0)
        idx = rng.integers(0, n, size=(rc, b_max))  # (R_c, B_max) sample grid
        x, y = prob.x[idx], prob.y[idx]
        means_f = np.zeros(0)
        model_cache: dict[tuple[_Spec | None, _Spec | None], float] = {}
        for vi, v in enumerate(runs):
            _check(deadline)
            if progress is not None and vi > 0:
                progress((done + rc * vi / len(runs)) / r_total)
            specs = {t: p.spec(t, v.mode, v.fmt) for t in Target}
            tag = 1000 * ci + vi
            ws = _weights(prob, specs[Target.W], rc, p.seed, tag)
            gr = _per_sample(ws, x, y, prob.loss, specs, p.seed, tag)
            means = _batch_means(gr, bs)  # (n_B, R_c, P)
            if vi == 0:
                means_f, gr_f = means, gr
            diff = means - means_f
            s_q[vi] += means.sum(1)
            s_q2[vi] += (means**2).sum(1)
            s_d[vi] += diff.sum(1)
            s_d2[vi] += (diff**2).sum(1)
            if ci == 0 and vi > 0 and RoundMode(v.mode) in STOCHASTIC_MODES:
                key = (specs[Target.G], specs[Target.A])
                if key not in model_cache:
                    model_cache[key] = _model_q(gr_f, *key)
                model_q[vi] = model_cache[key]
        done += rc
        if progress is not None:
            progress(done / r_total)

    def var_e(s: np.ndarray, s2: np.ndarray) -> np.ndarray:  # per element: (n_B, P)
        return np.asarray((s2 - s**2 / r_total) / (r_total - 1))

    def var(s: np.ndarray, s2: np.ndarray) -> np.ndarray:
        return np.asarray(var_e(s, s2).sum(-1))

    b_arr = np.asarray(bs, dtype=np.float64)
    samp = var(s_q[0], s_q2[0])
    s_const = float(np.mean(samp * b_arr))
    rows: list[pd.DataFrame] = []
    for vi, v in enumerate(runs):
        _check(deadline)
        tot, qv = var(s_q[vi], s_q2[vi]), var(s_d[vi], s_d2[vi])
        dev2 = (s_q[vi] / r_total - g_full) ** 2  # (n_B, P)
        raw = dev2.sum(-1)
        bias2 = raw - tot / r_total
        # standard error of that estimate: raw = Σ_e (b_e + ε_e)², ε_e ~ N(0, v_e) with
        # v_e = var_e / R, so Var(raw) = Σ_e 4 b_e² v_e + 2 v_e² (b_e² estimated by dev2 − v_e)
        ve = var_e(s_q[vi], s_q2[vi]) / r_total
        bias2_se = np.sqrt((4.0 * np.maximum(dev2 - ve, 0.0) * ve + 2.0 * ve**2).sum(-1))
        bias2_se0 = np.sqrt((2.0 * ve**2).sum(-1))  # the same for a zero bias
        stochastic = v.mode != FP32 and RoundMode(v.mode) in STOCHASTIC_MODES
        fv, fb = _floor(prob, p, v, g_full)
        rows.append(pd.DataFrame({
            "model": p.model, "fmt": v.fmt, "mode": v.mode, "batch": np.asarray(bs),
            "repeats": r_total, "total_var": tot, "sampling_var": samp, "quant_var": qv,
            "cross": tot - samp - qv, "bias2": bias2, "bias2_noise": tot / r_total,
            "bias2_se": bias2_se, "bias2_se0": bias2_se0,
            "mse": tot + bias2,
            "model_var": (s_const + model_q[vi]) / b_arr if stochastic else np.nan,
            "model_quant_var": model_q[vi] / b_arr if stochastic else np.nan,
            "floor_var": fv, "floor_bias2": fb, "grad_norm2": float(g_full @ g_full),
        }))
    return pd.concat(rows, ignore_index=True)


def _floor(
    prob: Problem, p: GradVarianceParams, v: _Variant, g_full: np.ndarray
) -> tuple[float, float]:
    """Variance and squared bias of the full-data gradient at Q(W) (W quantization only)."""
    spec = p.spec(Target.W, v.mode, v.fmt)
    if spec is None:
        return 0.0, 0.0
    draws = p.floor_draws if spec.mode in STOCHASTIC_MODES else 1
    g = _full_gradient(prob, _weights(prob, spec, draws, p.seed, 999_999))  # (draws, P)
    mean = g.mean(0)
    fv = float(g.var(0, ddof=1).sum()) if draws > 1 else 0.0
    fb = float(((mean - g_full) ** 2).sum()) - (fv / draws if draws > 1 else 0.0)
    return fv, fb


def bits_format(k: int, ebits: int = 5, family: str = "float") -> str:
    """The format with precision ``k`` in a family: ``e{ebits}m{k}ieee`` (k mantissa bits,
    IEEE-like) or ``int{k+2}`` (a fixed-point grid; with tensor scaling the tensor's amax sits in
    the top binade). In both, one more k halves the spacing Δ.

    Raises:
        ValueError: unknown family, or no such format.
    """
    if family == "float":
        name = f"e{ebits}m{k}ieee"  # "ieee": a bare "e4m3" is the OCP finite float8_e4m3fn
    elif family == "int":
        name = f"int{k + 2}"
    else:
        raise ValueError(f"family={family!r}: use 'float' or 'int'")
    get_format(name)
    return name


def bits_sweep(
    p: GradVarianceParams, mbits: Iterable[int], ebits: int = 5, progress: Progress | None = None,
    family: str = "float", *, deadline: Deadline | None = None,
) -> pd.DataFrame:
    """:func:`gradient_variance` for every ``(mode, bits_format(k))`` pair in one sweep.

    All bit counts share the fp32 pass and the samples (common random numbers), so differences
    between bit counts are not blurred by sampling noise. Same columns as
    :func:`gradient_variance` plus ``mbits`` (-1 on the fp32 rows). ``progress`` and
    ``deadline`` as in :func:`gradient_variance`.

    Raises:
        ValueError: bad ebits/mbits/family (see :func:`bits_format`); :class:`TimeLimit`.
    """
    fmts = {bits_format(int(k), ebits, family): int(k) for k in mbits}
    variants = [_Variant(m, name) for name in fmts for m in p.modes if m != FP32]
    df = _sweep(p, variants, progress, deadline)
    df["mbits"] = [fmts.get(f, -1) if m != FP32 else -1 for f, m in zip(df["fmt"], df["mode"],
                                                                        strict=True)]
    return df


def exchange_rate(
    p: GradVarianceParams, mbits: Iterable[int], ref_batch: int, ebits: int = 5,
    progress: Progress | None = None, family: str = "float",
) -> pd.DataFrame:
    """The batch size needed at k mantissa bits to match the fp32 error at ``ref_batch``.

    :func:`exchange_from_sweep` of :func:`bits_sweep`.

    Raises:
        ValueError: ref_batch not among p.batch_sizes; bad ebits/mbits.
    """
    if ref_batch not in p.batch_sizes:
        raise ValueError(f"ref_batch={ref_batch!r} is not one of the batch sizes {p.batch_sizes}")
    return exchange_from_sweep(bits_sweep(p, mbits, ebits, progress, family), ref_batch)


def exchange_from_sweep(df: pd.DataFrame, ref_batch: int) -> pd.DataFrame:
    """Exchange rate of bits for batch from a :func:`bits_sweep` table.

    The measured error ``mse`` = total_var + bias2 of each curve is fitted by least squares (in
    relative error) as C/B + F over the swept batch sizes (F ≥ 0: what no batch removes); the
    target is the fp32 fit at ``ref_batch`` and ``batch_needed`` = C/(target − F), ∞ when
    F ≥ target. ``model_batch`` is the lab's model, (S + Q)/(target − floor) with S the sampling
    constant, Q the Δ²/6 sum and floor the measured weight floor (∞ when it exceeds the target),
    for the stochastic modes.

    Returns:
        DataFrame with columns ``mode, mbits, fmt, ref_batch, target_mse, fit_c, fit_floor,
        batch_needed, model_batch``.

    Raises:
        ValueError: ref_batch is not a positive batch size.
    """
    if not ref_batch >= 1:
        raise ValueError(f"ref_batch={ref_batch!r} must be >= 1")
    q = df[df["mode"] != FP32]
    fmts = dict(zip(q["fmt"], q["mbits"], strict=True))
    fp = df[df["mode"] == FP32]
    c0, f0 = _fit_inverse(fp["batch"].to_numpy(np.float64), fp["mse"].to_numpy(np.float64))
    target = c0 / ref_batch + f0
    s_const = float(np.mean(fp["sampling_var"] * fp["batch"]))
    rows = []
    for (fk, mk), d in df[df["mode"] != FP32].groupby(["fmt", "mode"], sort=False):
        b = d["batch"].to_numpy(np.float64)
        c, fl = _fit_inverse(b, d["mse"].to_numpy(np.float64))
        need = c / (target - fl) if target > fl else np.inf
        model_b = np.nan
        if not np.isnan(d["model_var"].iloc[0]):
            q_const = float(d["model_quant_var"].iloc[0] * b[0])
            floor = float(d["floor_var"].iloc[0] + max(d["floor_bias2"].iloc[0], 0.0))
            model_b = (s_const + q_const) / (target - floor) if target > floor else np.inf
        rows.append({"mode": mk, "mbits": int(fmts[fk]), "fmt": fk, "ref_batch": ref_batch,
                     "target_mse": target, "fit_c": c, "fit_floor": fl, "batch_needed": need,
                     "model_batch": model_b})
    return pd.DataFrame(rows)


def _fit_inverse(b: np.ndarray, e: np.ndarray) -> tuple[float, float]:
    """Least-squares fit e(B) ≈ C/B + F in relative error (weights 1/e), F ≥ 0."""
    w = 1.0 / np.maximum(e, 1e-300)
    a = np.stack([w / b, w], axis=1)
    (c, f), *_ = np.linalg.lstsq(a, np.ones_like(e), rcond=None)
    if f < 0:  # no floor: refit C alone
        c, f = float(np.sum(w / b) / np.sum((w / b) ** 2)), 0.0
    return float(c), float(f)


# --- check 17, part 1 -----------------------------------------------------------------------------


def sr_noise_variance(delta: float, batch: int, n_batches: int, seed: int = 0) -> float:
    """Variance of the SR noise in the batch mean: per-sample SR at fixed spacing Δ on N(0,1) data.

    Draws ``n_batches × batch`` values x ~ N(0,1), rounds each with exact SR onto the grid ΔZ
    (``Δ·Q_int16(x/Δ)``) and returns the sample variance over batches of mean(Q(x) − x). The
    lab's model (spec check 17) predicts Δ²/(6B).

    Raises:
        ValueError: delta not a power of two in [2^-10, 1], batch or n_batches < 1 (n_batches < 2).
    """
    if not (2.0**-10 <= delta <= 1.0 and math.frexp(delta)[0] == 0.5):
        raise ValueError(f"delta={delta!r} must be a power of two in [2^-10, 1]")
    if batch < 1 or n_batches < 2:
        raise ValueError(f"batch={batch!r}, n_batches={n_batches!r}: need >= 1 and >= 2")
    x = np.random.default_rng([seed, 17]).standard_normal((n_batches, batch))
    # int16's grid is Z for |v| < 32767; |x| / delta < 8 * 2^10 for N(0,1) data (8.2 sigma)
    q = delta * quantize(x / delta, "int16", "sr", seed=_sub_seed(seed, 17))
    return float(np.var((q - x).mean(axis=1), ddof=1))


# --- SGD training curves --------------------------------------------------------------------------


def _loss(prob: Problem, ws: list[np.ndarray]) -> np.ndarray:
    """Full-data loss per run, weights (S, out, in): (S,)."""
    a = np.einsum("ni,soi->sno", prob.x, ws[0])  # (S, N, out); einsum: no batched-BLAS overhead
    for w in ws[1:]:
        a = np.einsum("sni,soi->sno", np.maximum(a, 0.0), w)
    if prob.loss == "mse":
        return np.asarray(0.5 * ((a[..., 0] - prob.y) ** 2).mean(-1))
    z = a - a.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return np.asarray(-np.take_along_axis(logp, prob.y[None, :, None], -1).mean((-2, -1)))


def _init(prob: Problem, seeds: int, seed: int) -> list[np.ndarray]:
    """Training start: zero for the linear model, He-normal (scaled 0.5) otherwise."""
    rng = np.random.default_rng([seed, 3])
    out = []
    for w in prob.ws:
        if prob.loss == "mse":
            out.append(np.zeros((seeds, *w.shape)))
        else:
            out.append(rng.standard_normal((seeds, *w.shape)) * 0.5 * math.sqrt(2.0 / w.shape[1]))
    return out


def sgd_curves(
    p: SGDParams, progress: Progress | None = None, *, deadline: Deadline | None = None,
) -> pd.DataFrame:
    """Plain mini-batch SGD from the same start, per rounding mode, several seeds.

    Per step: a batch of ``p.batch`` samples (with replacement), per-sample gradients with A and
    G quantized as in :func:`gradient_variance`, the batch mean, then the update. When W is a
    target the weights are *stored* in the format with no high-precision copy,
    ``W ← Q(W − lr·ĝ)`` rounded with the mode, so an update smaller than half a spacing is lost
    under round-to-nearest (stagnation), while SR keeps it in expectation. ``progress`` is
    called with the done fraction after every step (it may raise to cancel the run);
    ``deadline`` is checked there too (:class:`TimeLimit`).

    Returns:
        DataFrame with columns ``mode, seed, step, samples, loss`` (full-data loss, float64
        arithmetic, every ``p.eval_every`` steps and at step 0).
    """
    prob = problem(p.model)
    n = prob.x.shape[0]
    modes = [FP32, *(m for m in p.modes if m != FP32)]
    rows = []
    evals = list(range(0, p.steps + 1, p.eval_every))
    if evals[-1] != p.steps:
        evals.append(p.steps)
    for mi, m in enumerate(modes):
        specs = {t: p.spec(t, m) for t in Target}
        rng = np.random.default_rng([p.seed, 4])  # same batches for every mode
        ws = _init(prob, p.seeds, p.seed)
        ws = [_q(w, specs[Target.W], _sub_seed(p.seed, mi, 0, 5, li)) if specs[Target.W] else w
              for li, w in enumerate(ws)]
        losses = [_loss(prob, ws)]
        for step in range(1, p.steps + 1):
            idx = rng.integers(0, n, size=(p.seeds, p.batch))
            tag = step * 64 + mi
            gr = _per_sample(ws, prob.x[idx], prob.y[idx], prob.loss, specs, p.seed, tag)
            grads = [
                np.einsum("rbo,rbi->roi", g, a) / p.batch for g, a in zip(gr.g, gr.a, strict=True)
            ]
            ws = [w - p.lr * g for w, g in zip(ws, grads, strict=True)]
            if specs[Target.W] is not None:
                ws = [
                    _q(w, specs[Target.W], _sub_seed(p.seed, tag, 6, li)) for li, w in enumerate(ws)
                ]
            if step in evals:
                losses.append(_loss(prob, ws))
            _check(deadline)
            if progress is not None:
                progress((mi + step / p.steps) / len(modes))
        arr = np.stack(losses)  # (n_eval, S)
        for s in range(p.seeds):
            rows.append(pd.DataFrame({
                "mode": m, "seed": s, "step": evals, "samples": np.asarray(evals) * p.batch,
                "loss": arr[:, s],
            }))
    return pd.concat(rows, ignore_index=True)

