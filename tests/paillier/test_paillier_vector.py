"""Encryption, decryption, encodings and EncryptedVector operations."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedcrypto import backend_info, paillier
from fedcrypto.exceptions import (
    EncodingError,
    EncodingOverflowError,
    InvalidArgumentError,
    InvalidCiphertext,
    InvalidTypeError,
    KeyMismatchError,
    SerializationError,
)

PURE = backend_info()["name"] == "pure"
HYP = settings(
    max_examples=8 if PURE else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
ints64 = st.integers(min_value=-(2**62), max_value=2**62)
small_lists = st.lists(st.integers(min_value=-(2**40), max_value=2**40), min_size=0, max_size=6)


# -- encryption / decryption --------------------------------------------------------------
@pytest.mark.parametrize("randomness", ["djn", "full"])
def test_round_trip_int64(sk, pk, randomness) -> None:
    x = np.array([0, 1, -1, 2**62 - 1, -(2**62), 123456789, -987654321], dtype=np.int64)
    ev = pk.encrypt(x, randomness=randomness)
    out = sk.decrypt(ev)
    assert out.dtype == np.int64 and np.array_equal(out, x)
    assert np.array_equal(sk.decrypt(sk.encrypt(x, randomness=randomness)), x)


def test_round_trip_big_ints(sk, pk) -> None:
    big = [pk.max_int, -pk.max_int, 2**80 + 5, -(2**70), 0, 2**63, -(2**63) - 1]
    out = sk.decrypt(pk.encrypt(big))
    assert out.dtype == object and list(out) == big
    u = np.array([2**64 - 1, 5], dtype=np.uint64)
    assert list(sk.decrypt(pk.encrypt(u))) == [2**64 - 1, 5]


def test_round_trip_floats(sk, pk) -> None:
    x = np.array([0.0, 1.5, -2.25, 1e-9, -3e5, 123.456], dtype=np.float64)
    out = sk.decrypt(pk.encrypt(x))
    assert out.dtype == np.float64
    assert np.allclose(out, x, rtol=0, atol=2.0**-paillier.DEFAULT_FRAC_BITS)
    x32 = x.astype(np.float32)
    assert np.allclose(sk.decrypt(pk.encrypt(x32)), x32.astype(np.float64), atol=1e-12)
    # Large floats beyond the int64 fast path stay exact.
    huge = [1e30, -2.5e40]
    assert list(sk.decrypt(pk.encrypt(huge))) == huge
    # frac_bits on ints forces fixed point.
    ev = pk.encrypt([3, -4], frac_bits=8)
    assert ev.encoding == paillier.Encoding(True, 8) and sk.decrypt(ev).tolist() == [3.0, -4.0]
    assert sk.decrypt(pk.encrypt([1, 2.5])).tolist() == [1.0, 2.5]


def test_encrypt_empty_and_private_encrypt(sk, pk) -> None:
    ev = pk.encrypt([])
    assert len(ev) == 0 and sk.decrypt(ev).shape == (0,)
    assert sk.decrypt(ev.sum()).tolist() == [0]
    assert sk.decrypt(sk.encrypt(np.arange(-3, 3))).tolist() == [-3, -2, -1, 0, 1, 2]


def test_variable_time_path_agrees(sk, pk) -> None:
    ev = pk.encrypt([5, -6, 2**90])
    assert list(sk.decrypt(ev, unsafe_variable_time=True)) == list(sk.decrypt(ev))


def test_threads_do_not_change_results(sk, pk) -> None:
    ev = pk.encrypt(np.arange(20))
    assert np.array_equal(sk.decrypt(ev, threads=1), sk.decrypt(ev, threads=2))
    assert np.array_equal(sk.decrypt(pk.encrypt(np.arange(9), threads=1)), np.arange(9))


def test_ciphertexts_are_randomized(pk) -> None:
    a, b = pk.encrypt([7, 7]), pk.encrypt([7, 7])
    ca, cb = a.ciphertexts(), b.ciphertexts()
    assert ca[0] != ca[1] and ca[0] != cb[0]
    assert all(0 < c < pk.nsquare for c in ca)


@pytest.mark.parametrize(
    "bad, exc",
    [
        ([float("nan")], EncodingError),
        ([float("inf")], EncodingError),
        (np.array([1.0, np.nan]), EncodingError),
        (np.array([-np.inf]), EncodingError),
        ([True, False], InvalidTypeError),
        (np.array([True]), InvalidTypeError),
        (["1"], InvalidTypeError),
        ("123", InvalidTypeError),
        (5, InvalidTypeError),
        (np.zeros((2, 2)), EncodingError),
        (np.array(["a"]), InvalidTypeError),
        ([1 + 2j], InvalidTypeError),
    ],
)
def test_bad_plaintexts(pk, bad, exc) -> None:
    with pytest.raises(exc):
        pk.encrypt(bad)


def test_plaintext_range(sk, pk) -> None:
    with pytest.raises(EncodingOverflowError):
        pk.encrypt([pk.max_int + 1])
    with pytest.raises(EncodingOverflowError):
        pk.encrypt([-pk.max_int - 1])
    with pytest.raises(EncodingOverflowError):
        pk.encrypt([float(pk.n)])
    with pytest.raises(InvalidArgumentError):
        pk.encrypt([1.0], frac_bits=-1)
    with pytest.raises(InvalidArgumentError):
        pk.encrypt([1], randomness="weak")  # type: ignore[arg-type]


def test_decrypt_detects_overflow(sk, pk) -> None:
    ev = pk.encrypt([pk.max_int, -pk.max_int])
    with pytest.raises(EncodingOverflowError):
        sk.decrypt(ev + ev)
    with pytest.raises(EncodingOverflowError):
        sk.decrypt(ev * 2)
    half = pk.encrypt([pk.max_int // 2 + 1])
    for bad in (half * 2, half * 3, -half * 2, half + half):
        with pytest.raises(EncodingOverflowError):
            sk.decrypt(bad)
    f = pk.encrypt([float(pk.max_int // 2 + 1)], frac_bits=0)
    with pytest.raises(EncodingOverflowError):
        sk.decrypt(f * 3)


def test_decrypt_wrong_key(sk, other_sk, pk) -> None:
    with pytest.raises(KeyMismatchError):
        other_sk.decrypt(pk.encrypt([1]))
    with pytest.raises(InvalidTypeError):
        sk.decrypt([1, 2])  # type: ignore[arg-type]


# -- homomorphic identities ---------------------------------------------------------------
@HYP
@given(a=small_lists, data=st.data())
def test_homomorphic_identities(sk, pk, a, data) -> None:
    n = len(a)
    b = data.draw(
        st.lists(st.integers(min_value=-(2**40), max_value=2**40), min_size=n, max_size=n)
    )
    k = data.draw(st.integers(min_value=-(2**31), max_value=2**31))
    w = data.draw(
        st.lists(st.integers(min_value=-(2**32), max_value=2**32), min_size=n, max_size=n)
    )
    ea, eb = pk.encrypt(a), pk.encrypt(b)
    A, B, W = (np.array(v, dtype=object) for v in (a, b, w))
    assert list(sk.decrypt(ea + eb)) == list(A + B)
    assert list(sk.decrypt(ea - eb)) == list(A - B)
    assert list(sk.decrypt(-ea)) == list(-A)
    assert list(sk.decrypt(ea + k)) == list(A + k)
    assert list(sk.decrypt(k - ea)) == list(k - A)
    assert list(sk.decrypt(ea - b)) == list(A - B)
    assert list(sk.decrypt(ea * k)) == list(A * k)
    assert list(sk.decrypt(k * ea)) == list(A * k)
    assert list(sk.decrypt(ea * w)) == list(A * W)
    assert list(sk.decrypt(ea.sum())) == [sum(a)]
    assert list(sk.decrypt(ea.dot(w))) == [sum(x * y for x, y in zip(a, w, strict=True))]


def test_float_operations(sk, pk) -> None:
    x = np.array([1.5, -2.0, 3.25, 0.0])
    ev = pk.encrypt(x)
    tol = 1e-9
    assert np.allclose(sk.decrypt(ev * 0.1), x * 0.1, atol=tol)
    assert np.allclose(sk.decrypt(ev * -2.5), x * -2.5, atol=tol)
    assert np.allclose(
        sk.decrypt(ev * np.array([1.0, -0.5, 2.0, 7.0])), x * [1.0, -0.5, 2.0, 7.0], atol=tol
    )
    assert np.allclose(sk.decrypt(ev + 0.25), x + 0.25, atol=tol)
    assert np.allclose(sk.decrypt(ev + np.arange(4)), x + np.arange(4), atol=tol)
    # Different fractional bits are aligned automatically.
    other = pk.encrypt([1.0, 1.0, 1.0, 1.0], frac_bits=10)
    assert np.allclose(sk.decrypt(ev + other), x + 1, atol=tol)
    assert np.allclose(sk.decrypt((ev * 0.5) - ev), -0.5 * x, atol=tol)
    assert np.allclose(
        sk.decrypt(ev.dot([0.5, 1.0, -1.5, 2.0])), [x @ [0.5, 1.0, -1.5, 2.0]], atol=tol
    )
    # Integer vector times a float gives fixed point.
    iv = pk.encrypt([2, -4])
    assert sk.decrypt(iv * 0.5).tolist() == [1.0, -2.0]
    # 0.5 needs one fractional bit, 2.0 none.
    assert (iv * 0.5).encoding.frac_bits == 1 and (iv * 2.0).encoding.frac_bits == 0


def test_encoding_mismatch(pk) -> None:
    iv, fv = pk.encrypt([1, 2]), pk.encrypt([1.0, 2.0])
    with pytest.raises(EncodingError):
        iv + fv
    with pytest.raises(EncodingError):
        iv + 0.5
    with pytest.raises(EncodingError):
        paillier.concatenate([iv, fv])
    with pytest.raises(InvalidTypeError):
        iv * fv
    with pytest.raises(InvalidArgumentError):
        iv + pk.encrypt([1, 2, 3])
    with pytest.raises(InvalidArgumentError):
        iv * [1, 2, 3]
    with pytest.raises(InvalidArgumentError):
        iv.dot([1])
    with pytest.raises(TypeError):
        iv + "x"  # type: ignore[operator]


def test_key_mismatch(pk, other_sk) -> None:
    a, b = pk.encrypt([1]), other_sk.public_key().encrypt([1])
    for op in (lambda: a + b, lambda: a - b, lambda: paillier.concatenate([a, b])):
        with pytest.raises(KeyMismatchError):
            op()


def test_matrix_products(sk, pk) -> None:
    x = np.array([3, -1, 4, 1, -5], dtype=np.int64)
    ev = pk.encrypt(x)
    W = np.array([[2, -7], [1, 8], [-2, 8], [1, 8], [2, 8]], dtype=np.int64)
    assert np.array_equal(sk.decrypt(ev @ W), x @ W)
    assert np.array_equal(sk.decrypt(W.T @ ev), W.T @ x)
    assert np.array_equal(sk.decrypt(ev @ W[:, 0]), [x @ W[:, 0]])
    Wf = W.astype(np.float64) / 4
    assert np.allclose(sk.decrypt(ev @ Wf), x @ Wf)
    with pytest.raises(InvalidArgumentError):
        ev @ np.ones((4, 2))
    with pytest.raises(InvalidArgumentError):
        np.ones((2, 2, 5)) @ ev


def test_slicing_concat_rerandomize(sk, pk) -> None:
    x = np.arange(10)
    ev = pk.encrypt(x)
    assert sk.decrypt(ev[2:5]).tolist() == [2, 3, 4]
    assert sk.decrypt(ev[-1]).tolist() == [9]
    assert sk.decrypt(ev[np.array([0, 9, 3])]).tolist() == [0, 9, 3]
    assert sk.decrypt(ev[x % 2 == 0]).tolist() == [0, 2, 4, 6, 8]
    assert sk.decrypt(ev[::-3]).tolist() == [9, 6, 3, 0]
    with pytest.raises(IndexError):
        ev[10]
    with pytest.raises(InvalidTypeError):
        ev[np.array([0.5])]
    both = paillier.concatenate([ev[:3], ev[7:]])
    assert sk.decrypt(both).tolist() == [0, 1, 2, 7, 8, 9]
    assert sk.decrypt(
        paillier.EncryptedVector.concatenate([pk.encrypt([1.5]), pk.encrypt([2.0], frac_bits=3)])
    ).tolist() == [1.5, 2.0]
    rr = ev.rerandomize()
    assert rr.is_fresh and sk.decrypt(rr).tolist() == x.tolist()
    assert all(a != b for a, b in zip(rr.ciphertexts(), ev.ciphertexts(), strict=True))
    assert sk.decrypt(ev.rerandomize(randomness="full")).tolist() == x.tolist()
    with pytest.raises(AttributeError):
        ev._c = None  # type: ignore[misc]
    with pytest.raises(ValueError):
        ev.limbs[0, 0] = 1
    assert "EncryptedVector" in repr(ev) and len(ev) == 10 and ev.shape == (10,)


def test_serialization(sk, pk, other_sk) -> None:
    ev = pk.encrypt([1.5, -2.0])
    data = ev.to_bytes()
    back = paillier.EncryptedVector.from_bytes(data, pk)
    assert back.ciphertexts() == ev.ciphertexts() and back.encoding == ev.encoding
    assert sk.decrypt(back).tolist() == [1.5, -2.0]
    # Results of operations are re-randomized on the way out, unless explicitly skipped.
    s = ev + ev
    assert not s.is_fresh
    out = paillier.EncryptedVector.from_bytes(s.to_bytes(), pk)
    assert out.ciphertexts() != s.ciphertexts(unsafe_skip_rerandomize=True)
    assert sk.decrypt(out).tolist() == [3.0, -4.0]
    raw = paillier.EncryptedVector.from_bytes(s.to_bytes(unsafe_skip_rerandomize=True), pk)
    assert raw.ciphertexts() == s.ciphertexts(unsafe_skip_rerandomize=True)
    with pytest.raises(KeyMismatchError):
        paillier.EncryptedVector.from_bytes(data, other_sk.public_key())
    for bad in (data[:-1], data + b"\x00", data[:20], b"nope"):
        with pytest.raises(SerializationError):
            paillier.EncryptedVector.from_bytes(bad, pk)
    with pytest.raises(TypeError):
        pickle.dumps(ev)
    # ciphertexts() follows the same rule.
    assert ev.ciphertexts() == ev.ciphertexts()
    assert s.ciphertexts() != s.ciphertexts(unsafe_skip_rerandomize=True)
    assert s.ciphertexts(unsafe_skip_rerandomize=True) == [int(x) for x in raw.ciphertexts()]
    again = paillier.EncryptedVector.from_ciphertexts(pk, s.ciphertexts(), frac_bits=48)
    assert sk.decrypt(again).tolist() == [3.0, -4.0]


def _forge(pk, values) -> bytes:
    from fedcrypto.serialization import ObjectType, Writer, pack

    nb = pk.ciphertext_bytes
    w = Writer().u8(0).u16(0).u64(len(values))
    for v in values:
        w.uint(v, nb)
    return pack(ObjectType.PAILLIER_ENCRYPTED_VECTOR, w.getvalue(), param=pk.fingerprint)


def test_ciphertexts_from_outside_are_validated(sk, pk) -> None:
    good = pk.encrypt([1]).ciphertexts()[0]
    for bad in (0, pk.nsquare, pk.nsquare + 5, sk._p * 12345, pk.n):
        with pytest.raises(InvalidCiphertext):
            paillier.EncryptedVector.from_bytes(_forge(pk, [good, bad]), pk)
        if 0 < bad < pk.nsquare:
            with pytest.raises(InvalidCiphertext):
                paillier.EncryptedVector.from_ciphertexts(pk, [good, bad])
    with pytest.raises(InvalidCiphertext):
        paillier.EncryptedVector.from_ciphertexts(pk, [pk.nsquare])
    with pytest.raises(InvalidCiphertext):
        paillier.EncryptedVector.from_ciphertexts(pk, [-1])
    with pytest.raises(InvalidTypeError):
        paillier.EncryptedVector.from_ciphertexts(pk, [1.0])  # type: ignore[list-item]
    # Bad encoding field.
    data = bytearray(_forge(pk, [good]))
    data[32] = 7
    with pytest.raises(SerializationError):
        paillier.EncryptedVector.from_bytes(bytes(data), pk)
    assert sk.decrypt(paillier.EncryptedVector.from_ciphertexts(pk, [good])).tolist() == [1]
    with pytest.raises(TypeError):
        paillier.EncryptedVector()


def test_randomizer_pool(sk, pk) -> None:
    pool = paillier.RandomizerPool(pk, 5)
    assert pool.remaining == 5
    ev = pk.encrypt([1, 2, 3], pool=pool)
    assert pool.remaining == 2
    ev2 = pk.encrypt([4, 5, 6, 7], pool=pool)  # two from the pool, two fresh
    assert pool.remaining == 0
    assert sk.decrypt(ev).tolist() == [1, 2, 3] and sk.decrypt(ev2).tolist() == [4, 5, 6, 7]
    # Single use: no randomizer appears twice.
    r = set((np.array(ev.ciphertexts() + ev2.ciphertexts(), dtype=object)).tolist())
    assert len(r) == 7
    with pytest.raises(TypeError):
        pickle.dumps(pool)
    with pytest.raises(KeyMismatchError):
        paillier.generate_private_key(256, unsafe_allow_small_keys=True).public_key().encrypt(
            [1], pool=pool
        )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_randomizer_pool_is_empty_after_fork(pk) -> None:
    pool = paillier.RandomizerPool(pk, 3)
    pid = os.fork()
    if pid == 0:  # child: must not reuse the parent's randomizers
        os._exit(0 if pool.remaining == 0 and pool.take(3).shape[0] == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert pool.remaining == 3


def test_phe_interop(sk, pk) -> None:
    phe = pytest.importorskip("phe")
    ppk, psk = phe.generate_paillier_keypair(n_length=512 if PURE else 1024)
    my_pk = paillier.public_key_from_n(ppk.n, unsafe_allow_small_keys=True)
    my_sk = paillier.private_key_from_primes(psk.p, psk.q, unsafe_allow_small_keys=True)
    values = [3, -4, 10**20, 0]
    theirs = [ppk.encrypt(v) for v in values]
    ev = paillier.EncryptedVector.from_ciphertexts(
        my_pk, [e.ciphertext(be_secure=False) for e in theirs]
    )
    assert list(my_sk.decrypt(ev)) == values
    assert list(my_sk.decrypt(ev * 3 + 1)) == [3 * v + 1 for v in values]
    mine = my_pk.encrypt([7, -8, 2**70])
    assert [psk.decrypt(phe.EncryptedNumber(ppk, c, 0)) for c in mine.ciphertexts()] == [
        7,
        -8,
        2**70,
    ]
    summed = (mine + mine).rerandomize()
    assert [psk.decrypt(phe.EncryptedNumber(ppk, c, 0)) for c in summed.ciphertexts()] == [
        14,
        -16,
        2**71,
    ]


def test_large_values_and_chunked_inversion(sk, pk, monkeypatch) -> None:
    from fedcrypto.paillier import _crypto

    # Floats beyond the int64 fast path but inside float range are encoded exactly.
    x = np.array([3.0e6, -1.25e9, 0.5], dtype=np.float64)
    assert sk.decrypt(pk.encrypt(x)).tolist() == x.tolist()
    # Inversion in several chunks (odd sizes, padding at every level).
    monkeypatch.setattr(_crypto, "CHUNK", 5)
    v = np.arange(-6, 7)
    assert sk.decrypt(-pk.encrypt(v)).tolist() == (-v).tolist()
    assert sk.decrypt(pk.encrypt(v) * -3).tolist() == (-3 * v).tolist()


@HYP
@given(
    xs=st.lists(
        st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False),
        max_size=6,
    ),
    f=st.integers(min_value=0, max_value=80),
)
def test_fixed_point_round_trip_property(sk, pk, xs, f) -> None:
    """Decoding gives round(x * 2**f) / 2**f: within half a unit of the last fractional bit."""
    out = sk.decrypt(pk.encrypt(np.array(xs, dtype=np.float64), frac_bits=f))
    assert out.dtype == np.float64 and len(out) == len(xs)
    for x, y in zip(xs, out, strict=True):
        assert abs(y - x) <= 2.0 ** -(f + 1) + abs(x) * 2.0**-52


def test_lazy_tables_are_built_once_under_concurrency() -> None:
    import threading

    key = paillier.generate_private_key(256, unsafe_allow_small_keys=True)
    pub = key.public_key()
    results: list[object] = []

    def work() -> None:
        pub.encrypt([1, 2], threads=1)
        key.encrypt([3], threads=1)
        results.append((pub._djn(), key._tables()))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(
        r[0] is results[0][0] and r[1] is results[0][1] for r in results
    )


def test_djn_randomizers_are_constant_time_unless_unsafe() -> None:
    """The DJN exponent alpha hides the plaintext: its table must be constant time by default."""
    from fedcrypto.paillier import generate_private_key

    sk = generate_private_key(1024, unsafe_allow_small_keys=True)
    pk = sk.public_key()
    values = [0, 1, -5, 2**40]
    for vt in (False, True):
        assert sk.decrypt(pk.encrypt(values, unsafe_variable_time=vt)).tolist() == values
        assert sk.decrypt(sk.encrypt(values, unsafe_variable_time=vt)).tolist() == values
    assert pk._djn().secret and not pk._djn(variable_time=True).secret
    assert all(t.secret for t in sk._tables())
    assert not any(t.secret for t in sk._tables(variable_time=True))
