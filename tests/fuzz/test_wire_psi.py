"""Wire fuzz for every PSI object type (envelope types 0x02xx) and the PSI tool's parsers.

Invariant, for every input:

* ``psi.decode_message`` returns a message or raises ``SerializationError`` (malformed bytes)
  or ``RemoteProtocolError`` (a well-formed message the agreed protocol never sends);
* a message that decodes, handed to a started party of the receiving role, is processed or
  rejected with a ``RemoteProtocolError`` (``InvalidGroupElementError``,
  ``InvalidSignatureError`` included) — the door converts, nothing else escapes;
* the tool's ``FrameDecoder`` returns frames or raises ``PeerError``, and ``Hello.parse``
  returns a hello or raises ``RemoteProtocolError``;

never anything else, within a bounded time, and with a traced memory peak bounded by a
function of the input's length.

Inputs: arbitrary bytes; arbitrary payloads in a well-formed envelope of every PSI type and
suite; structured mutations of every message of real runs (bit flips, truncation,
extension, header and batch fields overwritten with edge values, with and without fixing the
envelope's length, type codes swapped); for the tool, arbitrary and mutated frames and
hellos, deep nesting, huge numbers.  Seeded (``FEDCRYPTO_FUZZ_SEED`` to vary it; hypothesis
prints the failing example), a few seconds in all.
"""

from __future__ import annotations

import json
import os
import random
import struct
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from fedcrypto import psi
from fedcrypto.cli.psi_tool._handshake import HELLO_MAGIC, Hello
from fedcrypto.cli.psi_tool._net import FrameDecoder, FrameKind
from fedcrypto.exceptions import PeerError, RemoteProtocolError, SerializationError
from fedcrypto.hazmat.rsa_blind import RsaBlindKey
from fedcrypto.psi._messages import message_param
from fedcrypto.serialization import ObjectType, pack

SEED = int(os.environ.get("FEDCRYPTO_FUZZ_SEED", "20261202"))
FUZZ = settings(
    max_examples=int(os.environ.get("FEDCRYPTO_FUZZ_EXAMPLES", "60")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Wall-clock bound per input: generous (the machine may be shared); the bugs this catches
#: (a hang, a recursion, a quadratic parse) take far longer.
MAX_SECONDS = 5.0
HEADER = 32  # envelope: magic, version, type, parameter id, payload length
BATCH_HEADER = 14  # u32 index, u32 total, u32 count, u16 elem_size
EDGE_VALUES = [0, 1, 2, 0x7F, 0xFF, 0xFFFF, 2**31, 2**32 - 1, 2**32, 2**63, 2**64 - 1]
#: The two-party intersection messages (``decode_message``); the issue-13 types from 0x0220 on
#: have their own decoders and are fuzzed in test_wire_psi_compute.py
#: (0x028x, multi-party: test_wire_mpsi.py).
PSI_TYPES = [t for t in ObjectType if 0x0200 <= t < 0x0220]
SID = bytes(range(32))
DECODE_OK = (SerializationError, RemoteProtocolError)


def memory_bound(length: int) -> int:
    """Traced peak allowed for parsing ``length`` bytes: a few copies plus a constant."""
    return 16 * length + (1 << 20)


def bounded(fn: Callable[[], Any], length: int, allowed: tuple[type[Exception], ...]) -> Any:
    """Run ``fn``: a result or an ``allowed`` error, in bounded time and traced memory."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        return fn()
    except allowed as exc:
        return exc
    finally:
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert elapsed < MAX_SECONDS, f"{elapsed:.1f} s for {length} bytes"
        assert peak <= memory_bound(length), f"peak {peak} B for {length} bytes"


# -- suites and real transcripts -----------------------------------------------------------------
SUITES = {
    "ecdh": psi.PsiSettings(protocol="ecdh", batch_size=2, workers=1),
    "p256-count": psi.PsiSettings(
        protocol="ecdh", group="p256", reveal="count", batch_size=2, workers=1
    ),
    "dh-listener": psi.PsiSettings(protocol="dh", reveal="listener", batch_size=2, workers=1),
    "rsa-both": psi.PsiSettings(protocol="rsa", reveal="both", batch_size=2, workers=1),
    "rsa-connector": psi.PsiSettings(protocol="rsa", reveal="connector", batch_size=2, workers=1),
}
A = [b"a", b"b", b"c"]
B = [b"b", b"c", b"d"]


@pytest.fixture(scope="module")
def rsa_key() -> RsaBlindKey:
    return RsaBlindKey.generate(2048, primes=3)


def _new_party(name: str, role: str, rsa_key: RsaBlindKey) -> psi.PsiParty:
    settings = SUITES[name]
    items, peer = (A, B) if role == "listener" else (B, A)
    kw: dict[str, Any] = {"rsa_key": rsa_key} if settings.protocol == "rsa" else {}
    return psi.create_party(
        settings, role=role, items=items, peer_size=len(peer), session_id=SID, **kw
    )


def _transcript(name: str, rsa_key: RsaBlindKey) -> list[tuple[str, bytes]]:
    """Every message of a complete run of suite ``name``: ``(receiver role, bytes)``."""
    parties = {r: _new_party(name, r, rsa_key) for r in ("listener", "connector")}
    other = {"listener": "connector", "connector": "listener"}
    queues: dict[str, deque[bytes]] = {"listener": deque(), "connector": deque()}
    out: list[tuple[str, bytes]] = []
    try:
        for role in ("listener", "connector"):
            for m in parties[role].start():
                queues[other[role]].append(m.to_bytes())
                out.append((other[role], m.to_bytes()))
        while queues["listener"] or queues["connector"]:
            for role in ("listener", "connector"):
                if queues[role] and not parties[role].done:
                    msg = psi.decode_message(queues[role].popleft(), SUITES[name], SID)
                    for m in parties[role].handle(msg):
                        queues[other[role]].append(m.to_bytes())
                        out.append((other[role], m.to_bytes()))
                elif queues[role]:
                    queues[role].popleft()
    finally:
        for p in parties.values():
            p.close()
    return out


@pytest.fixture(scope="module")
def transcripts(rsa_key: RsaBlindKey) -> dict[str, list[tuple[str, bytes]]]:
    got = {name: _transcript(name, rsa_key) for name in SUITES}
    kinds = {int.from_bytes(data[6:8], "big") for t in got.values() for _, data in t}
    assert kinds == {int(t) for t in PSI_TYPES}, "every PSI message type is exercised"
    return got


def _decode_and_handle(name: str, role: str, data: bytes, rsa_key: RsaBlindKey) -> None:
    """The invariant for one input: decode, then hand what decodes to a started party."""
    settings = SUITES[name]
    msg = bounded(lambda: psi.decode_message(data, settings, SID), len(data), DECODE_OK)
    if isinstance(msg, Exception):
        return
    assert isinstance(msg, psi.PsiMessage)
    party = _new_party(name, role, rsa_key)
    try:
        party.start()
        t0 = time.perf_counter()
        try:
            party.handle(msg)
        except RemoteProtocolError:
            pass
        assert time.perf_counter() - t0 < MAX_SECONDS
    finally:
        party.close()


# -- 1. arbitrary bytes ---------------------------------------------------------------------------
@seed(SEED)
@FUZZ
@given(data=st.binary(max_size=700), name=st.sampled_from(sorted(SUITES)))
def test_arbitrary_bytes(data: bytes, name: str) -> None:
    bounded(lambda: psi.decode_message(data, SUITES[name], SID), len(data), DECODE_OK)


# -- 2. arbitrary payloads in well-formed envelopes of every PSI type and suite --------------------
@seed(SEED)
@FUZZ
@given(
    name=st.sampled_from(sorted(SUITES)),
    otype=st.sampled_from(PSI_TYPES),
    payload=st.one_of(
        st.binary(max_size=600),
        st.builds(
            lambda head, body: head + body,
            st.tuples(
                st.integers(0, 2**32 - 1),
                st.integers(0, 2**32 - 1),
                st.sampled_from([0, 1, 2, 3, 2**31, 2**32 - 1]),
                st.sampled_from([0, 8, 16, 32, 256, 384, 0xFFFF]),
            ).map(lambda t: struct.pack(">IIIH", *t)),
            st.binary(max_size=600),
        ),
    ),
    role=st.sampled_from(["listener", "connector"]),
)
def test_arbitrary_payloads(
    rsa_key: RsaBlindKey, name: str, otype: ObjectType, payload: bytes, role: str
) -> None:
    data = pack(otype, payload, param=message_param(SUITES[name], SID))
    _decode_and_handle(name, role, data, rsa_key)


# -- 3. structured mutations of every message of real runs ----------------------------------------
def _mutations(data: bytes, rng: random.Random) -> list[bytes]:
    out = []
    n = len(data)
    for _ in range(4):  # bit flips anywhere
        i = rng.randrange(n)
        out.append(data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :])
    for cut in (0, 7, HEADER - 1, HEADER, HEADER + BATCH_HEADER - 1, n - 1, rng.randrange(n)):
        out.append(data[:cut])  # truncations
    out.append(data + b"\x00")
    out.append(data + bytes(rng.randrange(1, 64)))
    for offset, width in (
        (24, 8),
        (HEADER, 4),
        (HEADER + 4, 4),
        (HEADER + 8, 4),
        (HEADER + 12, 2),
        (HEADER, 2),
        (HEADER + 2, 2),
    ):
        if offset + width > n:
            continue
        for v in rng.sample(EDGE_VALUES, 3):
            field = (v % (1 << (8 * width))).to_bytes(width, "big")
            out.append(data[:offset] + field + data[offset + width :])
    for t in rng.sample(PSI_TYPES, 3):  # another type code, same payload
        out.append(data[:6] + int(t).to_bytes(2, "big") + data[8:])
    if n > HEADER + BATCH_HEADER:  # keep the envelope consistent, shorten the batch body
        body = data[HEADER:-1]
        out.append(data[:24] + len(body).to_bytes(8, "big") + body)
    return out


def test_mutations_of_every_message(transcripts, rsa_key: RsaBlindKey) -> None:
    rng = random.Random(SEED)
    t0 = time.perf_counter()
    count = 0
    for name, messages in transcripts.items():
        seen: set[int] = set()
        for role, data in messages:
            kind = int.from_bytes(data[6:8], "big")
            if kind in seen and rng.random() < 0.7:
                continue  # every kind at least once per suite, a sample of the rest
            seen.add(kind)
            for mutated in _mutations(data, rng):
                _decode_and_handle(name, role, mutated, rsa_key)
                count += 1
    assert count > 200
    assert time.perf_counter() - t0 < 120


# -- 4. the tool: frames ---------------------------------------------------------------------
def _frames(data: bytes, max_frame: int, chunk: int) -> None:
    dec = FrameDecoder(max_frame)
    for i in range(0, len(data), chunk):
        for kind, body in dec.feed(data[i : i + chunk]):
            assert kind in FrameKind.NAMES and len(body) <= max_frame


@seed(SEED)
@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=800),
        st.lists(
            st.tuples(
                st.sampled_from([0, 1, 2, 3, 4, 5, 6, 255]),
                st.sampled_from([0, 1, 5, 64, 65, 4096, 4097, 65536, 2**31, 2**32 - 1]),
                st.binary(max_size=100),
            ),
            max_size=6,
        ).map(lambda fs: b"".join(b"FP" + bytes([k]) + struct.pack(">I", n) + b for k, n, b in fs)),
    ),
    max_frame=st.sampled_from([0, 16, 1 << 20]),
    chunk=st.sampled_from([1, 3, 7, 1000]),
)
def test_frame_decoder(data: bytes, max_frame: int, chunk: int) -> None:
    bounded(lambda: _frames(data, max_frame, chunk), len(data), (PeerError,))


# -- 5. the tool: hellos --------------------------------------------------------------------
def _valid_hello() -> dict[str, Any]:
    h = Hello.build(
        role="connector",
        tool_version="1.0",
        protocol_version=1,
        settings=psi.PsiSettings().as_dict(),
        input_settings={"normalize": ["strip"], "key_columns": 1, "duplicates": "dedup"},
        set_size=10,
    )
    return dict(h.fields)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@seed(SEED)
@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=800),
        st.builds(
            lambda k, v: json.dumps({**_valid_hello(), k: v}).encode(),
            st.sampled_from(sorted(_valid_hello())),
            _json,
        ),
        st.builds(lambda d: b"[" * d + b"]" * d, st.integers(0, 30_000)),
        st.builds(lambda d: b'{"a":' * d + b"1" + b"}" * d, st.integers(0, 10_000)),
        st.builds(
            lambda n: json.dumps({**_valid_hello(), "set_size": 10**n}).encode(),
            st.integers(0, 4000),
        ),
    ),
    magic=st.booleans(),
)
def test_hello_parser(body: bytes, magic: bool) -> None:
    raw = (HELLO_MAGIC if magic else b"") + body
    hello = bounded(lambda: Hello.parse(raw), len(raw), (RemoteProtocolError,))
    if isinstance(hello, Hello):
        assert hello.fields["hello_version"] == 1
