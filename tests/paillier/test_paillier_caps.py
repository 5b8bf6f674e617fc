"""Caps and bounds from the adversarial review (issue 8, findings 4, 7, 8 and 12).

Each test here failed on the code before the fix: a peer's key of any size up to
65,536 bits, constant-time tables beyond the memory budget, multipliers that wrapped
around ``n`` silently, a subnormal ``alpha``, a packed shape of ``(2**63, 0)``.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedcrypto import backend_info, paillier
from fedcrypto.exceptions import (
    EncodingError,
    EncodingOverflowError,
    InvalidArgumentError,
    InvalidTypeError,
    SerializationError,
)
from fedcrypto.paillier import PackedVector, PackingScheme
from fedcrypto.serialization import ObjectType, Writer, pack, param_id

PURE = backend_info()["name"] == "pure"
NATIVE = backend_info()["name"] == "native"
_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))]


def fake_modulus(bits: int, seed: int = 1) -> int:
    """An odd ``bits``-bit number with no factor below 2000 (passes the public-key checks).

    Not a product of two primes: enough for everything a public key does.
    """
    rnd = random.Random(seed)  # test data, not a secret
    n = rnd.getrandbits(bits) | (1 << (bits - 1)) | 1
    while any(n % p == 0 for p in _SMALL_PRIMES):
        n += 2
    assert n.bit_length() == bits
    return n


def fingerprint(n: int) -> bytes:
    """The public-key fingerprint, computed here as the wire format documents it."""
    return param_id(b"fedcrypto/paillier/public-key", n.to_bytes((n.bit_length() + 7) // 8, "big"))


def public_key_bytes(n: int, h_s: int = 4) -> bytes:
    nb = (n.bit_length() + 7) // 8
    payload = Writer().u32(nb).uint(n, nb).uint(h_s, 2 * nb).getvalue()
    return pack(ObjectType.PAILLIER_PUBLIC_KEY, payload, param=fingerprint(n))


# -- finding 4: key sizes ---------------------------------------------------------------------
def test_key_size_cap_constants() -> None:
    assert paillier.MAX_KEY_SIZE == 16384
    assert paillier.MIN_KEY_SIZE == 2048 <= paillier.DEFAULT_KEY_SIZE <= paillier.MAX_KEY_SIZE


@pytest.mark.parametrize("bits", [16392, 65536])
def test_peer_public_key_above_the_cap_is_refused(bits: int) -> None:
    data = public_key_bytes(fake_modulus(bits))
    with pytest.raises(SerializationError, match="key-size policy"):
        paillier.PaillierPublicKey.from_bytes(data)
    pk = paillier.PaillierPublicKey.from_bytes(data, unsafe_allow_large_keys=True)
    assert pk.key_size == bits


def test_peer_public_key_beyond_the_absolute_limit_is_refused() -> None:
    nb = 65536 // 8 + 1
    payload = Writer().u32(nb).getvalue() + b"\x01" * (3 * nb)
    data = pack(ObjectType.PAILLIER_PUBLIC_KEY, payload, param=bytes(16))
    with pytest.raises(SerializationError, match="key-size policy"):
        paillier.PaillierPublicKey.from_bytes(data, unsafe_allow_large_keys=True)


def test_key_at_the_cap_is_accepted() -> None:
    n = fake_modulus(16384)
    assert paillier.PaillierPublicKey.from_bytes(public_key_bytes(n)).key_size == 16384
    assert paillier.public_key_from_n(n, djn_base=4).key_size == 16384


def test_constructors_refuse_large_keys() -> None:
    n = fake_modulus(16386)
    for make in (
        lambda **kw: paillier.public_key_from_n(n, djn_base=4, **kw),
        lambda **kw: paillier.PaillierPublicKey(n, 4, **kw),
    ):
        with pytest.raises(InvalidArgumentError, match="too large"):
            make()
        assert make(unsafe_allow_large_keys=True).key_size == 16386
    with pytest.raises(InvalidArgumentError, match="too large"):
        paillier.PaillierPublicKey(fake_modulus(65538), 4, unsafe_allow_large_keys=True)


def test_large_primes_are_refused_before_any_primality_test(monkeypatch) -> None:
    from fedcrypto.paillier import _params

    def no_primality_test(n: int) -> bool:
        raise AssertionError("a primality test ran on an oversized key")

    monkeypatch.setattr(_params, "is_probable_prime", no_primality_test)
    p, q = fake_modulus(8200, 2), fake_modulus(8200, 3)
    with pytest.raises(InvalidArgumentError, match="too large"):
        paillier.private_key_from_primes(p, q)
    with pytest.raises(InvalidArgumentError, match="too large"):
        paillier.PaillierPrivateKey(p, q, djn_base=4)


def test_generate_refuses_large_sizes_before_generating(monkeypatch) -> None:
    from fedcrypto import _random

    def no_prime(bits: int) -> int:
        raise AssertionError("a prime was generated for an oversized key")

    monkeypatch.setattr(_random, "random_prime", no_prime)
    with pytest.raises(InvalidArgumentError, match="too large"):
        paillier.generate_private_key(16386)
    with pytest.raises(InvalidArgumentError, match="too large"):
        paillier.generate_private_key(65538, unsafe_allow_large_keys=True)


def test_private_key_bytes_above_the_cap_are_refused() -> None:
    p, q = fake_modulus(8200, 2), fake_modulus(8200, 3)
    nb = ((p * q).bit_length() + 7) // 8
    payload = Writer().u32(nb).big(p).big(q).uint(4, 2 * nb).getvalue()
    data = pack(ObjectType.PAILLIER_PRIVATE_KEY, payload, param=fingerprint(p * q))
    with pytest.raises(SerializationError, match="key-size policy"):
        paillier.PaillierPrivateKey.from_private_bytes(data)
    # Primes wider than the announced modulus are refused before they are multiplied.
    payload = Writer().u32(64).big(p).big(q).uint(4, 128).getvalue()
    data = pack(ObjectType.PAILLIER_PRIVATE_KEY, payload, param=bytes(16))
    with pytest.raises(SerializationError):
        paillier.PaillierPrivateKey.from_private_bytes(data, unsafe_allow_small_keys=True)


def test_table_bytes_of_constant_time_tables() -> None:
    from fedcrypto.paillier._params import TABLE_BUDGET, table_bytes

    # 2048-bit key: ceil(1024 / 6) windows * 64 entries * 64 limbs * 8 bytes (6-bit windows
    # from 2048-bit moduli up, issue 12).
    n2048 = (1 << 4096) - 1
    assert table_bytes(n2048, 1024, secret=True) == 171 * 64 * 64 * 8
    assert table_bytes(n2048, 1024, secret=False) == 1024 * 64 * 8
    # At the cap the constant-time table would need ~205 MiB: over budget.
    n16k = (1 << 32768) - 1
    assert table_bytes(n16k, 8192, secret=True) > TABLE_BUDGET
    assert table_bytes(n16k, 8192, secret=False) <= TABLE_BUDGET


def test_over_budget_keys_encrypt_without_tables(sk, monkeypatch) -> None:
    """With no table allowed, randomizers come from plain exponentiation; results decrypt."""
    from fedcrypto.paillier import _params

    monkeypatch.setattr(_params, "TABLE_BUDGET", 0)
    key = paillier.private_key_from_primes(sk._p, sk._q, unsafe_allow_small_keys=True)
    pub = key.public_key()
    values = [0, 1, -7, 2**40]
    for vt in (False, True):
        assert key.decrypt(pub.encrypt(values, unsafe_variable_time=vt)).tolist() == values
        assert key.decrypt(key.encrypt(values, unsafe_variable_time=vt)).tolist() == values
        assert pub._djn(variable_time=vt) is None and key._tables(variable_time=vt) is None
    assert key.decrypt((pub.encrypt(values) * 2).rerandomize()).tolist() == [2 * v for v in values]
    pool = paillier.RandomizerPool(pub, 2)
    assert key.decrypt(pub.encrypt(values, pool=pool)).tolist() == values


@pytest.mark.slow
@pytest.mark.skipif(not NATIVE, reason="only the native backend keeps fixed-base tables")
def test_peer_key_at_the_cap_costs_no_big_table() -> None:
    """A 16,384-bit key from a peer: encrypting must not build a table over the budget.

    Before the fix the constant-time table took about 205 MiB (and the key could be
    65,536 bits: gigabytes).  Measured in a fresh process as growth of the peak RSS.
    """
    n = fake_modulus(16384)
    code = textwrap.dedent(
        f"""
        import resource
        from fedcrypto import paillier
        pk = paillier.public_key_from_n(int("{n:x}", 16), djn_base=4)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        pk.encrypt([1], threads=1)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) * 1024)
        """
    )
    env = dict(os.environ, FEDCRYPTO_BACKEND="native")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr
    growth = int(out.stdout.strip().splitlines()[-1])
    assert growth < 32 * 1024 * 1024, f"encrypting grew the process by {growth} bytes"


# -- finding 7: multipliers -------------------------------------------------------------------
def test_scalar_beyond_max_int_is_refused(sk, pk) -> None:
    ev = pk.encrypt([1, -2, 0])
    for k in (pk.n + 1, pk.max_int + 1, -(pk.max_int + 1), 2 * pk.n, pk.nsquare):
        with pytest.raises(EncodingOverflowError):
            ev * k
        with pytest.raises(EncodingOverflowError):
            k * ev
    with pytest.raises(EncodingOverflowError):
        ev * 2.0 ** (pk.key_size - 1)
    with pytest.raises(EncodingOverflowError):
        ev * np.array([1, pk.n + 1, 2], dtype=object)
    # At the limit: still computed, and decodable for a one-unit plaintext.
    one = pk.encrypt([1, -1, 0])
    assert list(sk.decrypt(one * pk.max_int)) == [pk.max_int, -pk.max_int, 0]
    assert list(sk.decrypt(one * -pk.max_int)) == [-pk.max_int, pk.max_int, 0]
    # The whole int64 range keeps working (|-2**63| has no int64 absolute value).
    lo = np.int64(-(2**63))
    assert list(sk.decrypt(one * np.array([lo, lo, lo]))) == [-(2**63), 2**63, 0]


def test_dot_and_matrix_rows_bounded_by_their_absolute_sum(sk, pk) -> None:
    ev = pk.encrypt([1, -1, 1])
    m = pk.max_int
    # Each weight fits, the row's absolute sum does not: [1, -1, 1] would give m + 2.
    with pytest.raises(EncodingOverflowError):
        ev.dot(np.array([m, 1, 1], dtype=object))
    with pytest.raises(EncodingOverflowError):
        ev.dot([pk.n + 1, 0, 0])  # before the fix: silently the same as weight 1
    half = m // 3
    assert list(sk.decrypt(ev.dot([half, -half, half]))) == [3 * half]
    rows = np.array([[1, 2, 3], [m, -m, 0]], dtype=object)
    with pytest.raises(EncodingOverflowError):
        rows @ ev
    with pytest.raises(EncodingOverflowError):
        ev @ rows.T
    ok = np.array([[1, 2, 3], [m // 2, -(m // 2), 0]], dtype=object)
    assert list(sk.decrypt(ok @ ev)) == [2, m - m % 2]
    # Float weights count in their fixed-point units.
    with pytest.raises(EncodingOverflowError):
        ev.dot([2.0 ** (pk.key_size - 4), 2.0 ** (pk.key_size - 4), 0.5])


def test_encoding_alignment_cannot_wrap(sk) -> None:
    """Adding vectors with 0 and 4096 fractional bits multiplies one by 2**4096 > max_int."""
    key = paillier.private_key_from_primes(sk._p, sk._q, unsafe_allow_small_keys=True)
    pub = key.public_key()
    a = pub.encrypt([1.0], frac_bits=0)
    b = pub.encrypt([0.0], frac_bits=4096)  # MAX_FRAC_BITS
    with pytest.raises(EncodingOverflowError):
        a + b
    with pytest.raises(EncodingOverflowError):
        paillier.concatenate([a, b])
    c = pub.encrypt([1.5], frac_bits=8)
    assert key.decrypt(a + c).tolist() == [2.5]


def test_packed_weights_cannot_wrap(sk, pk) -> None:
    sch = PackingScheme(bits=8, parties=4, alpha=1.0, rounding="nearest")
    pv = sch.encrypt(pk, np.array([0.5, -0.25]))
    with pytest.raises(EncodingOverflowError, match="headroom"):
        pv * 5
    zero = pv * 0
    assert zero.weight == 0
    for f in (5, pk.n + 1):
        with pytest.raises(EncodingOverflowError):
            zero * f  # weight 0 * f = 0 passed the old check and wrapped the plaintext
    assert np.allclose(sk.decrypt(pv * 4), 4 * sk.decrypt(pv))


# -- finding 12 and its class: packing and encoding parameters ---------------------------------
@pytest.mark.parametrize(
    "alpha",
    [5e-324, 1e-310, 2.0**-901, 0.0, -1.0, float("nan"), float("inf"), 2.0**901, 1.7e308],
)
def test_alpha_outside_the_documented_range_is_refused(alpha: float) -> None:
    with pytest.raises(InvalidArgumentError, match="MIN_ALPHA"):
        PackingScheme(bits=16, parties=2, alpha=alpha)


def test_alpha_range_constants() -> None:
    assert paillier.MIN_ALPHA == 2.0**-900 and paillier.MAX_ALPHA == 2.0**900
    for bad in ("1", True, None):
        with pytest.raises(InvalidTypeError):
            PackingScheme(alpha=bad)  # type: ignore[arg-type]


@settings(
    max_examples=6 if PURE else 20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    exponent=st.sampled_from([-900, -899, -600, -1, 0, 1, 600, 899, 900]) | st.integers(-900, 900),
    k=st.integers(min_value=1, max_value=8),
    bits=st.sampled_from([1 + 3, 8, 16, 30, 48]),
    rounding=st.sampled_from(["stochastic", "nearest"]),
    seed=st.integers(0, 2**32),
)
def test_error_bound_holds_across_the_alpha_range(
    sk, pk, exponent, k, bits, rounding, seed
) -> None:
    if (2**bits - 1) // k < 1:
        return
    alpha = 2.0**exponent
    sch = PackingScheme(bits=bits, parties=k, alpha=alpha, rounding=rounding)
    rnd = random.Random(seed)  # test data, not a secret
    xs = [np.array([rnd.uniform(-1.5, 1.5) * alpha for _ in range(5)]) for _ in range(k)]
    xs[0][0], xs[-1][1] = alpha, -alpha
    dec = sk.decrypt(PackedVector.sum([sch.encrypt(pk, x) for x in xs]))
    truth = sum(np.clip(x, -alpha, alpha) for x in xs)
    assert np.isfinite(dec).all()
    err = np.abs(dec - truth).max()
    assert err <= sch.error_bound(k) + 2.0**-50 * k * alpha


def test_subnormal_alpha_from_the_wire_is_refused(sk, pk) -> None:
    sch = PackingScheme(bits=8, parties=2, alpha=1.0)
    data = sch.encrypt(pk, np.zeros(3)).to_bytes()
    # The f64 alpha sits after the 32-byte envelope header, u8 bits and u32 parties.
    off = 32 + 1 + 4
    for alpha in (5e-324, float("nan"), float("inf"), 2.0**1000):
        bad = data[:off] + np.array([alpha], dtype=">f8").tobytes() + data[off + 8 :]
        with pytest.raises(SerializationError, match="alpha"):
            PackedVector.from_bytes(bad, pk)


def test_estimate_alpha_stays_in_range() -> None:
    assert paillier.estimate_alpha(np.full(4, 1e-320), method="max") == paillier.MIN_ALPHA
    assert paillier.estimate_alpha(np.full(4, 1e-320)) == paillier.MIN_ALPHA
    assert paillier.estimate_alpha(sigma=1e-320) == paillier.MIN_ALPHA
    # Huge data: x * x overflowed to inf before; now the RMS is computed scaled.
    a = paillier.estimate_alpha(np.array([1e200, -1e200]), bits=16, parties=2)
    assert math.isfinite(a) and 1e200 < a < 1e202
    for kwargs in (
        {"data": np.array([1e300])},
        {"data": np.array([1e300]), "method": "max"},
        {"sigma": 1e300},
    ):
        with pytest.raises(EncodingError, match="MAX_ALPHA"):
            paillier.estimate_alpha(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        paillier.estimate_alpha(sigma="1")  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        paillier.estimate_alpha(np.ones(3), method="percentile", percentile="50")  # type: ignore[arg-type]
    for pct in (float("nan"), 0.0, 101.0):
        with pytest.raises(InvalidArgumentError):
            paillier.estimate_alpha(np.ones(3), method="percentile", percentile=pct)
    with pytest.raises(InvalidArgumentError):
        paillier.estimate_alpha(sigma=float("nan"))
    with pytest.raises(InvalidArgumentError):
        paillier.estimate_alpha(np.ones(3), method="median")  # type: ignore[arg-type]


def test_encoding_fields_are_validated() -> None:
    with pytest.raises(InvalidArgumentError):
        paillier.Encoding(True, 4097)  # MAX_FRAC_BITS + 1
    with pytest.raises(InvalidArgumentError):
        paillier.Encoding(True, -1)
    with pytest.raises(InvalidArgumentError):
        paillier.Encoding(False, 3)
    with pytest.raises(InvalidTypeError):
        paillier.Encoding(True, 2.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        paillier.Encoding("yes", 3)  # type: ignore[arg-type]
    assert paillier.Encoding(True, np.int64(7)).frac_bits == 7


# -- finding 8 (paillier part): shapes and counts from the wire --------------------------------
def _packed_bytes(pk, shape: tuple[int, ...], count: int, sch: PackingScheme) -> bytes:
    wr = Writer().raw(sch.to_bytes()).u8(sch.slot_bits).u32(sch.slots_per_ciphertext(pk))
    wr.u32(1).u8(len(shape))
    for d in shape:
        wr.u64(d)
    wr.u64(count).raw(b"\x00" * 0)
    return pack(ObjectType.PAILLIER_PACKED_VECTOR, wr.getvalue(), param=pk.fingerprint)


@pytest.mark.parametrize(
    "shape",
    [(2**63, 0), (0, 2**64 - 1), (2**41, 0), (2**20, 2**21, 1), (1,) * (32 + 1)],  # MAX_DIMS = 32
)
def test_packed_shapes_beyond_the_caps_are_refused(pk, shape) -> None:
    sch = PackingScheme(bits=8, parties=2, alpha=1.0)
    with pytest.raises(SerializationError):
        PackedVector.from_bytes(_packed_bytes(pk, shape, 0, sch), pk)


def test_packed_zero_size_shapes_within_the_caps_parse(sk, pk) -> None:
    sch = PackingScheme(bits=8, parties=2, alpha=1.0)
    pv = PackedVector.from_bytes(_packed_bytes(pk, (2**40, 0), 0, sch), pk)
    assert pv.shape == (2**40, 0) and pv.size == 0
    assert sk.decrypt(pv).shape == (2**40, 0)
    with pytest.raises(EncodingError):
        sch.encrypt(pk, np.zeros((2**41, 0)))


def test_vector_count_cap(pk) -> None:
    assert paillier.MAX_VECTOR_LENGTH == 2**32
    payload = Writer().u8(0).u16(0).u64(2**32 + 1).getvalue()
    data = pack(ObjectType.PAILLIER_ENCRYPTED_VECTOR, payload, param=pk.fingerprint)
    with pytest.raises(SerializationError, match="limit"):
        paillier.EncryptedVector.from_bytes(data, pk)
