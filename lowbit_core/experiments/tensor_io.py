"""Reading a user's tensor safely: uploads, checks, and the 2-D view the report works on.

Formats (nothing else is opened; a pickle is never unpickled except by torch's restricted one):

* ``.npy``: ``np.load(allow_pickle=False)``, so object arrays (pickles inside .npy) are refused;
* ``.npz``: every member, each with ``allow_pickle=False``; the zip's unpacked size is checked
  first (a zip bomb is refused before anything is inflated);
* ``.safetensors``: ``safetensors.deserialize`` (validates the header), dtypes F16/BF16/F32/F64
  and the FP8 types (decoded through the lab's own code tables);
* ``.pt``/``.pth``: ``torch.load(weights_only=True)`` only (tensors and plain containers; any
  other object in the pickle is refused without being built). Nested dicts/lists are flattened
  to dotted names; non-tensor leaves (an epoch counter) are ignored.

Caps: :data:`MAX_BYTES` per file, :data:`MAX_UNPACKED` unpacked per zip, and
:data:`MAX_ELEMENTS` per analysed tensor (a larger one is a seeded sample of whole rows of its
2-D view, see :func:`view2d`).
"""

from __future__ import annotations

import io
import math
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import numpy as np

__all__ = [
    "MAX_BYTES",
    "MAX_ELEMENTS",
    "MAX_UNPACKED",
    "SUFFIXES",
    "TensorFile",
    "View2D",
    "check_tensor",
    "load_tensors",
    "read_tensors",
    "view2d",
]

MAX_BYTES = 64 * 2**20  #: largest accepted file (64 MiB)
MAX_UNPACKED = 256 * 2**20  #: largest unpacked zip content (.npz, torch's zip .pt)
MAX_ELEMENTS = 2**24  #: 16M elements analysed; bigger tensors are sampled
MAX_TENSORS = 4096  #: tensors per file
SEGMENT = 4096  #: sample unit of a single huge row (a multiple of every block size <= 256)
SUFFIXES = (".npy", ".npz", ".safetensors", ".pt", ".pth")


@dataclass(frozen=True)
class TensorFile:
    """What :func:`read_tensors` found: usable arrays and why the others were left out."""

    arrays: dict[str, np.ndarray]  #: name -> float32 or float64 array (checked, finite)
    skipped: dict[str, str]  #: name -> the reason it cannot be analysed


def check_tensor(a: Any, name: str = "tensor") -> np.ndarray:
    """A finite, non-empty floating-point array, as float32 (16/32-bit input) or float64.

    Raises:
        ValueError: integer, boolean, complex, object or other non-float dtypes; an empty
            array; all-NaN; any NaN or infinity (each message names the tensor and says why).
    """
    arr = np.asarray(a)
    dt = arr.dtype
    if dt.names is None and dt.name == "bfloat16":  # ml_dtypes' bfloat16: widen exactly
        arr = (arr.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        dt = arr.dtype
    if dt.kind == "c":
        raise ValueError(
            f"{name!r} is complex ({dt}): the formats here hold real numbers; analyse the real "
            "and imaginary parts as two tensors"
        )
    if dt.kind in "iub":
        raise ValueError(
            f"{name!r} is an integer tensor ({dt}): the formats quantize floating-point values; "
            "cast it to float32 first if its values are what you want to analyse"
        )
    if dt.kind != "f" or dt.itemsize not in (2, 4, 8):
        raise ValueError(
            f"{name!r} has dtype {dt}, which is not bf16, fp16, fp32 or fp64 (a 2-byte void "
            "dtype is ml_dtypes' bfloat16 read without ml_dtypes: save it as float32 or as "
            "safetensors)"
        )
    if arr.size == 0:
        raise ValueError(f"{name!r} is empty (shape {arr.shape})")
    out = np.ascontiguousarray(arr, dtype=np.float64 if dt.itemsize == 8 else np.float32)
    n_nan = int(np.count_nonzero(np.isnan(out)))
    if n_nan == out.size:
        raise ValueError(f"{name!r} is all NaN ({out.size:,} elements)")
    n_inf = int(np.count_nonzero(np.isinf(out)))
    if n_nan or n_inf:
        first = int(np.flatnonzero(~np.isfinite(out.reshape(-1)))[0])
        raise ValueError(
            f"{name!r} holds {n_nan:,} NaN and {n_inf:,} infinite value(s) (first at flat "
            f"index {first:,}): every metric needs finite values; replace or drop them first"
        )
    return out


# --- parsers: each turns bytes into {name: raw array or torch tensor}, ValueError otherwise ------


def _zip_guard(data: bytes, filename: str) -> None:
    """Refuse a zip whose members would unpack past MAX_UNPACKED (checked before inflating)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"{filename}: not a readable zip archive ({exc})") from None
    if len(infos) > MAX_TENSORS:
        raise ValueError(f"{filename}: {len(infos):,} members, more than {MAX_TENSORS:,}")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNPACKED:
        raise ValueError(
            f"{filename}: unpacks to {total / 2**20:,.0f} MiB, more than the "
            f"{MAX_UNPACKED / 2**20:.0f} MiB allowed"
        )


def _npy(data: bytes, filename: str) -> dict[str, Any]:
    if not data.startswith(b"\x93NUMPY"):
        raise ValueError(f"{filename}: not a .npy file (no NumPy header)")
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ValueError(
                f"{filename}: holds pickled Python objects (an object array); refused, pickles "
                "are never unpickled"
            ) from None
        raise ValueError(f"{filename}: corrupt .npy ({exc})") from None
    except Exception as exc:  # untrusted bytes: whatever the parser raises means "corrupt"
        raise ValueError(f"{filename}: corrupt .npy ({type(exc).__name__}: {exc})") from None
    return {PurePath(filename).stem or "array": arr}


def _npz(data: bytes, filename: str) -> dict[str, Any]:
    _zip_guard(data, filename)
    out: dict[str, Any] = {}
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            for name in z.files:
                try:
                    out[name] = z[name]
                except ValueError as exc:  # a pickled member: keep going, report it
                    out[name] = _Refused(
                        "holds pickled Python objects; refused, pickles are never unpickled"
                        if "pickle" in str(exc).lower() else f"corrupt member ({exc})"
                    )
    except Exception as exc:  # untrusted bytes
        raise ValueError(f"{filename}: corrupt .npz ({type(exc).__name__}: {exc})") from None
    return out


@dataclass(frozen=True)
class _Refused:
    reason: str


_ST_FLOAT = {"F16": np.float16, "F32": np.float32, "F64": np.float64}
_ST_FP8 = {"F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}


def _st_array(name: str, t: dict[str, Any]) -> Any:
    dtype, shape, raw = str(t["dtype"]), tuple(int(s) for s in t["shape"]), t["data"]
    if dtype in _ST_FLOAT:
        return np.frombuffer(raw, dtype=np.dtype(_ST_FLOAT[dtype]).newbyteorder("<")).reshape(
            shape
        )
    if dtype == "BF16":  # the top half of a float32: widening is exact
        u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return u.view(np.float32).reshape(shape)
    if dtype in _ST_FP8:
        from ..formats import all_values

        codes = np.frombuffer(raw, dtype=np.uint8)
        return all_values(_ST_FP8[dtype])[codes].astype(np.float32).reshape(shape)
    kind = "integer" if dtype[0] in "IUB" else "unsupported"
    return _Refused(f"is an {kind} tensor (safetensors dtype {dtype})")


def _safetensors(data: bytes, filename: str) -> dict[str, Any]:
    import safetensors

    try:
        items = safetensors.deserialize(data)  # type: ignore[no-untyped-call]
    except Exception as exc:  # SafetensorError and friends: untrusted bytes
        raise ValueError(f"{filename}: corrupt .safetensors ({exc})") from None
    if len(items) > MAX_TENSORS:
        raise ValueError(f"{filename}: {len(items):,} tensors, more than {MAX_TENSORS:,}")
    return {name: _st_array(name, t) for name, t in items}


def _flatten(obj: Any, prefix: str, out: dict[str, Any], depth: int = 0) -> None:
    import torch

    if len(out) > MAX_TENSORS or depth > 32:
        raise ValueError(f"more than {MAX_TENSORS:,} tensors or nesting deeper than 32")
    if isinstance(obj, torch.Tensor):
        out[prefix or "tensor"] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out, depth + 1)
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _flatten(v, f"{prefix}.{i}" if prefix else str(i), out, depth + 1)
    # numbers, strings, None: metadata of a checkpoint, not tensors


def _torch_array(t: Any) -> Any:
    import torch

    if t.is_sparse or t.is_quantized or t.layout != torch.strided:
        return _Refused(f"is a {t.layout} / quantized tensor; store it dense")
    if t.is_complex():
        return _Refused(f"is complex ({t.dtype})")
    if not t.is_floating_point():
        return _Refused(f"is an integer tensor ({t.dtype})")
    t = t.detach().cpu()
    if t.dtype not in (torch.float16, torch.float32, torch.float64):
        t = t.to(torch.float32)  # bfloat16 and the FP8 dtypes widen exactly
    return t.contiguous().numpy()


def _torch(data: bytes, filename: str) -> dict[str, Any]:
    if data.startswith(b"PK"):
        _zip_guard(data, filename)
    import torch

    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise ValueError(
            f"{filename}: refused: its pickle holds something other than tensors and plain "
            f"containers, and it is only ever opened with torch.load(weights_only=True) ({first})"
        ) from None
    except Exception as exc:  # untrusted bytes: anything else means a corrupt file
        raise ValueError(f"{filename}: corrupt .pt file ({type(exc).__name__}: {exc})") from None
    flat: dict[str, Any] = {}
    try:
        _flatten(obj, "", flat)
    except ValueError as exc:
        raise ValueError(f"{filename}: {exc}") from None
    return {k: _torch_array(v) for k, v in flat.items()}


_PARSERS = {".npy": _npy, ".npz": _npz, ".safetensors": _safetensors, ".pt": _torch,
            ".pth": _torch}


def read_tensors(data: bytes, filename: str) -> TensorFile:
    """Every usable tensor in an uploaded file, and the reason for each one left out.

    Raises:
        ValueError: an unsupported file type, a file over MAX_BYTES, a corrupt or refused file
            (a pickle with anything but tensors), or a file with no usable tensor (the message
            gives each tensor's reason).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValueError(f"data must be bytes, got {type(data).__name__}")
    data = bytes(data)
    name = PurePath(str(filename)).name or "upload"
    suffix = PurePath(name).suffix.lower()
    if suffix not in _PARSERS:
        raise ValueError(
            f"{name}: unsupported file type {suffix or '(none)'!r}: upload .npy, .npz, "
            ".safetensors, .pt or .pth (other pickles are never opened)"
        )
    if len(data) > MAX_BYTES:
        raise ValueError(
            f"{name}: {len(data) / 2**20:,.1f} MiB, more than the {MAX_BYTES // 2**20} MiB allowed"
        )
    if not data:
        raise ValueError(f"{name}: the file is empty")
    raw = _PARSERS[suffix](data, name)
    arrays: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}
    for key, a in raw.items():
        if isinstance(a, _Refused):
            skipped[key] = f"{key!r} {a.reason}"
            continue
        try:
            arrays[key] = check_tensor(a, key)
        except ValueError as exc:
            skipped[key] = str(exc)
    if not arrays:
        if not skipped:
            raise ValueError(f"{name}: holds no tensor")
        raise ValueError(f"{name}: no tensor can be analysed: " + "; ".join(skipped.values()))
    return TensorFile(arrays, skipped)


def load_tensors(data: bytes, filename: str) -> dict[str, np.ndarray]:
    """Name -> array (float32, or float64 for fp64 input) for every usable tensor of a file.

    ``filename``'s suffix picks the reader (module docstring). Tensors that cannot be analysed
    are left out (:func:`read_tensors` says why); a file with none raises.

    Raises:
        ValueError: as :func:`read_tensors`.
    """
    return read_tensors(data, filename).arrays


@dataclass(frozen=True)
class View2D:
    """A tensor as a (rows, cols) matrix whose rows run along the blocking axis."""

    x: np.ndarray  #: (rows, cols), C-contiguous; blocks run along cols
    shape: tuple[int, ...]  #: the original tensor's shape
    axis: int  #: the blocking axis of the original tensor (non-negative)
    total: int  #: elements of the original tensor
    note: str  #: "" or how the tensor was sampled

    @property
    def sampled(self) -> bool:
        return self.x.size < self.total


def view2d(x: np.ndarray, axis: int = -1, max_elements: int = MAX_ELEMENTS,
           seed: int = 0) -> View2D:
    """Move ``axis`` last and flatten the rest: ``(prod(other axes), shape[axis])``.

    A tensor with more than ``max_elements`` keeps a seeded random sample of whole rows (in
    their original order), so every block is a block of the original tensor; a single row
    longer than that keeps a sample of its aligned segments of :data:`SEGMENT` elements.

    Raises:
        ValueError: ``axis`` out of range for the tensor.
    """
    arr = np.asarray(x)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise ValueError(f"axis={axis!r} must be an integer")
    if not -arr.ndim <= int(axis) < arr.ndim:
        raise ValueError(f"axis {axis} out of range for a tensor of shape {arr.shape}")
    ax = int(axis) % arr.ndim
    cols = arr.shape[ax]
    m = np.moveaxis(arr, ax, -1).reshape(-1, cols)
    rows, total = m.shape[0], m.size
    note = ""
    if total > max_elements:
        rng = np.random.default_rng(seed)
        if cols <= max_elements:
            k = max(1, max_elements // cols)
            keep = np.sort(rng.choice(rows, size=k, replace=False))
            m = m[keep]
            note = (f"{total:,} elements: analysing {k:,} of its {rows:,} rows along axis "
                    f"{ax} (a random sample, seed {seed})")
        else:
            per_row = cols // SEGMENT
            k = max(1, max_elements // SEGMENT)
            pick = np.sort(rng.choice(rows * per_row, size=min(k, rows * per_row),
                                      replace=False))
            r, s = np.divmod(pick, per_row)
            m = np.stack([m[i, j * SEGMENT:(j + 1) * SEGMENT] for i, j in zip(r, s,
                                                                               strict=True)])
            note = (f"{total:,} elements in rows of {cols:,}: analysing {len(pick):,} aligned "
                    f"segments of {SEGMENT} (a random sample, seed {seed})")
    return View2D(np.ascontiguousarray(m), tuple(int(s) for s in np.shape(x)) or (1,), ax,
                  int(math.prod(np.shape(x))) or 1, note)
