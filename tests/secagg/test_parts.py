"""Building blocks: mask PRG, SecAgg+ graph, quantization, configuration checks."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcrypto._random import VectorRNG
from fedcrypto.exceptions import (
    EncodingError,
    EncodingOverflowError,
    InvalidArgumentError,
    InvalidTypeError,
)
from fedcrypto.secagg import (
    MaskAccumulator,
    Quantizer,
    SecAggConfig,
    check_headroom,
    neighbor_map,
    secagg_plus_parameters,
)
from fedcrypto.secagg._masking import pairwise_mask_key, self_mask_key

# -- masks -------------------------------------------------------------------------


def test_mask_is_the_aes_ctr_keystream_reduced_mod_2k() -> None:
    key = bytes(range(32))
    ks = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor().update(bytes(8 * 10))
    for k in (5, 32, 33, 64):
        acc = MaskAccumulator(10, k)
        acc.add(key)
        if k <= 32:
            words = np.frombuffer(ks[:40], dtype="<u4").astype(np.uint64)
        else:
            words = np.frombuffer(ks, dtype="<u8").astype(np.uint64)
        if k < 64:
            words &= np.uint64((1 << k) - 1)
        np.testing.assert_array_equal(acc.result(), words)


@given(st.integers(1, 64), st.integers(0, 40))
@settings(max_examples=30, deadline=None)
def test_masks_cancel_and_add_wrapping(k: int, length: int) -> None:
    a, b = os.urandom(32), os.urandom(32)
    x = VectorRNG().bits(length, k)
    acc = MaskAccumulator(length, k, initial=x)
    acc.add(a, 1)
    acc.add(b, -1)
    acc.add(a, -1)
    acc.add(b, 1)
    np.testing.assert_array_equal(acc.result(), x)


def test_mask_keys_are_domain_separated() -> None:
    s, sid = os.urandom(32), os.urandom(32)
    k1 = pairwise_mask_key(s, session_id=sid, u=1, v=2, modulus_bits=32)
    assert k1 == pairwise_mask_key(s, session_id=sid, u=2, v=1, modulus_bits=32)  # symmetric
    others = {
        pairwise_mask_key(s, session_id=sid, u=1, v=3, modulus_bits=32),
        pairwise_mask_key(s, session_id=os.urandom(32), u=1, v=2, modulus_bits=32),
        pairwise_mask_key(s, session_id=sid, u=1, v=2, modulus_bits=16),
        self_mask_key(s, session_id=sid, u=1, modulus_bits=32),
        self_mask_key(s, session_id=sid, u=2, modulus_bits=32),
    }
    assert k1 not in others and len(others) == 5


def test_mask_bits_look_uniform() -> None:
    # Each of the k bit positions is set about half the time (coarse bias check).
    acc = MaskAccumulator(200_000, 20)
    acc.add(os.urandom(32))
    v = acc.result()
    assert int(v.max()) < 1 << 20
    for bit in range(20):
        frac = float(((v >> np.uint64(bit)) & np.uint64(1)).mean())
        assert abs(frac - 0.5) < 0.01


def test_mask_accumulator_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError):
        MaskAccumulator(4, 0)
    with pytest.raises(InvalidArgumentError):
        MaskAccumulator(4, 65)
    with pytest.raises(InvalidArgumentError):
        MaskAccumulator(-1, 8)
    acc = MaskAccumulator(4, 8)
    with pytest.raises(InvalidArgumentError):
        acc.add(bytes(32), 2)
    with pytest.raises(InvalidArgumentError):
        MaskAccumulator(4, 8, initial=np.zeros(3, dtype=np.uint64))


# -- SecAgg+ graph -------------------------------------------------------------------


@given(st.integers(3, 60), st.integers(1, 15))
@settings(max_examples=40, deadline=None)
def test_harary_graph_is_regular_and_symmetric(n: int, half: int) -> None:
    k = 2 * half
    sid = os.urandom(32)
    ids = list(range(100, 100 + n))
    nmap = neighbor_map(ids, k, sid)
    deg = min(k, n - 1)
    for u, nb in nmap.items():
        assert u not in nb
        assert len(nb) == deg
        for v in nb:
            assert u in nmap[v]
    assert nmap == neighbor_map(list(reversed(ids)), k, sid)  # deterministic per session


def test_graph_depends_on_session() -> None:
    ids = list(range(50))
    a = neighbor_map(ids, 6, os.urandom(32))
    b = neighbor_map(ids, 6, os.urandom(32))
    assert a != b


def test_odd_degree_rejected() -> None:
    with pytest.raises(InvalidArgumentError):
        neighbor_map(list(range(20)), 5, bytes(32))


def test_degree_rule() -> None:
    assert secagg_plus_parameters(500) == (36, 19)
    assert secagg_plus_parameters(100) == (28, 15)
    assert secagg_plus_parameters(10) == (9, 6)  # complete graph for small n
    for n in (2, 3, 17, 1000, 10**5):
        k, t = secagg_plus_parameters(n)
        assert k <= n - 1 and (k % 2 == 0 or k == n - 1)
        assert (k + 1) // 2 < t <= k + 1
        if n > 64:
            assert k <= 4 * math.ceil(math.log2(n)) + 2
    with pytest.raises(InvalidArgumentError):
        secagg_plus_parameters(1)


# -- quantization --------------------------------------------------------------------


@given(
    st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=50),
    st.sampled_from([16, 32, 48, 64]),
)
@settings(max_examples=40, deadline=None)
def test_quantize_round_trip_within_one_step(values: list[float], k: int) -> None:
    q = Quantizer.for_clients(clip=4.0, modulus_bits=k, num_clients=10)
    enc = q.quantize(values)
    assert enc.dtype == np.uint64 and (k == 64 or int(enc.max()) < 1 << k)
    dec = q.dequantize(enc)
    clipped = np.clip(values, -4.0, 4.0)
    assert np.all(np.abs(dec - clipped) <= 1.0 / q.scale + 1e-12)


def test_sum_of_quantized_values_decodes_including_negatives() -> None:
    n = 50
    q = Quantizer.for_clients(clip=1.0, modulus_bits=24, num_clients=n)
    vals = np.linspace(-1.0, 1.0, n)
    encs = np.stack([q.quantize(np.full(3, v)) for v in vals])
    total = encs.sum(axis=0) & np.uint64((1 << 24) - 1)
    dec = q.dequantize(total, count=n)
    assert np.all(np.abs(dec - vals.sum()) <= n / q.scale)
    # Worst case: every client at -clip still decodes (no wrap).
    worst = np.stack([q.quantize(np.full(2, -1.0)) for _ in range(n)]).sum(axis=0)
    np.testing.assert_allclose(
        q.dequantize(worst & np.uint64((1 << 24) - 1)), -n * 1.0, atol=n / q.scale
    )


def test_stochastic_rounding_is_unbiased() -> None:
    q = Quantizer.create(clip=10.0, scale=1.0, modulus_bits=32, num_clients=1)
    enc = q.quantize(np.full(100_000, 0.25), rng=VectorRNG(bytes(32)))
    dec = q.dequantize(enc)
    assert set(np.unique(dec).tolist()) == {0.0, 1.0}
    assert abs(dec.mean() - 0.25) < 0.01
    # Deterministic with a seeded generator.
    again = q.quantize(np.full(100_000, 0.25), rng=VectorRNG(bytes(32)))
    np.testing.assert_array_equal(enc, again)


def test_headroom_check_refuses_wrapping_configurations() -> None:
    check_headroom(clip=1.0, scale=2**10, modulus_bits=32, num_clients=1000)
    with pytest.raises(EncodingOverflowError):
        check_headroom(clip=1.0, scale=2**21, modulus_bits=32, num_clients=1024)
    with pytest.raises(EncodingOverflowError):
        Quantizer.create(clip=1.0, scale=2**20, modulus_bits=32, num_clients=2048)
    with pytest.raises(EncodingOverflowError):
        Quantizer.for_clients(clip=1e12, modulus_bits=8, num_clients=1000)
    q = Quantizer.for_clients(clip=1.0, modulus_bits=32, num_clients=1000)
    assert 1000 * math.ceil(q.scale) < 2**31
    with pytest.raises(EncodingOverflowError):
        q.dequantize(np.zeros(3, dtype=np.uint64), count=1001)
    with pytest.raises(InvalidArgumentError):
        check_headroom(clip=-1.0, scale=1.0, modulus_bits=32, num_clients=2)
    with pytest.raises(InvalidArgumentError):
        check_headroom(clip=1.0, scale=float("nan"), modulus_bits=32, num_clients=2)


def test_quantize_rejects_non_finite() -> None:
    q = Quantizer.for_clients(clip=1.0, modulus_bits=32, num_clients=4)
    with pytest.raises(EncodingError):
        q.quantize([0.0, float("nan")])
    with pytest.raises(EncodingError):
        q.quantize([[0.0]])


# -- configuration -------------------------------------------------------------------


def test_config_validation() -> None:
    ok = SecAggConfig.create(range(10), threshold=6, vector_length=4)
    assert ok.degree is None and len(ok.session_id) == 32
    with pytest.raises(InvalidArgumentError):
        SecAggConfig.create(range(10), threshold=5, vector_length=4)  # not a strict majority
    assert (
        SecAggConfig.create(
            range(10), threshold=2, vector_length=4, unsafe_allow_low_threshold=True
        ).threshold
        == 2
    )
    with pytest.raises(InvalidArgumentError):
        SecAggConfig.create(range(10), threshold=11, vector_length=4)
    with pytest.raises(InvalidArgumentError):
        SecAggConfig.create([1, 1, 2], threshold=2, vector_length=4)
    with pytest.raises(InvalidArgumentError):
        SecAggConfig.create([1], threshold=1, vector_length=4)
    with pytest.raises(InvalidArgumentError):
        SecAggConfig.create(range(4), threshold=3, vector_length=0)
    with pytest.raises(InvalidArgumentError):
        SecAggConfig.create(range(4), threshold=3, vector_length=4, session_id=b"short")
    with pytest.raises(InvalidArgumentError):
        SecAggConfig.create(range(4), threshold=3, vector_length=4, active=True)
    with pytest.raises(InvalidTypeError):
        SecAggConfig.create(
            range(2), threshold=2, vector_length=4, active=True, verifying_keys={0: "x", 1: "y"}
        )
    plus = SecAggConfig.create(range(30), threshold=5, vector_length=4, degree=8)
    assert plus.degree == 8 and all(len(plus.neighbors(c)) == 8 for c in range(30))
    with pytest.raises(InvalidArgumentError):
        SecAggConfig.create(range(30), threshold=4, vector_length=4, degree=8)  # 4 <= 9 // 2
    with pytest.raises(InvalidArgumentError):
        SecAggConfig.create(range(30), threshold=5, vector_length=4, degree=7)
    full = SecAggConfig.create(range(5), threshold=3, vector_length=4, degree=10)
    assert full.degree is None  # degree >= n - 1 is plain Bonawitz


def test_config_wire_round_trip_and_validation() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from fedcrypto.exceptions import SerializationError

    keys = {i: Ed25519PrivateKey.generate().public_key() for i in (3, 9, 12, 40)}
    for active, degree in ((False, None), (True, None), (False, 2)):
        cfg = SecAggConfig.create(
            keys,
            threshold=3,
            vector_length=77,
            modulus_bits=20,
            active=active,
            verifying_keys=keys if active else None,
            degree=degree,
        )
        back = SecAggConfig.from_bytes(cfg.to_bytes())
        assert back.session_id == cfg.session_id and back.client_ids == cfg.client_ids
        assert (back.threshold, back.vector_length, back.modulus_bits) == (3, 77, 20)
        assert back.active == active and back.degree == degree
        assert all(back.neighbors(c) == cfg.neighbors(c) for c in cfg.client_ids)
    data = cfg.to_bytes()
    with pytest.raises(SerializationError):
        SecAggConfig.from_bytes(data[:-1])
    low = SecAggConfig.create(
        range(6), threshold=2, vector_length=4, unsafe_allow_low_threshold=True
    )
    with pytest.raises(SerializationError):
        SecAggConfig.from_bytes(low.to_bytes())  # a receiver refuses unsafe thresholds by default
    assert SecAggConfig.from_bytes(low.to_bytes(), unsafe_allow_low_threshold=True).threshold == 2


def test_mask_key_derivation_is_rfc5869_hkdf() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from fedcrypto.secagg._masking import _hkdf

    for _ in range(5):
        ikm, salt, info = os.urandom(32), os.urandom(32), os.urandom(20)
        ref = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)
        assert _hkdf(ikm, salt, info) == ref
    # RFC 5869 test case 1 (first 32 bytes of the 42-byte OKM).
    ikm = bytes.fromhex("0b" * 22)
    salt = bytes.fromhex("000102030405060708090a0b0c")
    info = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
    okm = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
    assert _hkdf(ikm, salt, info).hex() == okm
