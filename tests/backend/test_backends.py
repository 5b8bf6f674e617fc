"""The three arithmetic backends (native, gmpy2, pure): pinned cases, edge cases, bad input.

Every test runs on each backend that can be loaded here; the native-only tests
(thread counts, fixed-base windows, buffer checks in the C glue) skip when the
extension is not built.  Random differential tests live in
``tests/property/test_backends_property.py``.
"""

from __future__ import annotations

import os
import pickle
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fedcrypto
from fedcrypto._backend import BACKEND_NAMES, Backend, get_backend, load_backend, secret_window
from fedcrypto._backend._limbs import int_to_limbs, ints_to_limbs, limbs_to_ints, width_of
from fedcrypto.exceptions import BackendUnavailableError, InvalidArgumentError, InvalidTypeError


def _available() -> list[str]:
    names = []
    for name in BACKEND_NAMES:
        try:
            load_backend(name)
        except BackendUnavailableError:
            continue
        names.append(name)
    return names


AVAILABLE = _available()
HAVE_NATIVE = "native" in AVAILABLE
needs_native = pytest.mark.skipif(not HAVE_NATIVE, reason="native kernel not built")

#: A pure-Python run (FEDCRYPTO_BACKEND=pure) keeps the heavy cases small.
LIGHT = get_backend().name == "pure"
BIG_BITS = 2048 if LIGHT else 6144


@pytest.fixture(params=AVAILABLE)
def backend(request: pytest.FixtureRequest) -> Backend:
    return load_backend(request.param)


@pytest.fixture
def native() -> Backend:
    if not HAVE_NATIVE:
        pytest.skip("native kernel not built")
    return load_backend("native")


def _odd_modulus(bits: int) -> int:
    return secrets.randbits(bits) | (1 << (bits - 1)) | 1


def _rows(values: list[int], mod: int) -> np.ndarray:
    return ints_to_limbs(values, width_of(mod))


# -- selection guard -------------------------------------------------------------------


def test_forced_backend_is_the_one_in_use() -> None:
    forced = os.environ.get("FEDCRYPTO_BACKEND", "").strip().lower()
    if not forced:
        pytest.skip("FEDCRYPTO_BACKEND not set for this run")
    assert fedcrypto.backend_info()["name"] == forced


@needs_native
def test_native_info() -> None:
    info = load_backend("native").info()
    assert info["name"] == "native"
    assert info["constant_time"] == "yes"
    assert info["gmp"].count(".") >= 1
    assert int(info["threads"]) >= 1
    assert "gmpy2" in info


# -- powmod ----------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [2, 63, 64, 65, 512, 2048])
def test_powmod_edge_values(backend: Backend, bits: int) -> None:
    for m in (_odd_modulus(bits), _odd_modulus(bits) - 1 if bits > 2 else 2):
        if m <= 1:
            continue
        bases = [0, 1, m - 1, m // 2]
        for e in (0, 1, 2, m - 1, 2**bits + 3):
            out = backend.powmod(_rows(bases, m), int_to_limbs(e), m)
            assert limbs_to_ints(out) == [pow(b, e, m) for b in bases]
            assert out.shape == (len(bases), width_of(m - 1))


@pytest.mark.parametrize("bits", [64, 1024])
def test_secret_powmod_edge_values(backend: Backend, bits: int) -> None:
    m = _odd_modulus(bits)
    bases = [0, 1, 2, m - 1]
    for e in (0, 1, 2, m - 1):
        out = backend.powmod(_rows(bases, m), int_to_limbs(e), m, secret=True)
        assert limbs_to_ints(out) == [pow(b, e, m) for b in bases]


def test_secret_exponent_zero_gives_one(backend: Backend) -> None:
    """mpn_sec_powm/mpz_powm_sec need care at e = 0: the answer is 1, even for base 0."""
    m = _odd_modulus(256)
    out = backend.powmod(_rows([0, 5, m - 1], m), np.zeros((3, 4), np.uint64), m, secret=True)
    assert limbs_to_ints(out) == [1, 1, 1]


def test_secret_exponent_with_wide_rows(backend: Backend) -> None:
    """Exponent rows wider than needed (leading zero limbs) give the same result."""
    m = _odd_modulus(300)
    b = secrets.randbelow(m)
    e = secrets.randbits(70)
    out = backend.powmod(_rows([b], m), int_to_limbs(e, 9), m, secret=True)
    assert limbs_to_ints(out) == [pow(b, e, m)]


def test_powmod_per_element_exponents(backend: Backend) -> None:
    m = _odd_modulus(700)
    bs = [secrets.randbelow(m) for _ in range(7)]
    es = [secrets.randbits(300) for _ in range(7)]
    for secret in (False, True):
        out = backend.powmod(_rows(bs, m), ints_to_limbs(es), m, secret=secret)
        assert limbs_to_ints(out) == [pow(b, e, m) for b, e in zip(bs, es, strict=True)]


def test_powmod_big_modulus(backend: Backend) -> None:
    m = _odd_modulus(BIG_BITS)
    bs = [secrets.randbelow(m), m - 1]
    e = secrets.randbits(BIG_BITS if not LIGHT else 512)
    for secret in (False, True):
        out = backend.powmod(_rows(bs, m), int_to_limbs(e), m, secret=secret)
        assert limbs_to_ints(out) == [pow(b, e, m) for b in bs]


def test_powmod_modulus_power_of_two_limb(backend: Backend) -> None:
    """m = 2^64: results are one limb although m needs two."""
    m = 2**64
    bs = [3, 2**64 - 1]
    out = backend.powmod(_rows(bs, m), int_to_limbs(65537), m)
    assert out.shape == (2, 1)
    assert limbs_to_ints(out) == [pow(b, 65537, m) for b in bs]


def test_empty_batches(backend: Backend) -> None:
    m = _odd_modulus(130)
    empty = np.zeros((0, 3), np.uint64)
    assert backend.powmod(empty, int_to_limbs(5), m).shape == (0, 3)
    assert backend.powmod(empty, int_to_limbs(5), m, secret=True).shape == (0, 3)
    assert backend.mulmod(empty, empty, m).shape == (0, 3)
    assert limbs_to_ints(backend.prodmod(empty, m)) == [1]
    assert limbs_to_ints(backend.multi_powmod(empty, empty, m)) == [1]
    assert backend.crt(empty, empty, 7, 11).shape == (0, 1)
    table = backend.fixed_base(3, m, 64)
    assert table.pow(np.zeros((0, 1), np.uint64)).shape == (0, 3)


# -- value checks ----------------------------------------------------------------------


def test_values_not_below_modulus_are_rejected(backend: Backend) -> None:
    m = _odd_modulus(200)
    bad = _rows([1, m], m)
    good = _rows([1, 2], m)
    one = int_to_limbs(1)
    with pytest.raises(InvalidArgumentError):
        backend.powmod(bad, one, m)
    with pytest.raises(InvalidArgumentError):
        backend.powmod(bad, one, m, secret=True)
    with pytest.raises(InvalidArgumentError):
        backend.mulmod(good, bad, m)
    with pytest.raises(InvalidArgumentError):
        backend.mulmod(bad, good, m)
    with pytest.raises(InvalidArgumentError):
        backend.prodmod(bad, m)
    with pytest.raises(InvalidArgumentError):
        backend.multi_powmod(bad, ints_to_limbs([1, 1]), m)
    with pytest.raises(InvalidArgumentError):
        backend.crt(int_to_limbs(7), int_to_limbs(1), 7, 11)
    with pytest.raises(InvalidArgumentError):
        backend.crt(int_to_limbs(1), int_to_limbs(11), 7, 11)
    with pytest.raises(InvalidArgumentError):
        backend.fixed_base(m, m, 10)


def test_wide_rows_with_value_in_high_limbs_rejected(backend: Backend) -> None:
    m = _odd_modulus(100)
    rows = np.zeros((1, 5), np.uint64)
    rows[0, 4] = 1
    with pytest.raises(InvalidArgumentError):
        backend.powmod(rows, int_to_limbs(3), m)


@pytest.mark.parametrize("mod", [0, 1, -7])
def test_modulus_at_most_one_rejected(backend: Backend, mod: int) -> None:
    x = int_to_limbs(0)
    with pytest.raises(InvalidArgumentError):
        backend.powmod(x, x, mod)
    with pytest.raises(InvalidArgumentError):
        backend.mulmod(x, x, mod)
    with pytest.raises(InvalidArgumentError):
        backend.prodmod(x, mod)
    with pytest.raises(InvalidArgumentError):
        backend.multi_powmod(x, x, mod)
    with pytest.raises(InvalidArgumentError):
        backend.fixed_base(0, mod, 8)


def test_even_modulus_rejected_for_secret(backend: Backend) -> None:
    m = _odd_modulus(128) + 1
    with pytest.raises(InvalidArgumentError):
        backend.powmod(_rows([3], m), int_to_limbs(5), m, secret=True)
    # ...but fine for the variable-time path
    assert limbs_to_ints(backend.powmod(_rows([3], m), int_to_limbs(5), m)) == [pow(3, 5, m)]


def test_crt_requires_coprime_moduli(backend: Backend) -> None:
    with pytest.raises(InvalidArgumentError):
        backend.crt(int_to_limbs(1), int_to_limbs(1), 6, 9)


# -- layout checks ---------------------------------------------------------------------

BAD_ARRAYS: list[tuple[str, Callable[[], object]]] = [
    ("int64", lambda: np.zeros((2, 2), np.int64)),
    ("float", lambda: np.zeros((2, 2), np.float64)),
    ("uint32", lambda: np.zeros((2, 2), np.uint32)),
    ("1-D", lambda: np.zeros(4, np.uint64)),
    ("3-D", lambda: np.zeros((1, 2, 2), np.uint64)),
    ("non-contiguous", lambda: np.zeros((2, 4), np.uint64)[:, ::2]),
    ("fortran", lambda: np.asfortranarray(np.zeros((3, 2), np.uint64))),
    ("zero limbs", lambda: np.zeros((2, 0), np.uint64)),
    ("list", lambda: [[1, 2]]),
    ("bytes", lambda: b"\x00" * 16),
]


@pytest.mark.parametrize("label,make", BAD_ARRAYS, ids=[b[0] for b in BAD_ARRAYS])
def test_bad_arrays_are_typed_errors(
    backend: Backend, label: str, make: Callable[[], object]
) -> None:
    m = 1009
    good = _rows([2, 3], m)
    bad = make()
    calls: list[Callable[[], object]] = [
        lambda: backend.powmod(bad, good, m),  # type: ignore[arg-type]
        lambda: backend.powmod(good, bad, m),  # type: ignore[arg-type]
        lambda: backend.mulmod(good, bad, m),  # type: ignore[arg-type]
        lambda: backend.prodmod(bad, m),  # type: ignore[arg-type]
        lambda: backend.multi_powmod(bad, good, m),  # type: ignore[arg-type]
        lambda: backend.crt(bad, good, 1009, 1013),  # type: ignore[arg-type]
        lambda: backend.fixed_base(2, m, 16).pow(bad),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(InvalidTypeError):
            call()


def test_mismatched_lengths(backend: Backend) -> None:
    m = 1009
    two, three = _rows([1, 2], m), _rows([1, 2, 3], m)
    with pytest.raises(InvalidArgumentError):
        backend.powmod(two, three, m)
    with pytest.raises(InvalidArgumentError):
        backend.mulmod(two, three, m)
    with pytest.raises(InvalidArgumentError):
        backend.multi_powmod(two, three, m)
    with pytest.raises(InvalidArgumentError):
        backend.multi_powmod(two, _rows([1], m), m)  # no broadcasting for multi-exp
    with pytest.raises(InvalidArgumentError):
        backend.crt(two, three, 1009, 1013)


@pytest.mark.parametrize("threads", [0, -1, True, 1.0, "2"])
def test_bad_threads(backend: Backend, threads: object) -> None:
    x = _rows([2], 1009)
    with pytest.raises((InvalidArgumentError, InvalidTypeError)):
        backend.powmod(x, x, 1009, threads=threads)  # type: ignore[arg-type]


def test_bad_modulus_types(backend: Backend) -> None:
    x = _rows([2], 1009)
    for mod in (1009.0, "1009", True, None):
        with pytest.raises(InvalidTypeError):
            backend.powmod(x, x, mod)  # type: ignore[arg-type]


# -- mulmod / prodmod ------------------------------------------------------------------


def test_mulmod_broadcast_and_elementwise(backend: Backend) -> None:
    for m in (_odd_modulus(1500), _odd_modulus(1500) + 1, 2**128):
        xs = [secrets.randbelow(m) for _ in range(9)] + [0, m - 1]
        ys = [secrets.randbelow(m) for _ in xs]
        c = secrets.randbelow(m)
        out = backend.mulmod(_rows(xs, m), _rows(ys, m), m)
        assert limbs_to_ints(out) == [x * y % m for x, y in zip(xs, ys, strict=True)]
        out = backend.mulmod(_rows(xs, m), _rows([c], m), m)
        assert limbs_to_ints(out) == [x * c % m for x in xs]


def test_mulmod_operands_of_different_widths(backend: Backend) -> None:
    m = _odd_modulus(300)
    xs = [5, 7]
    ys = [secrets.randbelow(m) for _ in xs]
    out = backend.mulmod(ints_to_limbs(xs, 1), ints_to_limbs(ys, 8), m)
    assert limbs_to_ints(out) == [x * y % m for x, y in zip(xs, ys, strict=True)]


def test_prodmod(backend: Backend) -> None:
    m = _odd_modulus(900)
    xs = [secrets.randbelow(m) for _ in range(33)]
    expected = 1
    for x in xs:
        expected = expected * x % m
    assert limbs_to_ints(backend.prodmod(_rows(xs, m), m)) == [expected]
    assert limbs_to_ints(backend.prodmod(_rows([0] + xs, m), m)) == [0]


# -- multi-exponentiation --------------------------------------------------------------


@pytest.mark.parametrize("count,ebits", [(1, 5), (3, 64), (40, 17), (200, 64), (5, 1100)])
def test_multi_powmod_matches_naive(backend: Backend, count: int, ebits: int) -> None:
    for m in (_odd_modulus(600), _odd_modulus(600) + 1):
        bs = [secrets.randbelow(m) for _ in range(count)]
        es = [secrets.randbits(ebits) for _ in range(count)]
        expected = 1
        for b, e in zip(bs, es, strict=True):
            expected = expected * pow(b, e, m) % m
        assert limbs_to_ints(backend.multi_powmod(_rows(bs, m), ints_to_limbs(es), m)) == [expected]


def test_multi_powmod_zero_exponents_and_bases(backend: Backend) -> None:
    m = _odd_modulus(256)
    assert limbs_to_ints(backend.multi_powmod(_rows([5, 6], m), ints_to_limbs([0, 0]), m)) == [1]
    assert limbs_to_ints(backend.multi_powmod(_rows([0, 6], m), ints_to_limbs([3, 2]), m)) == [0]
    assert limbs_to_ints(backend.multi_powmod(_rows([0, 6], m), ints_to_limbs([0, 2]), m)) == [36]


# -- fixed base ------------------------------------------------------------------------


@pytest.mark.parametrize("max_bits", [1, 8, 63, 64, 65, 300])
def test_fixed_base_matches_pow(backend: Backend, max_bits: int) -> None:
    for m in (_odd_modulus(521), _odd_modulus(521) + 1):
        g = secrets.randbelow(m)
        table = backend.fixed_base(g, m, max_bits)
        assert (table.base, table.mod, table.max_exp_bits) == (g, m, max_bits)
        es = [0, 1, (1 << max_bits) - 1] + [secrets.randbits(max_bits) for _ in range(6)]
        out = table.pow(ints_to_limbs(es))
        assert limbs_to_ints(out) == [pow(g, e, m) for e in es]


def test_fixed_base_special_bases(backend: Backend) -> None:
    m = _odd_modulus(128)
    for g in (0, 1, m - 1):
        table = backend.fixed_base(g, m, 20)
        es = [0, 1, 2, 12345]
        assert limbs_to_ints(table.pow(ints_to_limbs(es))) == [pow(g, e, m) for e in es]


def test_fixed_base_rejects_wide_exponents(backend: Backend) -> None:
    table = backend.fixed_base(3, 1009, 10)
    with pytest.raises(InvalidArgumentError):
        table.pow(ints_to_limbs([1 << 10]))
    # leading zero limbs are fine
    assert limbs_to_ints(table.pow(ints_to_limbs([1023], 3))) == [pow(3, 1023, 1009)]


@pytest.mark.parametrize("max_bits", [0, -1, 1 << 17])
def test_fixed_base_bad_max_bits(backend: Backend, max_bits: int) -> None:
    with pytest.raises(InvalidArgumentError):
        backend.fixed_base(3, 1009, max_bits)


def test_fixed_base_tables_are_not_picklable(backend: Backend) -> None:
    table = backend.fixed_base(3, 1009, 10)
    with pytest.raises(TypeError):
        pickle.dumps(table)


# -- CRT -------------------------------------------------------------------------------


def test_crt_recombines(backend: Backend) -> None:
    p, q = 2**127 - 1, 2**89 - 1
    xs = [0, 1, p * q - 1] + [secrets.randbelow(p * q) for _ in range(10)]
    out = backend.crt(ints_to_limbs([x % p for x in xs]), ints_to_limbs([x % q for x in xs]), p, q)
    assert limbs_to_ints(out) == xs
    assert out.shape[1] == width_of(p * q - 1)


def test_crt_large_and_unbalanced(backend: Backend) -> None:
    from fedcrypto._random import random_prime

    p, q = random_prime(512), random_prime(200)
    xs = [secrets.randbelow(p * q) for _ in range(5)]
    out = backend.crt(
        ints_to_limbs([x % p for x in xs]), ints_to_limbs([x % q for x in xs], 7), p, q
    )
    assert limbs_to_ints(out) == xs


# -- native only: threads, windows, glue-level checks ----------------------------------


def test_thread_counts_give_identical_results(native: Backend) -> None:
    m = _odd_modulus(1024)
    bs = [secrets.randbelow(m) for _ in range(64)]
    es = [secrets.randbits(256) for _ in range(64)]
    b, e = _rows(bs, m), ints_to_limbs(es)
    runs = []
    for threads in (1, 2, 3, 7):
        table = native.fixed_base(bs[0], m, 256)
        runs.append(
            [
                native.powmod(b, e, m, threads=threads).tobytes(),
                native.powmod(b, e, m, secret=True, threads=threads).tobytes(),
                native.mulmod(b, b[::-1].copy(), m, threads=threads).tobytes(),
                native.prodmod(b, m, threads=threads).tobytes(),
                native.multi_powmod(b, e, m, threads=threads).tobytes(),
                table.pow(e, threads=threads).tobytes(),
            ]
        )
    assert all(r == runs[0] for r in runs[1:])
    assert limbs_to_ints(np.frombuffer(runs[0][0], np.uint64).reshape(64, -1).copy()) == [
        pow(x, y, m) for x, y in zip(bs, es, strict=True)
    ]


@pytest.mark.parametrize("window", [1, 2, 3, 5, 7, 9, 12, 16])
def test_native_fixed_base_windows(native: Backend, window: int) -> None:
    from fedcrypto._backend._native import NativeFixedBase

    for m in (_odd_modulus(200), _odd_modulus(200) + 1):
        g = secrets.randbelow(m)
        table = NativeFixedBase(g, m, 40, window=window)
        assert table.window == window
        assert table.table_bytes > 0
        es = [0, 1, 2**40 - 1] + [secrets.randbits(40) for _ in range(5)]
        assert limbs_to_ints(table.pow(ints_to_limbs(es))) == [pow(g, e, m) for e in es]


def test_native_fixed_base_shared_between_threads(native: Backend) -> None:
    m = _odd_modulus(1024)
    g = secrets.randbelow(m)
    table = native.fixed_base(g, m, 128)
    es = [[secrets.randbits(128) for _ in range(20)] for _ in range(8)]

    def work(chunk: list[int]) -> list[int]:
        return limbs_to_ints(table.pow(ints_to_limbs(chunk), threads=1))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, es))
    assert results == [[pow(g, e, m) for e in chunk] for chunk in es]


def test_native_table_is_immutable(native: Backend) -> None:
    from fedcrypto import _native

    table = _native.FixedBase(int_to_limbs(3), int_to_limbs(1009), 10, 0, 1)
    with pytest.raises(AttributeError):
        table.window = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        pickle.dumps(table)
    with pytest.raises(TypeError):

        class Sub(_native.FixedBase):  # type: ignore[misc]
            pass


def test_glue_checks_outputs_and_buffers(native: Backend) -> None:
    """The C glue validates on its own too (callers other than the backend wrapper)."""
    from fedcrypto import _native

    m = int_to_limbs(1009)
    x = ints_to_limbs([2, 3])
    out = np.empty((2, 1), np.uint64)
    _native.powmod(x, x, m, out, False, 1)
    assert out.tolist() == [[4], [27]]
    with pytest.raises(InvalidArgumentError):
        _native.powmod(x, x, m, np.empty((3, 1), np.uint64), False, 1)  # wrong shape
    with pytest.raises(InvalidArgumentError):
        _native.powmod(x, x, m, np.empty((2, 2), np.uint64), False, 1)  # wrong width
    readonly = np.empty((2, 1), np.uint64)
    readonly.flags.writeable = False
    with pytest.raises(InvalidTypeError):
        _native.powmod(x, x, m, readonly, False, 1)
    with pytest.raises(InvalidArgumentError):
        _native.mulmod(x, x, m, x, 1)  # output overlaps an input
    with pytest.raises(InvalidTypeError):
        _native.powmod(x.astype(">u8"), x, m, out, False, 1)  # big-endian items
    with pytest.raises(InvalidTypeError):
        _native.powmod(x, x, x, out, False, 1)  # modulus must be one row
    with pytest.raises(InvalidArgumentError):
        _native.powmod(x, x, int_to_limbs(1), out, False, 1)
    with pytest.raises(InvalidArgumentError):
        _native.powmod(x, x, np.zeros((1, 3), np.uint64), out, False, 1)
    with pytest.raises(InvalidArgumentError):
        _native.powmod(x, x, int_to_limbs(1008), out, True, 1)  # even modulus, secret
    with pytest.raises(InvalidArgumentError):
        _native.powmod(x, x, m, out, False, 0)
    with pytest.raises(InvalidArgumentError):
        _native.crt(x, x, int_to_limbs(7), int_to_limbs(11), int_to_limbs(0), out, 1)
    with pytest.raises(InvalidArgumentError):
        _native.FixedBase(int_to_limbs(3), m, 10, 17, 1)
    with pytest.raises(TypeError):
        _native.powmod(x, x, m, out, False)  # type: ignore[call-arg]
    # a modulus row with leading zero limbs is normalized
    _native.powmod(x, x, int_to_limbs(1009, 4), out, False, 1)
    assert out.tolist() == [[4], [27]]


def test_huge_thread_counts_are_clamped(backend: Backend) -> None:
    m = _odd_modulus(256)
    bs = [secrets.randbelow(m) for _ in range(3)]
    out = backend.powmod(_rows(bs, m), int_to_limbs(65537), m, threads=10**12)
    assert limbs_to_ints(out) == [pow(b, 65537, m) for b in bs]


def test_foreign_gmp_allocators_keep_the_gil(native: Backend) -> None:
    """If another extension installs its own allocators in the shared libgmp (they may
    need the GIL), the kernel notices and runs with the GIL held, same results."""
    import ctypes

    from fedcrypto import _native

    try:
        gmp = ctypes.CDLL("libgmp.so.10")
    except OSError:
        pytest.skip("system libgmp.so.10 not loadable by name")
    assert _native.gmp_default_allocators() is True
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.realloc.restype = ctypes.c_void_p
    libc.realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    alloc = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t)(lambda n: libc.malloc(n))
    realloc = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)(
        lambda p, old, new: libc.realloc(p, new)
    )
    free = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_size_t)(lambda p, n: libc.free(p))
    m = _odd_modulus(4096)
    bs = [secrets.randbelow(m) for _ in range(4)]
    es = [secrets.randbits(100) for _ in range(4)]
    gmp.__gmp_set_memory_functions(alloc, realloc, free)
    try:
        assert _native.gmp_default_allocators() is False
        out = native.powmod(_rows(bs, m), ints_to_limbs(es), m, threads=2)
        crt = native.crt(_rows([5], 2**61 - 1), _rows([7], 2**31 - 1), 2**61 - 1, 2**31 - 1)
    finally:
        gmp.__gmp_set_memory_functions(None, None, None)
    assert _native.gmp_default_allocators() is True
    assert limbs_to_ints(out) == [pow(b, e, m) for b, e in zip(bs, es, strict=True)]
    x = limbs_to_ints(crt)[0]
    assert x % (2**61 - 1) == 5 and x % (2**31 - 1) == 7


def test_bench_kernel_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """``fedcrypto bench kernel`` on a tiny configuration prints its table."""
    import argparse

    from fedcrypto.cli import _bench_kernel

    parser = argparse.ArgumentParser()
    _bench_kernel.add_arguments(parser)
    args = parser.parse_args(["--bits", "256", "--count", "2", "--repeat", "1", "--threads", "1"])
    assert _bench_kernel.run(args) == 0
    out = capsys.readouterr().out
    assert f"backend: {get_backend().name}" in out
    for op in ("powmod 256/128", "fixed-base", "mulmod", "multi_powmod", "crt"):
        assert op in out
    assert _bench_kernel.run(parser.parse_args(["--bits", "8"])) == 2
    assert _bench_kernel.run(parser.parse_args(["--threads", "0"])) == 2


@pytest.mark.parametrize("bits", [3584, 4096, 6144, 8192])
def test_native_wraparound_redc_matches_word_redc(native: Backend, bits: int) -> None:
    """The wrap-around Montgomery reduction (>= 56 even limbs) against the word-by-word
    one, on random inputs and the edge cases t_lo = 0, t_lo = B^n - 1, t_hi = m - 1."""
    from fedcrypto import _native

    for m in (_odd_modulus(bits), (1 << bits) - 1, (1 << (bits - 1)) + 1):
        assert _native._redc_selftest(int_to_limbs(m), 300, secrets.randbits(64) | 1) == 0
    assert _native._redc_selftest(int_to_limbs(_odd_modulus(2048)), 10, 1) is None  # not used


@pytest.mark.parametrize("bits", [4096, 6144])
def test_native_big_moduli_fixed_base_and_multiexp(native: Backend, bits: int) -> None:
    m = _odd_modulus(bits)
    g = secrets.randbelow(m)
    table = native.fixed_base(g, m, 96)
    es = [0, 1, (1 << 96) - 1] + [secrets.randbits(96) for _ in range(4)]
    assert limbs_to_ints(table.pow(ints_to_limbs(es))) == [pow(g, e, m) for e in es]
    bs = [secrets.randbelow(m) for _ in range(30)] + [0, 1, m - 1]
    xs = [secrets.randbits(40) for _ in bs]
    expected = 1
    for b, e in zip(bs, xs, strict=True):
        expected = expected * pow(b, e, m) % m
    assert limbs_to_ints(native.multi_powmod(_rows(bs, m), ints_to_limbs(xs), m)) == [expected]


@pytest.mark.parametrize("bits", [1536, 2048, 3584, 4096, 6144])
def test_mulmod_prodmod_large_batches(backend: Backend, bits: int) -> None:
    """Batches of 16+ at 1536+ bits take the Barrett / Montgomery paths of the kernel:
    odd, even and small-top-limb moduli, edge operands, broadcast and pairs."""
    if LIGHT and bits > 2048:
        pytest.skip("pure-Python run: large moduli covered by the native run")
    moduli = [
        _odd_modulus(bits),
        _odd_modulus(bits) - 1,
        (1 << (bits - 1)) + 2 * secrets.randbits(16) + 1,
    ]
    for m in moduli:
        xs = [secrets.randbelow(m) for _ in range(20)] + [0, 1, m - 1, m - 1]
        ys = [secrets.randbelow(m) for _ in range(20)] + [m - 1, m - 1, m - 1, 1]
        a, b = _rows(xs, m), _rows(ys, m)
        assert limbs_to_ints(backend.mulmod(a, b, m)) == [
            x * y % m for x, y in zip(xs, ys, strict=True)
        ]
        for c in (m - 1, secrets.randbelow(m), 0, 1):
            out = backend.mulmod(a, _rows([c], m), m)
            assert limbs_to_ints(out) == [x * c % m for x in xs]
        nz = [x for x in xs if x]
        expected = 1
        for x in nz:
            expected = expected * x % m
        for threads in (1, 2):
            assert limbs_to_ints(backend.prodmod(_rows(nz, m), m, threads=threads)) == [expected]


@pytest.mark.parametrize("bits", [64, 200, 1024, 4096])
@pytest.mark.parametrize("window", [0, 1, 4, 7])
def test_native_constant_time_fixed_base(native: Backend, bits: int, window: int) -> None:
    from fedcrypto._backend._native import NativeFixedBase

    m = _odd_modulus(bits)
    for g in (secrets.randbelow(m), 0, 1, m - 1):
        table = NativeFixedBase(g, m, 70, window=window, secret=True)
        assert table.secret and table.window == (window or secret_window(m))
        es = [0, 1, (1 << 70) - 1] + [secrets.randbits(70) for _ in range(4)]
        for threads in (1, 2):
            assert limbs_to_ints(table.pow(ints_to_limbs(es), threads=threads)) == [
                pow(g, e, m) for e in es
            ]
        with pytest.raises(InvalidArgumentError):
            table.pow(ints_to_limbs([1 << 70]))
        assert limbs_to_ints(table.pow(ints_to_limbs([5], 4))) == [pow(g, 5, m)]  # wide rows


def test_native_constant_time_fixed_base_needs_odd_modulus(native: Backend) -> None:
    from fedcrypto._backend._native import NativeFixedBase

    with pytest.raises(InvalidArgumentError):
        NativeFixedBase(3, 1 << 100, 16, secret=True)
    assert not NativeFixedBase(3, 1 << 100, 16).secret
