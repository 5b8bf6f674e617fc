"""Wire fuzz for every Paillier object type (envelope types 0x01xx).

Invariant, for every input: the parser returns an object or raises its documented
error (``SerializationError``; for vectors also ``InvalidCiphertext`` and
``KeyMismatchError``), never anything else, within a bounded time and with a
traced memory peak bounded by a function of the input's length.

Inputs: arbitrary bytes; arbitrary payloads in a well-formed envelope; structured
mutations of valid encodings (bit flips, truncation, extension, fields overwritten
with edge values such as 0, 2**32 - 1, 2**63, 2**64 - 1, with and without fixing the
envelope's length); and pinned cases (huge counts, shapes like ``(2**63, 0)``, keys
of 65,536 bits).  Seeded (``FEDCRYPTO_FUZZ_SEED`` to vary it; hypothesis prints the
failing example), a few seconds in all.
"""

from __future__ import annotations

import os
import random
import struct
import time
import tracemalloc
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from fedcrypto import paillier
from fedcrypto.exceptions import InvalidCiphertext, KeyMismatchError, SerializationError
from fedcrypto.serialization import ObjectType, Writer, pack, param_id

SEED = int(os.environ.get("FEDCRYPTO_FUZZ_SEED", "20261202"))
FUZZ = settings(
    max_examples=int(os.environ.get("FEDCRYPTO_FUZZ_EXAMPLES", "50")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Wall-clock bound per input: generous (the machine may be shared); a parse of these
#: small inputs takes milliseconds, the bugs this catches take minutes.
MAX_SECONDS = 5.0
HEADER = 32  # envelope: magic, version, type, parameter id, payload length
EDGE_VALUES = [0, 1, 2, 0x7F, 0xFF, 0xFFFF, 2**31, 2**32 - 1, 2**32, 2**40, 2**63, 2**64 - 1]


def memory_bound(length: int) -> int:
    """Traced peak allowed for parsing ``length`` bytes: a few copies plus a constant."""
    return 16 * length + (1 << 20)


# -- the parsers under test ----------------------------------------------------------------
class Target:
    """One parser: its envelope type and the errors its documentation allows."""

    def __init__(
        self,
        name: str,
        otype: ObjectType,
        parse: Callable[[bytes], object],
        allowed: tuple[type[Exception], ...],
    ) -> None:
        self.name, self.otype, self.parse, self.allowed = name, otype, parse, allowed


@pytest.fixture(scope="module")
def key() -> paillier.PaillierPrivateKey:
    return paillier.generate_private_key(512, unsafe_allow_small_keys=True)


@pytest.fixture(scope="module")
def targets(key: paillier.PaillierPrivateKey) -> dict[str, Target]:
    pk = key.public_key()
    vec_errors = (SerializationError, InvalidCiphertext, KeyMismatchError)
    return {
        t.name: t
        for t in (
            Target(
                "public key",
                ObjectType.PAILLIER_PUBLIC_KEY,
                lambda d: paillier.PaillierPublicKey.from_bytes(d, unsafe_allow_small_keys=True),
                (SerializationError,),
            ),
            Target(
                "public key (default policy)",
                ObjectType.PAILLIER_PUBLIC_KEY,
                paillier.PaillierPublicKey.from_bytes,
                (SerializationError,),
            ),
            Target(
                "private key",
                ObjectType.PAILLIER_PRIVATE_KEY,
                lambda d: paillier.PaillierPrivateKey.from_private_bytes(
                    d, unsafe_allow_small_keys=True
                ),
                (SerializationError,),
            ),
            Target(
                "encrypted vector",
                ObjectType.PAILLIER_ENCRYPTED_VECTOR,
                lambda d: paillier.EncryptedVector.from_bytes(d, pk),
                vec_errors,
            ),
            Target(
                "packed vector",
                ObjectType.PAILLIER_PACKED_VECTOR,
                lambda d: paillier.PackedVector.from_bytes(d, pk),
                vec_errors,
            ),
        )
    }


@pytest.fixture(scope="module")
def samples(key: paillier.PaillierPrivateKey) -> dict[str, list[bytes]]:
    """Valid encodings of every type (the seeds of the structured mutations)."""
    pk = key.public_key()
    one = paillier.PackingScheme(bits=8, parties=3, alpha=1.0)
    two = paillier.PackingScheme(bits=16, parties=2, alpha=0.5, rounding="nearest")
    packed = [
        one.encrypt(pk, np.array([0.5, -0.25, 1.0])),
        one.encrypt(pk, np.zeros((2, 3))),
        one.encrypt(pk, np.float64(0.75)),
        one.encrypt(pk, np.zeros(0)),
        paillier.PackedVector.sum([two.encrypt(pk, np.ones(40)), two.encrypt(key, np.ones(40))]),
    ]
    vectors = [pk.encrypt([1, -2, 3]), pk.encrypt([0.5, -1.25]), pk.encrypt([])]
    vectors.append(pk.encrypt([7]) * 3)  # not fresh: re-randomized by to_bytes
    keys = [pk.to_bytes()]
    return {
        "public key": keys,
        "public key (default policy)": keys,
        "private key": [key.private_bytes()],
        "encrypted vector": [v.to_bytes() for v in vectors],
        "packed vector": [p.to_bytes() for p in packed],
    }


@pytest.fixture(scope="module", autouse=True)
def traced() -> Iterator[None]:
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    yield
    if started:
        tracemalloc.stop()


def check(target: Target, data: bytes) -> None:
    """Run one parse under the invariant."""
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    try:
        target.parse(data)
    except target.allowed:
        pass
    except Exception as exc:  # noqa: BLE001 - the point: nothing else may escape
        pytest.fail(
            f"{target.name}: {type(exc).__name__}: {exc} (input of {len(data)} bytes, "
            f"first 64: {data[:64].hex()})"
        )
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] - base
    assert elapsed < MAX_SECONDS, f"{target.name}: {elapsed:.2f} s for {len(data)} bytes"
    assert peak <= memory_bound(len(data)), (
        f"{target.name}: traced peak {peak} bytes for an input of {len(data)} bytes"
    )


def envelope(otype: ObjectType, payload: bytes, param: bytes = bytes(16)) -> bytes:
    return pack(otype, payload, param=param)


def with_length_fixed(data: bytes) -> bytes:
    """``data`` with the envelope's payload length set to what follows the header."""
    if len(data) < HEADER:
        return data
    return data[:24] + struct.pack(">Q", len(data) - HEADER) + data[HEADER:]


NAMES = [
    "public key",
    "public key (default policy)",
    "private key",
    "encrypted vector",
    "packed vector",
]


# -- arbitrary bytes -----------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@seed(SEED)
@FUZZ
@given(data=st.binary(max_size=1024))
def test_garbage_bytes(targets, name, data) -> None:
    check(targets[name], data)


@pytest.mark.parametrize("name", NAMES)
@seed(SEED + 1)
@FUZZ
@given(payload=st.binary(max_size=1024), own_param=st.booleans())
def test_garbage_payload_in_a_valid_envelope(targets, key, name, payload, own_param) -> None:
    target = targets[name]
    param = key.public_key().fingerprint if own_param else bytes(16)
    check(target, envelope(target.otype, payload, param))


# -- structured mutations of valid encodings ------------------------------------------------
@st.composite
def mutations(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        op = draw(st.sampled_from(["flip", "truncate", "extend", "field", "byte"]))
        if op == "flip" and data:
            i = draw(st.integers(min_value=0, max_value=len(data) - 1))
            data[i] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif op == "truncate":
            del data[draw(st.integers(min_value=0, max_value=len(data))) :]
        elif op == "extend":
            data += draw(st.binary(min_size=1, max_size=64))
        elif op == "byte" and data:
            data[draw(st.integers(min_value=0, max_value=len(data) - 1))] = draw(
                st.integers(min_value=0, max_value=255)
            )
        elif op == "field" and len(data) > HEADER:
            # Overwrite an aligned-or-not 1/2/4/8-byte big-endian field with an edge value.
            width = draw(st.sampled_from([1, 2, 4, 8]))
            i = draw(st.integers(min_value=HEADER, max_value=max(HEADER, len(data) - width)))
            v = draw(st.sampled_from(EDGE_VALUES)) % (1 << (8 * width))
            data[i : i + width] = v.to_bytes(width, "big")
    out = bytes(data)
    return with_length_fixed(out) if draw(st.booleans()) else out


@pytest.mark.parametrize("name", NAMES)
@seed(SEED + 2)
@FUZZ
@given(data=st.data())
def test_mutated_valid_encodings(targets, samples, name, data) -> None:
    original = data.draw(st.sampled_from(samples[name]))
    check(targets[name], data.draw(mutations(original)))


# -- pinned cases ---------------------------------------------------------------------------
def _fingerprint(n: int) -> bytes:
    return param_id(b"fedcrypto/paillier/public-key", n.to_bytes((n.bit_length() + 7) // 8, "big"))


def _public_key_payload(nb: int, n: int, h_s: int) -> bytes:
    return Writer().u32(nb).uint(n, nb).uint(h_s, 2 * nb).getvalue()


def pinned_cases(key: paillier.PaillierPrivateKey) -> Iterator[tuple[str, bytes]]:
    pk = key.public_key()
    fp = pk.fingerprint
    rnd = random.Random(SEED)  # test data, not a secret
    # Keys of 65,536 bits (and beyond) with a matching fingerprint: refused by size first.
    for bits in (16392, 65536):
        n = rnd.getrandbits(bits) | (1 << (bits - 1)) | 1
        nb = (bits + 7) // 8
        payload = _public_key_payload(nb, n, 4)
        yield "public key", envelope(ObjectType.PAILLIER_PUBLIC_KEY, payload, _fingerprint(n))
        p = rnd.getrandbits(bits // 2) | (1 << (bits // 2 - 1)) | 1
        priv = Writer().u32(nb).big(p).big(p + 2).uint(4, 2 * nb).getvalue()
        fp_pq = _fingerprint(p * (p + 2))
        yield "private key", envelope(ObjectType.PAILLIER_PRIVATE_KEY, priv, fp_pq)
    for nb in (0, 2**32 - 1, 8193):
        payload = Writer().u32(nb).getvalue() + bytes(64)
        yield "public key", envelope(ObjectType.PAILLIER_PUBLIC_KEY, payload)
        yield "private key", envelope(ObjectType.PAILLIER_PRIVATE_KEY, payload)
    # Private keys whose fingerprint matches but whose "primes" are not.
    nb = (pk.n.bit_length() + 7) // 8
    for p, q in ((key._p + 2, key._q), (key._p, key._p), (1, pk.n), (0, 0), (3, 5)):
        priv = Writer().u32(nb).big(p).big(q).uint(4, 2 * nb).getvalue()
        yield "private key", envelope(ObjectType.PAILLIER_PRIVATE_KEY, priv, _fingerprint(p * q))
    # Vectors: ciphertexts outside the ciphertext space (zero, n**2 and above, not a unit).
    cb = pk.ciphertext_bytes
    for bad in (0, pk.nsquare, (1 << (8 * cb)) - 1, pk.n, key._p):
        payload = Writer().u8(0).u16(0).u64(2).uint(1, cb).uint(bad, cb).getvalue()
        yield "encrypted vector", envelope(ObjectType.PAILLIER_ENCRYPTED_VECTOR, payload, fp)
    # Vectors: huge counts, bad encodings.
    for is_float, frac, count in ((0, 0, 2**64 - 1), (0, 0, 2**32), (1, 4097, 0), (2, 0, 0)):
        payload = Writer().u8(is_float).u16(frac).u64(count).getvalue()
        yield "encrypted vector", envelope(ObjectType.PAILLIER_ENCRYPTED_VECTOR, payload, fp)
    # Packed vectors: shapes like (2**63, 0), many dimensions, huge counts, bad schemes.
    sch = paillier.PackingScheme(bits=8, parties=3, alpha=1.0)
    slots = sch.slots_per_ciphertext(pk)
    shapes = [(2**63, 0), (0, 2**64 - 1), (2**40 + 1, 0), (2**32, 2**32), (1,) * 33, (1,) * 255]
    for shape in shapes:
        for count in (0, 1, 2**64 - 1):
            wr = Writer().raw(sch.to_bytes()).u8(sch.slot_bits).u32(slots).u32(1)
            wr.u8(len(shape) % 256)
            for d in shape:
                wr.u64(d)
            wr.u64(count)
            yield "packed vector", envelope(ObjectType.PAILLIER_PACKED_VECTOR, wr.getvalue(), fp)
    for alpha in (5e-324, -0.0, float("nan"), float("inf"), 2.0**1000):
        scheme = struct.pack(">BIdBB", 8, 3, alpha, 3, 0)
        wr = Writer().raw(scheme).u8(12).u32(slots).u32(1).u8(1).u64(1).u64(1)
        wr.raw(bytes(pk.ciphertext_bytes))
        yield "packed vector", envelope(ObjectType.PAILLIER_PACKED_VECTOR, wr.getvalue(), fp)
    for bits, parties, z in ((0, 1, 2), (49, 1, 2), (8, 0, 2), (8, 2**32 - 1, 2), (8, 3, 0)):
        scheme = struct.pack(">BIdBB", bits, parties, 1.0, z, 0)
        wr = Writer().raw(scheme).u8(12).u32(slots).u32(1).u8(0).u64(1)
        yield "packed vector", envelope(ObjectType.PAILLIER_PACKED_VECTOR, wr.getvalue(), fp)


def test_pinned_cases(targets, key) -> None:
    seen = set()
    for name, data in pinned_cases(key):
        seen.add(name)
        check(targets[name], data)
        with pytest.raises(targets[name].allowed):
            targets[name].parse(data)
    assert seen == {"public key", "private key", "encrypted vector", "packed vector"}


def test_samples_parse(targets, samples) -> None:
    """The seeds of the mutations are valid: the fuzz starts from accepted inputs."""
    for name in NAMES:
        if name != "public key (default policy)":  # a test-sized key: refused by policy
            for data in samples[name]:
                assert targets[name].parse(data) is not None
