"""The C glue (src_native/glue.c): typed errors from module state, multi-phase init,
bounded reductions reported as KernelError, strict argument types, hidden symbols.

These test the extension module itself, so they skip when it is not built.
"""

from __future__ import annotations

import importlib.util
import inspect
import shutil
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest
from kernel_oracle import (
    BARRETT_MIN_LIMBS,
    WATCHDOG_SECONDS,
    boundary_moduli,
    bounded,
    limbs,
)

import fedcrypto.exceptions as fe
from fedcrypto._backend._limbs import int_to_limbs, ints_to_limbs, limbs_to_ints

_native = pytest.importorskip("fedcrypto._native")

M = int_to_limbs(1009)
X = ints_to_limbs([2, 3])


def _out(count: int = 2, width: int = 1) -> np.ndarray:
    return np.empty((count, width), np.uint64)


# -- bounds: a violated bound is a typed error, never a spin -------------------------------
def test_broken_barrett_bound_raises_kernel_error() -> None:
    """With the old, truncated mu for m = 2^2048 (= B^32: mu = B^34 does not fit 34
    limbs), Barrett's correction loop used to spin ~2^128 times with the GIL released.
    The loop is now bounded, and the violation surfaces as KernelError."""
    m = int_to_limbs(1 << 2048)
    with pytest.raises(fe.KernelError, match="bound"):
        bounded(lambda: _native._barrett_selftest(m, 4, 1, True), "broken Barrett")
    assert issubclass(fe.KernelError, fe.FedCryptoError)


@pytest.mark.parametrize(
    "m",
    [
        m
        for m in boundary_moduli((23, 24, 32, 55, 56, 64)).values()
        if limbs(m) >= BARRETT_MIN_LIMBS
    ],
)
def test_barrett_matches_division(m: int) -> None:
    got = bounded(lambda: _native._barrett_selftest(int_to_limbs(m), 64, 99, False), "Barrett")
    if m == 1 << (64 * (limbs(m) - 1)):
        assert got is None  # m = B^(n-1): Barrett refused, division instead
    else:
        assert got == 0


def test_barrett_not_used_below_its_minimum() -> None:
    assert _native._barrett_selftest(int_to_limbs((1 << 1472) - 1), 4, 1, False) is None
    assert _native._barrett_selftest(int_to_limbs((1 << 1472) - 1), 4, 1, True) is None


def test_redc_selftest_at_boundaries() -> None:
    for m in ((1 << 3520) + 1, (1 << 3584) - 1, (1 << 4096) - 1, (1 << 4032) + 1):
        assert bounded(lambda m=m: _native._redc_selftest(int_to_limbs(m), 50, 5), "REDC") == 0
    assert _native._redc_selftest(int_to_limbs((1 << 3520) - 1), 5, 5) is None  # 55 limbs


# -- exceptions from module state ------------------------------------------------------------
def test_exception_classes_come_from_module_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """The glue looked ``fedcrypto.exceptions`` up on every raise; now it keeps the classes
    from module init.  With the module hidden from sys.modules, errors keep their types."""
    monkeypatch.setitem(
        sys.modules, "fedcrypto.exceptions", types.ModuleType("fedcrypto.exceptions")
    )
    with pytest.raises(fe.InvalidArgumentError):
        _native.powmod(X, X, M, _out(), False, 0)
    with pytest.raises(fe.InvalidTypeError):
        _native.powmod([[1]], X, M, _out(), False, 1)
    with pytest.raises(fe.KernelError):
        _native._barrett_selftest(int_to_limbs(1 << 2048), 1, 1, True)


def test_multi_phase_init_gives_independent_modules() -> None:
    """Multi-phase init: executing the extension again makes a new module with its own
    state and FixedBase type, both working."""
    spec = importlib.util.find_spec("fedcrypto._native")
    assert spec is not None and spec.loader is not None
    again = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(again)
    assert again is not _native
    assert again.FixedBase is not _native.FixedBase
    out = _out()
    again.powmod(X, X, M, out, False, 1)
    assert out.tolist() == [[4], [27]]
    table = again.FixedBase(int_to_limbs(3), M, 10, 0, 1)
    res = _out(1)
    table.pow(int_to_limbs(5), res, 1)
    assert res.tolist() == [[pow(3, 5, 1009)]]
    with pytest.raises(fe.InvalidArgumentError):
        again.mulmod(X, X, M, _out(), 0)


def test_subinterpreter_import() -> None:
    """The module imports and raises its typed errors in a second interpreter (3.11's
    private API; Python 3.12+ adds the per-interpreter GIL slot this module declares).
    A fresh process: numpy refuses a second load once the main interpreter has it."""
    pytest.importorskip("_xxsubinterpreters")
    inner = textwrap.dedent(
        """
        import warnings
        warnings.simplefilter("ignore")  # numpy warns about sub-interpreters
        import numpy as np
        import fedcrypto.exceptions as fe
        from fedcrypto import _native
        from fedcrypto._backend._limbs import int_to_limbs
        out = np.empty((1, 1), np.uint64)
        _native.powmod(int_to_limbs(3), int_to_limbs(5), int_to_limbs(1009), out, False, 1)
        assert out[0, 0] == 243
        try:
            _native.powmod(int_to_limbs(3), int_to_limbs(5), int_to_limbs(1009), out, False, 0)
        except fe.InvalidArgumentError:
            pass
        else:
            raise AssertionError("no typed error")
        """
    )
    outer = (
        "import _xxsubinterpreters as si\n"
        "i = si.create(isolated=False)\n"
        f"si.run_string(i, {inner!r})\n"
        "si.destroy(i)\n"
        "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", outer], capture_output=True, text=True, timeout=WATCHDOG_SECONDS
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


# -- argument parsing (one skeleton for every entry point) -----------------------------------
def test_arguments_are_typed_strictly() -> None:
    out = _out()
    with pytest.raises(fe.InvalidTypeError):
        _native.powmod(X, X, M, out, 1, 1)  # secret must be a bool
    with pytest.raises(fe.InvalidTypeError):
        _native.powmod(X, X, M, out, False, "2")  # threads must be an int
    with pytest.raises(fe.InvalidTypeError):
        _native.powmod(X, X, M, out, False, True)  # not a bool either
    with pytest.raises(fe.InvalidTypeError):
        _native.powmod(X, X, M, out, False)  # wrong count: still a TypeError
    with pytest.raises(fe.InvalidArgumentError):
        _native.powmod(X, X, M, out, False, -(10**30))
    with pytest.raises(fe.InvalidTypeError):
        _native.FixedBase(int_to_limbs(3), M, 10.0, 0, 1)
    with pytest.raises(fe.InvalidArgumentError):
        _native.FixedBase(int_to_limbs(3), M, -1, 0, 1)
    with pytest.raises(fe.InvalidTypeError):
        _native.FixedBase(int_to_limbs(3), M, 10, 0, 1, secret=1)
    with pytest.raises(fe.InvalidTypeError):
        _native.curve25519_h2c_u(12, 1)
    with pytest.raises(fe.InvalidArgumentError):
        _native.curve25519_h2c_u(b"x" * 95, 1)
    # huge thread counts are clamped, not refused
    _native.powmod(X, X, M, out, False, 10**30)
    assert out.tolist() == [[4], [27]]


def test_every_entry_point_validates_before_running() -> None:
    """Values at or above the modulus are refused under the GIL, by every entry point."""
    big = ints_to_limbs([1009, 2])
    out = _out()
    calls = [
        lambda: _native.powmod(big, X, M, out, False, 1),
        lambda: _native.powmod(big, X, M, out, True, 1),
        lambda: _native.mulmod(X, big, M, out, 1),
        lambda: _native.prodmod(big, M, _out(1), 1),
        lambda: _native.multi_powmod(big, X, M, _out(1), 1),
        lambda: _native.crt(big, X, M, int_to_limbs(1013), int_to_limbs(5), out, 1),
        lambda: _native.FixedBase(int_to_limbs(1009), M, 10, 0, 1),
    ]
    for call in calls:
        with pytest.raises(fe.InvalidArgumentError, match="below"):
            call()


def test_zero_element_batches() -> None:
    empty = np.zeros((0, 1), np.uint64)
    _native.powmod(empty, X[:1], M, _out(0), True, 1)
    _native.mulmod(empty, empty, M, _out(0), 1)
    _native.crt(empty, empty, M, int_to_limbs(1013), int_to_limbs(5), _out(0, 2), 1)
    one = _out(1)
    _native.prodmod(empty, M, one, 1)
    assert one.tolist() == [[1]]
    _native.multi_powmod(empty, empty, M, one, 1)
    assert one.tolist() == [[1]]
    table = _native.FixedBase(int_to_limbs(3), M, 10, 0, 1)
    table.pow(empty, _out(0), 1)
    assert _native.curve25519_h2c_u(b"", 1) == b""


def test_results_for_a_power_of_two_modulus_are_one_limb_narrower() -> None:
    m = 1 << 128  # three limbs; results below 2^128 fit two
    xs = [m - 1, m - 2]
    out = _out(2, 2)
    _native.mulmod(ints_to_limbs(xs, 3), ints_to_limbs(xs, 3), int_to_limbs(m), out, 1)
    assert limbs_to_ints(out) == [x * x % m for x in xs]


def test_text_signatures_match_the_stub() -> None:
    """Every callable carries a __text_signature__ (stubtest checks it against the stub)."""
    for name in (
        "powmod",
        "mulmod",
        "prodmod",
        "multi_powmod",
        "crt",
        "curve25519_h2c_u",
        "gmp_version",
        "gmp_default_allocators",
        "_redc_selftest",
        "_barrett_selftest",
    ):
        sig = inspect.signature(getattr(_native, name))
        assert all(p.kind is p.POSITIONAL_ONLY for p in sig.parameters.values()), name
    assert list(inspect.signature(_native.FixedBase).parameters) == [
        "base",
        "mod",
        "max_exp_bits",
        "window",
        "threads",
        "secret",
    ]


# -- the shared object ---------------------------------------------------------------------
def test_only_the_init_function_is_exported() -> None:
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) not installed")
    proc = subprocess.run(
        [nm, "-D", "--defined-only", _native.__file__], capture_output=True, text=True, check=True
    )
    symbols = [line.split()[-1] for line in proc.stdout.splitlines() if line.strip()]
    assert symbols == ["PyInit__native"], symbols
