"""The floating-point quantization scaling law of Sun et al. (paper (f), "Capybara", ICML 2025).

    L(N, D, E, M, B) = n/N^α + d/D^β + ε + (D^β / N^α) · log2(B) / (γ (E+0.5)^δ (M+0.5)^ν)

N parameters, D training tokens, E/M exponent/mantissa bits of the format, B the block size of
the high-precision scale (B = 1: no penalty, the law's BF16 limit; ``"channel"``: log2 B =
13.1567). Everything here is the paper's *fitted* law evaluated in numpy, vectorised over
broadcasting arrays; nothing is measured. Sources: wave2_spec §F, papers_spec (f).

Closed forms used below (derived from the law; the paper's Eq. 19, 21, 46/47):

* D_crit: dL/dD = 0 gives D^(2β) = d γ N^α (E+0.5)^δ (M+0.5)^ν / log2 B (Eq. 21).
* Optimal layout for P = E + M + 1 bits: maximise (E+0.5)^δ (M+0.5)^ν with (E+0.5) + (M+0.5) =
  P, so M+0.5 = νP/(δ+ν) (Eq. 19). There (E+0.5)^δ (M+0.5)^ν = P^(δ+ν) δ^δ ν^ν / (δ+ν)^(δ+ν),
  so γ (E+0.5)^δ (M+0.5)^ν = γ_ρ P^(δ+ν) with γ_ρ = γ δ^δ ν^ν / (δ+ν)^(δ+ν) = 160.697.
* Compute C = k P N D (k = 6/16). With the optimal layout every term of L is c·exp(a·z) in
  z = (log N, log P) (D = C/(kPN)), so L is convex in z and its one stationary point is the
  global minimum. Writing T_N, T_D, T_P for the model, data and precision terms, the two
  conditions are α T_N = (δ+ν−α) T_P and β T_D = (β+δ+ν) T_P, i.e.
  P^(δ+ν) = γ_D D^β log2 B with γ_D = (δ+ν−α)/(n α γ_ρ) (the paper's Eq. 46/47, which is
  also the optimum over P at fixed C and D), and N^α = α n (β+δ+ν) D^β / (β d (δ+ν−α)).
  Both are powers of D, so log C = log k + log P + log N + log D is linear in log D and the
  compute optimum has a closed form (the paper's printed Eq. 25 is garbled; the tests hold this
  equal to a brute-force minimisation over a fine (N, P) grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CONSTANTS",
    "ENVELOPE",
    "CapybaraConstants",
    "FitEnvelope",
    "Layout",
    "LossTerms",
    "capybara_loss",
    "critical_data",
    "effective_params",
    "effective_params_layout",
    "log2_block",
    "loss_terms",
    "optimal_layout",
    "optimal_precision_compute",
    "optimal_precision_data",
    "outside_envelope",
]

Block = float | int | str | ArrayLike


@dataclass(frozen=True)
class CapybaraConstants:
    """The fitted constants of the law (Sun et al. 2025, Table 2 [READ]) and what follows."""

    n: float = 69.2343  #: model-size coefficient
    alpha: float = 0.2368  #: model-size exponent α
    d: float = 68973.0621  #: data coefficient
    beta: float = 0.5162  #: data exponent β
    eps: float = 1.9061  #: irreducible loss ε
    gamma: float = 11334.5197  #: precision-penalty scale γ
    delta: float = 3.1926  #: exponent-bits power δ
    nu: float = 2.9543  #: mantissa-bits power ν
    log2_channel: float = 13.1567  #: log2 B of channel-wise scaling [READ]
    source: str = (
        "Sun et al., Scaling Laws for Floating-Point Quantization Training, ICML 2025 "
        "(arXiv 2501.02423), Table 2; channel-wise log2 B from the same text"
    )

    @property
    def gamma_rho(self) -> float:
        """γ_ρ = γ δ^δ ν^ν / (δ+ν)^(δ+ν): γ (E+0.5)^δ (M+0.5)^ν at the optimal layout is
        γ_ρ P^(δ+ν) (160.697 [INFER])."""
        s = self.delta + self.nu
        return float(self.gamma * self.delta**self.delta * self.nu**self.nu / s**s)

    @property
    def gamma_d(self) -> float:
        """γ_D = (δ+ν−α)/(n α γ_ρ) of the optimal precision for data (Eq. 46/47)."""
        return (self.delta + self.nu - self.alpha) / (self.n * self.alpha * self.gamma_rho)


CONSTANTS = CapybaraConstants()


@dataclass(frozen=True)
class FitEnvelope:
    """Where the law was fitted (wave2_spec §F [READ]); outside it the law extrapolates."""

    n_params: tuple[float, float] = (41e6, 679e6)  #: fitted model sizes (41M, 85M, 154M, 679M)
    n_validated: tuple[float, ...] = (1.2e9, 7e9, 70e9)  #: model sizes the paper validated at
    tokens: tuple[float, float] = (10e9, 105e9)  #: fitted data sizes
    ebits: tuple[int, int] = (0, 6)  #: exponent bits of the fitted layouts, E0M7 … E6M1
    mbits: tuple[int, int] = (1, 7)  #: mantissa bits of the fitted layouts, E6M1 … E0M7
    blocks: tuple[float, float] = (32, 512)  #: fitted block sizes (plus channel and tensor)
    #: what was quantized: the GEMM inputs the paper names (quantizing dY cost up to 2 %)
    quantized: tuple[str, ...] = ("W (forward)", "W (Dgrad)", "X (Wgrad)")
    rounding: str = "round to nearest (QPyTorch simulation)"
    codes: str = "IEEE-like with subnormals, no inf/NaN codes"
    source: str = "Sun et al. 2025, §3 and Fig. 2 (wave2_spec §F)"


ENVELOPE = FitEnvelope()


@dataclass(frozen=True)
class LossTerms:
    """The four terms of the law (arrays broadcast from the inputs, or floats)."""

    model: Any  #: n / N^α
    data: Any  #: d / D^β
    irreducible: float  #: ε
    precision: Any  #: (D^β / N^α) log2 B / (γ (E+0.5)^δ (M+0.5)^ν)

    @property
    def total(self) -> Any:
        return self.model + self.data + self.irreducible + self.precision


@dataclass(frozen=True)
class Layout:
    """The optimal exponent/mantissa split of a bit width P (sign bit included)."""

    e: Any  #: continuous optimum E_opt = P − 1 − M_opt
    m: Any  #: continuous optimum M_opt = νP/(δ+ν) − 0.5
    e_int: Any  #: nearest integer layout for round(P) bits
    m_int: Any  #: (round M_opt, kept in 0..P−1; equals the best integer split for P ≤ 32)


def _out(x: NDArray[np.float64]) -> Any:
    """A 0-d result as a numpy scalar, anything else as the array."""
    return x[()] if x.ndim == 0 else x


def _check(name: str, x: ArrayLike, *, lo: float = 0.0, strict: bool = True) -> NDArray[Any]:
    """``x`` as a float64 array, every value finite and > lo (or >= lo when not strict).

    Raises:
        ValueError: naming the first bad value of ``name``.
    """
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={x!r} is not a number") from None
    ok = np.isfinite(a) & ((a > lo) if strict else (a >= lo))
    if not ok.all():
        bad = float(a[~ok].ravel()[0]) if a.ndim else float(a)
        rel = ">" if strict else ">="
        raise ValueError(f"{name}={bad!r} must be a finite number {rel} {lo:g}")
    return a


def log2_block(B: Block, c: CapybaraConstants = CONSTANTS) -> NDArray[np.float64]:
    """log2 B for a block size (a number >= 1, or an array of them) or ``"channel"``.

    Raises:
        ValueError: ``"tensor"`` (its constants ω, ξ, η are not published), another string,
            or a block size that is NaN, infinite or below 1.
    """
    if isinstance(B, str):
        key = B.strip().lower()
        if key == "channel":
            return np.asarray(c.log2_channel)
        if key == "tensor":
            raise ValueError(
                "B='tensor': tensor-wise scaling needs log2 B = N^ω / (ξ D^η), and the paper "
                "does not publish ω, ξ, η; use a block size or 'channel'"
            )
        try:
            B = float(key)
        except ValueError:
            raise ValueError(f"B={B!r}: use a block size >= 1 or 'channel'") from None
    out: NDArray[np.float64] = np.log2(_check("B", B, lo=1.0, strict=False))
    return out


def loss_terms(
    N: ArrayLike, D: ArrayLike, E: ArrayLike, M: ArrayLike, B: Block = 128,
    c: CapybaraConstants = CONSTANTS,
) -> LossTerms:
    """The law's four terms (model, data, irreducible, precision penalty).

    Raises:
        ValueError: N or D not finite and > 0, E or M negative or not finite, a bad B
            (:func:`log2_block`).
    """
    n, d = _check("N", N), _check("D", D)
    e, m = _check("E", E, strict=False), _check("M", M, strict=False)
    lb = log2_block(B, c)
    pen = d**c.beta / n**c.alpha * lb / (c.gamma * (e + 0.5) ** c.delta * (m + 0.5) ** c.nu)
    model = np.broadcast_to(c.n / n**c.alpha, pen.shape)
    data = np.broadcast_to(c.d / d**c.beta, pen.shape)
    return LossTerms(_out(model.copy()), _out(data.copy()), c.eps, _out(pen))


def capybara_loss(
    N: ArrayLike, D: ArrayLike, E: ArrayLike, M: ArrayLike, B: Block = 128,
    c: CapybaraConstants = CONSTANTS,
) -> Any:
    """L(N, D, E, M, B), the fitted loss (module docstring; Sun et al. Eq. 1/18/26).

    Args:
        N: parameters; D: training tokens; E, M: exponent and mantissa bits (floats allowed);
        B: block size of the scale, or ``"channel"``. All broadcast together.

    Raises:
        ValueError: as :func:`loss_terms`.
    """
    return loss_terms(N, D, E, M, B, c).total


def critical_data(
    N: ArrayLike, E: ArrayLike, M: ArrayLike, B: Block = 128, c: CapybaraConstants = CONSTANTS
) -> Any:
    """D_crit = [d γ N^α (E+0.5)^δ (M+0.5)^ν / log2 B]^(1/(2β)) (Eq. 21): the data size
    where L(D) is smallest; past it more tokens raise the loss. Infinite for B = 1.

    Raises:
        ValueError: as :func:`loss_terms`.
    """
    n = _check("N", N)
    e, m = _check("E", E, strict=False), _check("M", M, strict=False)
    lb = log2_block(B, c)
    num = c.d * c.gamma * n**c.alpha * (e + 0.5) ** c.delta * (m + 0.5) ** c.nu
    with np.errstate(divide="ignore"):
        return _out(np.power(num / lb, 1.0 / (2.0 * c.beta)))


def optimal_layout(P: ArrayLike, c: CapybaraConstants = CONSTANTS) -> Layout:
    """The (E, M) split of P bits that minimises the precision penalty (Eq. 19).

    Raises:
        ValueError: P not finite or below 2 (one sign bit and at least one other).
    """
    p = _check("P", P, lo=2.0, strict=False)
    m = c.nu * p / (c.delta + c.nu) - 0.5
    pi = np.rint(p)
    m_int = np.clip(np.rint(c.nu * pi / (c.delta + c.nu) - 0.5), 0, pi - 1)
    return Layout(
        _out(p - 1 - m), _out(m), _out((pi - 1 - m_int).astype(np.int64)),
        _out(m_int.astype(np.int64)),
    )


def _lb_positive(B: Block, c: CapybaraConstants) -> NDArray[np.float64]:
    lb = log2_block(B, c)
    if not (lb > 0).all():
        raise ValueError("B=1 has no precision penalty, so no optimal precision: use B > 1")
    return lb


def optimal_precision_data(D: ArrayLike, B: Block = 128, c: CapybaraConstants = CONSTANTS) -> Any:
    """P_opt(D) = (γ_D D^β log2 B)^(1/(δ+ν)) (Eq. 46/47): the best bit width (with its optimal
    layout) for D tokens when compute C = kPND is fixed, so N = C/(kPD).

    Raises:
        ValueError: D not finite and > 0, a bad B, or B = 1.
    """
    d = _check("D", D)
    lb = _lb_positive(B, c)
    return _out((c.gamma_d * d**c.beta * lb) ** (1.0 / (c.delta + c.nu)))


def optimal_precision_compute(
    C: ArrayLike, B: Block = 128, k: float = 6 / 16, c: CapybaraConstants = CONSTANTS
) -> tuple[Any, Any, Any]:
    """The compute-optimal (P, N, D) for a budget C = k P N D, each P with its optimal layout.

    Closed form (module docstring): D from log C = a0 + a1 log D, then P(D) and N(D).

    Raises:
        ValueError: C or k not finite and > 0, a bad B, or B = 1.
    """
    cc = _check("C", C)
    kk = float(_check("k", k))
    lb = _lb_positive(B, c)
    s = c.delta + c.nu
    log_p0 = np.log(c.gamma_d * lb) / s  # log P = log_p0 + (β/s) log D
    log_n0 = math.log(c.alpha * c.n * (c.beta + s) / (c.beta * c.d * (s - c.alpha))) / c.alpha
    a1 = 1.0 + c.beta / s + c.beta / c.alpha  # log N = log_n0 + (β/α) log D
    log_d = (np.log(cc) - math.log(kk) - log_p0 - log_n0) / a1
    p = np.exp(log_p0 + c.beta / s * log_d)
    n = np.exp(log_n0 + c.beta / c.alpha * log_d)
    return _out(p), _out(n), _out(np.exp(log_d))


def effective_params_layout(
    N: ArrayLike, D: ArrayLike, E: ArrayLike, M: ArrayLike, B: Block = 128,
    c: CapybaraConstants = CONSTANTS,
) -> Any:
    """N_eff with n/N_eff^α = n/N^α + precision term: the size of a model with no precision
    penalty (the BF16 limit, B = 1) whose model term equals this run's model + penalty terms.

    N_eff = N [1 + D^β log2 B / (n γ (E+0.5)^δ (M+0.5)^ν)]^(−1/α).

    Raises:
        ValueError: as :func:`loss_terms`.
    """
    t = loss_terms(N, D, E, M, B, c)
    n = np.asarray(N, dtype=np.float64)
    return _out(n * (1.0 + np.asarray(t.precision) / np.asarray(t.model)) ** (-1.0 / c.alpha))


def effective_params(
    N: ArrayLike, D: ArrayLike, P: ArrayLike, B: Block = 128, c: CapybaraConstants = CONSTANTS
) -> Any:
    """N_eff = N · [1 + D^β log2 B / (γ_ρ n P^(δ+ν))]^(−1/α) for P bits in their optimal
    (continuous) layout (wave2_spec §F).

    Raises:
        ValueError: as :func:`loss_terms` and :func:`optimal_layout`.
    """
    lay = optimal_layout(P, c)
    return effective_params_layout(N, D, lay.e, lay.m, B, c)


def _si(x: float) -> str:
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suf}"
    return f"{x:.3g}"


def outside_envelope(
    N: float | None = None, D: float | None = None, E: float | None = None,
    M: float | None = None, B: float | str | None = None, env: FitEnvelope = ENVELOPE,
) -> dict[str, str]:
    """Which inputs leave the fit envelope: ``{input name: why}``, empty when all are inside.

    Inputs left as None are not checked. E and M are checked against their ranges separately
    (the spec gives the fitted layouts only as E0M7 … E6M1).
    """
    out: dict[str, str] = {}
    lo, hi = env.n_params
    if N is not None and not lo <= N <= hi:
        val = ", ".join(_si(v) for v in env.n_validated)
        out["N"] = (
            f"N = {_si(N)} is outside the fitted {_si(lo)}–{_si(hi)} parameters "
            f"(the paper validated the law at {val})"
        )
    lo, hi = env.tokens
    if D is not None and not lo <= D <= hi:
        out["D"] = f"D = {_si(D)} tokens is outside the fitted {_si(lo)}–{_si(hi)} tokens"
    if E is not None and not env.ebits[0] <= E <= env.ebits[1]:
        out["E"] = f"E = {E:g} exponent bits is outside the fitted {env.ebits[0]}–{env.ebits[1]}"
    if M is not None and not env.mbits[0] <= M <= env.mbits[1]:
        out["M"] = f"M = {M:g} mantissa bits is outside the fitted {env.mbits[0]}–{env.mbits[1]}"
    if B is not None:
        if isinstance(B, str):
            if B.strip().lower() not in ("channel", "tensor"):
                out["B"] = f"B = {B!r} is not a fitted scaling granularity"
        elif not env.blocks[0] <= B <= env.blocks[1]:
            out["B"] = (
                f"B = {B:g} is outside the fitted block sizes {env.blocks[0]:g}–{env.blocks[1]:g}"
                " (and channel-wise)"
            )
    return out
