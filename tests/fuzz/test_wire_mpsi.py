"""Wire fuzz for the multi-party PSI messages (envelope types 0x028x).

Invariant, for every input: ``psi.decode_mp_message`` returns a message or raises
``SerializationError``; a message that decodes, handed to a started party (the one it is
addressed to), is processed or rejected with a ``RemoteProtocolError`` (including
``InvalidGroupElementError``) — nothing else escapes, within bounded time and traced memory.

Inputs: arbitrary bytes, arbitrary payloads in well-formed envelopes of every 0x028x type,
and structured mutations of every message kind of a real 3-party run.  Seeded.
"""

from __future__ import annotations

import random
import time

from hypothesis import given, seed
from hypothesis import strategies as st

from fedcrypto import psi
from fedcrypto.exceptions import RemoteProtocolError, SerializationError
from fedcrypto.psi._mp_messages import mp_message_param
from fedcrypto.serialization import ObjectType, pack

from .test_wire_psi import EDGE_VALUES, FUZZ, HEADER, MAX_SECONDS, SEED, bounded

MP_TYPES = [t for t in ObjectType if 0x0280 <= t < 0x0300]
SID = bytes(range(32))
N = 3
SETTINGS = psi.MultipartySettings(reveal="all", batch_size=2, workers=1)
SETS = [[b"a", b"b", b"c"], [b"b", b"c", b"d"], [b"c", b"b", b"e"]]


def _transcript() -> list[bytes]:
    out: list[bytes] = []
    psi.run_multiparty(SETTINGS, SETS, session_id=SID, observer=lambda m: out.append(m.to_bytes()))
    return out


TRANSCRIPT = _transcript()


def _decode_and_handle(data: bytes) -> None:
    msg = bounded(
        lambda: psi.decode_mp_message(data, SETTINGS, N, SID), len(data), (SerializationError,)
    )
    if isinstance(msg, Exception):
        return
    assert isinstance(msg, psi.MpMessage)
    party = psi.MultipartyParty(
        SETTINGS, index=msg.dest, items=SETS[msg.dest], sizes=[3, 3, 3], session_id=SID
    )
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


def test_every_type_is_in_the_transcript() -> None:
    kinds = {int.from_bytes(d[6:8], "big") for d in TRANSCRIPT}
    assert kinds == {int(t) for t in MP_TYPES}


@seed(SEED)
@FUZZ
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes(data: bytes) -> None:
    bounded(lambda: psi.decode_mp_message(data, SETTINGS, N, SID), len(data), (SerializationError,))


@seed(SEED)
@FUZZ
@given(otype=st.sampled_from(MP_TYPES), payload=st.binary(max_size=400))
def test_arbitrary_payloads(otype: ObjectType, payload: bytes) -> None:
    _decode_and_handle(pack(otype, payload, param=mp_message_param(SETTINGS, N, SID)))


def test_mutations_of_every_message() -> None:
    rng = random.Random(SEED)
    count = 0
    for data in TRANSCRIPT:
        n = len(data)
        variants = [data[:cut] for cut in (0, 7, HEADER, HEADER + 3, n - 1)]
        variants += [
            data + b"\x00",
            data[:6] + int(rng.choice(MP_TYPES)).to_bytes(2, "big") + data[8:],
        ]
        for _ in range(3):
            i = rng.randrange(n)
            variants.append(data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :])
        for offset in range(HEADER, min(n, HEADER + 24), 2):
            v = rng.choice(EDGE_VALUES) % (1 << 16)
            variants.append(data[:offset] + v.to_bytes(2, "big") + data[offset + 2 :])
        for v in variants:
            _decode_and_handle(v)
            count += 1
    assert count > 100
