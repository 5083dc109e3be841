"""Small real data sets shipped in ``data/`` (nothing is downloaded at run time).

Provenance, licence, checksums and the extraction commands are in ``data/README.md``.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from pathlib import Path

import numpy as np

__all__ = ["DATA_DIR", "DIGITS_SHA256", "load_digits"]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
#: sha256 of ``data/digits.csv.gz`` as shipped in scikit-learn 1.9.1 (see data/README.md).
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
DIGITS_SHAPE = (1797, 64)


@cache
def _digits_raw(path: Path) -> np.ndarray:
    """The 1797 x 65 integer table (64 pixels 0..16, then the label), checked against its hash."""
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != DIGITS_SHA256:
        raise ValueError(
            f"{path} has sha256 {digest}, expected {DIGITS_SHA256} (see data/README.md)"
        )
    text = gzip.decompress(blob).decode("ascii")
    table = np.array([row.split(",") for row in text.split()], dtype=np.int64)
    if table.shape != (DIGITS_SHAPE[0], DIGITS_SHAPE[1] + 1):
        raise ValueError(f"{path}: expected a 1797 x 65 table, got {table.shape}")
    table.setflags(write=False)
    return table


def load_digits(path: Path | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The UCI 8x8 handwritten digits (the scikit-learn copy): 1797 images, 10 classes.

    Args:
        path: the ``digits.csv.gz`` file; defaults to ``data/digits.csv.gz`` in the repository.

    Returns:
        ``(x, y)``: ``x`` float32 of shape (1797, 64), pixel counts 0..16 divided by 16 so they
        lie in [0, 1] (row-major 8x8 images); ``y`` int64 of shape (1797,), labels 0..9.
        Fresh arrays on every call (safe to modify).

    Raises:
        ValueError: the file's checksum or shape is not the expected one.
        FileNotFoundError: the file is missing.
    """
    table = _digits_raw(Path(path) if path is not None else DATA_DIR / "digits.csv.gz")
    x = table[:, :64].astype(np.float32) / np.float32(16.0)  # (1797, 64)
    y = table[:, 64].astype(np.int64)  # (1797,)
    return x, y
