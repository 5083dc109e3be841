"""Low-precision dynamics (paper (e), Paxton et al., "Climate Modelling in Low-Precision"):
Lorenz-63, stagnation cards and a soil heat column with every arithmetic result rounded.

Python API (no Streamlit):

* :class:`Precision`: float64, ``sbits`` stored bits with float64's exponent range, or a format;
  RNE, exact SR or an N-bit SR mode; a seed of the counter RNG.
* :func:`lorenz` (:class:`LorenzParams` -> :class:`LorenzResult`: ``states``, ``period``,
  ``first_repeat``, ``distinct``), :func:`climate_sweep` (W1 table), :func:`w1`.
* :func:`harmonic_sum`, :func:`decay_ode`, :func:`heat_column` (stagnation cards).
* :class:`DynamicsParams` (the page's URL schema) and :func:`run`, :func:`stagnation`,
  :func:`heat`, :func:`live_sweep`, :func:`load_library` (tidy DataFrames for the page).
"""

from .cards import decay_ode, harmonic_bounds, harmonic_sum, heat_column
from .lorenz import LorenzParams, LorenzResult, climate_sweep, lorenz, periodicity, w1
from .precision import FLOAT64, MODES, Precision, sbits_format

__all__ = [
    "FLOAT64",
    "MODES",
    "LorenzParams",
    "LorenzResult",
    "Precision",
    "climate_sweep",
    "decay_ode",
    "harmonic_bounds",
    "harmonic_sum",
    "heat_column",
    "lorenz",
    "periodicity",
    "sbits_format",
    "w1",
]
