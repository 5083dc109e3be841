"""Uploads: every accepted file type round-trips, every hostile or broken one is refused with a
ValueError (never another exception), and a malicious pickle never runs."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save as st_save
from safetensors.torch import save as st_torch_save

from lowbit_core.experiments import tensor_io
from lowbit_core.experiments.tensor_io import check_tensor, load_tensors, read_tensors


def _npy(a: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def _pt(obj: object, zip_format: bool = True) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=zip_format)
    return buf.getvalue()


@pytest.mark.parametrize(("dtype", "out"), [(np.float16, np.float32), (np.float32, np.float32),
                                            (np.float64, np.float64)])
def test_npy_round_trip(dtype, out) -> None:
    a = np.linspace(-3, 3, 24, dtype=dtype).reshape(2, 3, 4)
    got = load_tensors(_npy(a), "w.npy")
    assert list(got) == ["w"] and got["w"].dtype == out
    assert np.array_equal(got["w"], a.astype(out))


def test_npz_choose_array_and_skipped_reasons() -> None:
    tf = read_tensors(_npz(w=np.ones((4, 8), np.float32), b=np.zeros(3), idx=np.arange(5)),
                      "m.npz")
    assert sorted(tf.arrays) == ["b", "w"]
    assert "integer" in tf.skipped["idx"]


def test_safetensors_dtypes() -> None:
    t = torch.randn(4, 16)
    blob = st_torch_save({"bf": t.to(torch.bfloat16), "f8": t.to(torch.float8_e4m3fn),
                          "f8b": t.to(torch.float8_e5m2), "h": t.half(), "i": t.to(torch.int32)})
    tf = read_tensors(blob, "x.safetensors")
    assert np.array_equal(tf.arrays["bf"], t.to(torch.bfloat16).float().numpy())
    assert np.array_equal(tf.arrays["f8"], t.to(torch.float8_e4m3fn).float().numpy())
    assert np.array_equal(tf.arrays["f8b"], t.to(torch.float8_e5m2).float().numpy())
    assert np.array_equal(tf.arrays["h"], t.half().float().numpy())
    assert "integer" in tf.skipped["i"]
    assert np.array_equal(load_tensors(st_save({"a": np.eye(3)}), "a.safetensors")["a"],
                          np.eye(3))


def test_pt_state_dict_flattened() -> None:
    sd = {"model": {"fc.weight": torch.randn(3, 4).to(torch.bfloat16),
                    "fc.bias": torch.randn(3)}, "epoch": 7, "hist": [torch.ones(2)],
          "steps": torch.tensor(5)}
    tf = read_tensors(_pt(sd), "ckpt.pt")
    assert sorted(tf.arrays) == ["hist.0", "model.fc.bias", "model.fc.weight"]
    assert tf.arrays["model.fc.weight"].dtype == np.float32
    assert "integer" in tf.skipped["steps"]
    assert list(load_tensors(_pt(torch.ones(2, 2)), "t.pth")) == ["tensor"]


class _Evil:
    """Unpickling this creates a file: the payload the refusal is tested with."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_malicious_pt_is_refused_without_running(tmp_path: Path, zip_format: bool) -> None:
    target = tmp_path / "pwned"
    blob = _pt({"w": torch.ones(2), "x": _Evil(target)}, zip_format)
    with pytest.raises(ValueError, match="refused"):
        load_tensors(blob, "model.pt")
    assert not target.exists()
    # the payload is real: an unrestricted load would have created the file
    proof = tmp_path / "proof"
    f = torch.load(io.BytesIO(_pt(_Evil(proof), zip_format)), weights_only=False)
    f.close()
    assert proof.exists()


def test_pickled_npy_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    obj = np.array([_Evil(target)], dtype=object)
    with pytest.raises(ValueError, match="pickle"):
        load_tensors(_npy(obj, allow_pickle=True), "obj.npy")
    with pytest.raises(ValueError, match=r"not a \.npy"):
        load_tensors(pickle.dumps(_Evil(target)), "raw.npy")
    tf = read_tensors(_npz(ok=np.ones(3)), "a.npz")
    assert list(tf.arrays) == ["ok"]
    buf = io.BytesIO()
    np.savez(buf, obj=obj, ok=np.ones(3))  # np.savez pickles object arrays
    tf = read_tensors(buf.getvalue(), "mixed.npz")
    assert list(tf.arrays) == ["ok"] and "pickle" in tf.skipped["obj"]
    assert not target.exists()


@pytest.mark.parametrize("name", ["w.pkl", "w.pickle", "w", "w.txt", "w.npy.exe", "w.joblib"])
def test_other_file_types_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unsupported file type"):
        load_tensors(_npy(np.ones(3)), name)


def test_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tensor_io, "MAX_BYTES", 1000)
    with pytest.raises(ValueError, match="MiB allowed"):
        load_tensors(_npy(np.ones(1000)), "big.npy")
    monkeypatch.setattr(tensor_io, "MAX_BYTES", 64 * 2**20)
    monkeypatch.setattr(tensor_io, "MAX_UNPACKED", 10_000)
    bomb = _npz(z=np.zeros(100_000, np.float32))  # 400 kB of zeros packs to ~1 kB
    assert len(bomb) < 10_000
    with pytest.raises(ValueError, match="unpacks to"):
        load_tensors(bomb, "bomb.npz")
    with pytest.raises(ValueError, match="unpacks to"):
        load_tensors(_pt({"w": torch.zeros(100_000)}), "bomb.pt")
    with pytest.raises(ValueError, match="empty"):
        load_tensors(b"", "e.npy")


@pytest.mark.parametrize(
    ("a", "msg"),
    [(np.arange(6), "integer"), (np.ones(3, bool), "integer"), (np.ones(3, np.complex64),
     "complex"), (np.ones((0, 4), np.float32), "empty"), (np.full(5, np.nan), "all NaN"),
     (np.array([1.0, np.inf, 2.0]), "infinite"), (np.array([1.0, np.nan]), "NaN"),
     (np.ones(3, dtype="V2"), "not bf16")],
)
def test_bad_tensors_give_a_message(a: np.ndarray, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        check_tensor(a, "t")
    if a.dtype.kind != "V":
        with pytest.raises(ValueError, match=msg):
            load_tensors(_npy(a), "t.npy")


def test_no_usable_tensor_lists_the_reasons() -> None:
    with pytest.raises(ValueError, match=r"no tensor can be analysed.*integer.*empty"):
        load_tensors(_npz(a=np.arange(3), b=np.ones(0)), "x.npz")
    with pytest.raises(ValueError, match="holds no tensor"):
        load_tensors(_pt({"epoch": 3}), "x.pt")


def _corruptions() -> list[tuple[str, bytes]]:
    good = {
        ".npy": _npy(np.ones((4, 4), np.float32)),
        ".npz": _npz(a=np.ones(64, np.float32)),
        ".safetensors": st_save({"a": np.ones(64, np.float32)}),
        ".pt": _pt({"a": torch.ones(64)}),
        ".pth": _pt(torch.ones(64), zip_format=False),
    }
    rng = np.random.default_rng(0)
    out = []
    for suf, blob in good.items():
        out.append((suf, blob[: len(blob) // 2]))  # truncated
        out.append((suf, blob[:12]))
        flipped = bytearray(blob)
        for i in rng.integers(0, len(blob), 8):
            flipped[i] ^= 0xFF
        out.append((suf, bytes(flipped)))
        out.append((suf, rng.integers(0, 256, 300, dtype=np.uint8).tobytes()))
        out.append((suf, b"\x93NUMPY" + b"\x00" * 20))
        out.append((suf, b"PK\x03\x04" + b"\xff" * 40))
    return out


@pytest.mark.parametrize(("suffix", "blob"), _corruptions())
def test_corrupt_files_raise_value_error_only(suffix: str, blob: bytes) -> None:
    try:
        tf = read_tensors(blob, "f" + suffix)
    except ValueError:
        return
    for a in tf.arrays.values():  # a flipped byte in the data alone may still parse: then it
        assert np.isfinite(a).all()  # must be a clean, finite tensor


def test_read_does_not_touch_the_working_directory(tmp_path: Path) -> None:
    before = set(os.listdir(tmp_path))
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        load_tensors(_pt({"w": torch.ones(3)}), "w.pt")
        load_tensors(_npz(a=np.ones(3)), "a.npz")
    finally:
        os.chdir(cwd)
    assert set(os.listdir(tmp_path)) == before


def test_zip_guard_counts_members() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(tensor_io.MAX_TENSORS + 1):
            z.writestr(f"a{i}.npy", b"")
    with pytest.raises(ValueError, match="members"):
        load_tensors(buf.getvalue(), "many.npz")
