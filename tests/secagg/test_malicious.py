"""Malicious participants: one client sends garbage, invalid keys, replays, bad signatures
or out-of-order messages in every round, in plain (honest-but-curious), active and
SecAgg+ sessions, with an honest server.

The property checked for every attack:

* the server refuses a bad message with a ``RemoteProtocolError`` (its state unchanged);
* honest clients never raise: another client can never make them fail;
* the session either completes, and then the aggregate equals the sum of the inputs of
  exactly the clients it reports as included (every honest client among them), or it
  aborts with a typed error — and attacks whose culprit can be identified from its own
  messages must complete.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fedcrypto.exceptions import (
    FedCryptoError,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
)
from fedcrypto.secagg import (
    AdvertiseKeys,
    ConsistencyCheck,
    MaskedInput,
    SecAggClient,
    SecAggConfig,
    SecAggServer,
    ShareKeys,
    UnmaskResponse,
)
from fedcrypto.secagg._crypto import encrypt_share, sign
from fedcrypto.secagg._messages import consistency_transcript

P25519 = (1 << 255) - 19
#: Canonical low-order u-coordinates, and non-canonical encodings of valid-looking values.
LOW_ORDER = [
    0,
    1,
    P25519 - 1,
    325606250916557431795983626356110631294008115727848805560023387167927233504,
    39382357235489614581723060781553021112529911719440698176882885853963445705823,
]
NON_CANONICAL = [P25519, P25519 + 1, P25519 + 9, (1 << 255) + 9, (1 << 256) - 1]

MODES: dict[str, dict[str, Any]] = {
    "plain": {"active": False, "degree": None, "n": 7, "t": 4},
    "active": {"active": True, "degree": None, "n": 7, "t": 4},
    "secagg+": {"active": False, "degree": 4, "n": 9, "t": 3},
}
L, K = 12, 20  # vector length, modulus bits (3-byte entries: out-of-range values exist)
EVIL = 2  # the malicious client's id


def _u(value: int) -> bytes:
    return (value % (1 << 256)).to_bytes(32, "little")


class Session:
    """One session through the wire format; client ``EVIL`` is driven by an attack."""

    def __init__(self, mode: str, seed: int) -> None:
        m = MODES[mode]
        self.mode, self.n, self.active = mode, m["n"], m["active"]
        self.signing = {i: Ed25519PrivateKey.generate() for i in range(self.n)}
        self.cfg = SecAggConfig.create(
            range(self.n),
            threshold=m["t"],
            vector_length=L,
            modulus_bits=K,
            active=self.active,
            degree=m["degree"],
            verifying_keys={i: k.public_key() for i, k in self.signing.items()}
            if self.active
            else None,
            session_id=bytes([seed]) * 32,
        )
        self.server = SecAggServer(self.cfg)
        self.clients = {
            i: SecAggClient(self.cfg, i, signing_key=self.signing[i] if self.active else None)
            for i in range(self.n)
        }
        rng = np.random.default_rng(seed)  # public test data, not secrets
        self.x = rng.integers(0, 1 << 10, size=(self.n, L), dtype=np.uint64)
        self.honest = [i for i in range(self.n) if i != EVIL]
        self.rejections: list[tuple[str, type[BaseException]]] = []
        self.evil_client_ok = True  # the attacker's own state machine still usable

    # -- helpers for attacks -----------------------------------------------------------
    def resign(self, msg: Any) -> Any:
        """Re-sign a modified message with the attacker's own key (active mode)."""
        if not self.active:
            return msg
        return dataclasses.replace(msg, signature=sign(self.signing[EVIL], msg.signed_transcript()))

    def deliver(self, receive: Callable[[Any], None], data: bytes | Any, who: str) -> bool:
        try:
            receive(data)
        except ProtocolError as exc:  # the only acceptable refusal
            self.rejections.append((who, type(exc)))
            return False
        return True

    def honest_call(self, i: int, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - any failure of an honest client is a bug
            pytest.fail(f"honest client {i} failed because of client {EVIL}: {exc!r}")

    def evil_call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if not self.evil_client_ok:
            return None
        try:
            return fn(*args)
        except FedCryptoError:  # the attacker's own bookkeeping may refuse what it did
            self.evil_client_ok = False
            return None

    # -- the rounds --------------------------------------------------------------------
    def run(self, attack: dict[str, Callable[..., list[Any]]]) -> Any:
        """Run every round; returns the AggregationResult or the typed error that ended it."""
        try:
            return self._rounds(attack)
        except (LocalProtocolError, RemoteProtocolError) as exc:
            return exc

    def _send(
        self, receive: Callable[[Any], None], honest: dict[int, Any], evil: list[Any]
    ) -> None:
        first = [m for m in evil if isinstance(m, tuple) and m[0] == "first"]
        for _, m in first:
            self.deliver(receive, m, "evil")
        for i, m in honest.items():
            assert self.deliver(receive, m.to_bytes(), f"honest {i}"), f"honest {i} refused"
        for m in evil:
            if not (isinstance(m, tuple) and m[0] == "first"):
                self.deliver(receive, m.to_bytes() if hasattr(m, "to_bytes") else m, "evil")

    def _rounds(self, attack: dict[str, Callable[..., list[Any]]]) -> Any:
        srv, ev = self.server, self.clients[EVIL]
        nothing: Callable[..., list[Any]] = lambda s, own: [] if own is None else [own]  # noqa: E731
        # Round 0
        adverts = {i: self.honest_call(i, self.clients[i].advertise_keys) for i in self.honest}
        self.adverts = adverts
        own = self.evil_call(ev.advertise_keys)
        self._send(srv.receive_advertise_keys, adverts, attack.get("advertise", nothing)(self, own))
        key_list = srv.key_list().to_bytes()
        in_u1 = set(srv._adverts)
        # Round 1
        shares = {
            i: self.honest_call(i, self.clients[i].share_keys, key_list)
            for i in self.honest
            if i in in_u1
        }
        own = self.evil_call(ev.share_keys, key_list) if EVIL in in_u1 else None
        self._send(srv.receive_share_keys, shares, attack.get("share", nothing)(self, own))
        deliveries = {c: d.to_bytes() for c, d in srv.share_deliveries().items()}
        # Round 2
        masked = {
            i: self.honest_call(i, self.clients[i].masked_input, deliveries[i], self.x[i])
            for i in self.honest
            if i in deliveries
        }
        own = (
            self.evil_call(ev.masked_input, deliveries[EVIL], self.x[EVIL])
            if EVIL in deliveries
            else None
        )
        self._send(srv.receive_masked_input, masked, attack.get("mask", nothing)(self, own))
        # Round 3 (active)
        if self.active:
            req = srv.consistency_request().to_bytes()
            checks = {
                i: self.honest_call(i, self.clients[i].consistency_check, req) for i in masked
            }
            own = self.evil_call(ev.consistency_check, req) if EVIL in srv._u3_set else None
            self._send(
                srv.receive_consistency_check, checks, attack.get("consistency", nothing)(self, own)
            )
        # Round 4
        ureq = srv.unmask_request()
        survivors = set(ureq.survivors)
        responders = set(srv._consistency) if self.active else survivors
        responses = {
            i: self.honest_call(i, self.clients[i].unmask, ureq.to_bytes())
            for i in masked
            if i in responders
        }
        own = self.evil_call(ev.unmask, ureq.to_bytes()) if EVIL in responders else None
        self._send(srv.receive_unmask_response, responses, attack.get("unmask", nothing)(self, own))
        return srv.aggregate()


def _check(session: Session, outcome: Any, *, must_complete: bool) -> None:
    for who, kind in session.rejections:
        assert issubclass(kind, RemoteProtocolError), f"{who}'s message refused as {kind}"
        assert who == "evil", f"an honest message was refused ({who})"
    if isinstance(outcome, Exception):
        assert not must_complete, f"the session aborted: {outcome!r}"
        assert isinstance(outcome, (LocalProtocolError, RemoteProtocolError))
        if isinstance(outcome, RemoteProtocolError):
            assert f"{EVIL}" in str(outcome)  # the error names the culprit
        return
    included = list(outcome.included)
    assert set(session.honest) <= set(included), "an honest client was left out"
    expected = session.x[included].sum(axis=0) & np.uint64((1 << K) - 1)
    np.testing.assert_array_equal(outcome.aggregate, expected)


# --------------------------------------------------------------------------- attacks


def _advert_with(**changes: Any) -> Callable[..., list[Any]]:
    def attack(s: Session, own: AdvertiseKeys) -> list[Any]:
        return [s.resign(dataclasses.replace(own, **changes))]

    return attack


def _copy_key(s: Session, own: AdvertiseKeys) -> list[Any]:
    # Delivered after client 0's advertisement, with client 0's encryption key.
    return [s.resign(dataclasses.replace(own, enc_public=s.adverts[0].enc_public))]


def _impersonate(s: Session, own: AdvertiseKeys) -> list[Any]:
    # Claims to be client 0, before client 0's own message arrives.
    fake = s.resign(dataclasses.replace(own, sender=0))
    return [("first", fake.to_bytes())]


def _garbage(s: Session, own: Any) -> list[Any]:
    good = own.to_bytes() if own is not None else b""
    rnd = os.urandom(96)
    out: list[Any] = [rnd, b"FCRY" + rnd, good[:-1], good + b"\x00", good[:40]]
    if good:
        flipped = bytearray(good)
        flipped[len(good) // 2] ^= 0xFF
        out.append(bytes(flipped))
    return [*out, own] if own is not None else out


def _twice(s: Session, own: Any) -> list[Any]:
    return [own, own] if own is not None else []


def _drop(s: Session, own: Any) -> list[Any]:
    return []


def _bad_signature(s: Session, own: Any) -> list[Any]:
    return [dataclasses.replace(own, signature=bytes(64)), dataclasses.replace(own, signature=b"")]


def _other_session(s: Session, own: Any) -> list[Any]:
    return [dataclasses.replace(own, session_id=os.urandom(32))]


def _late_advert(s: Session, own: Any) -> list[Any]:
    # Its round-0 message again, in round 1 (out of order), then its real message.
    return [s.server._adverts[EVIL], own] if own is not None else []


def _share_cts(
    fn: Callable[[Session, list[tuple[int, bytes]]], list[tuple[int, bytes]]],
) -> Callable[..., list[Any]]:
    def attack(s: Session, own: ShareKeys) -> list[Any]:
        return [s.resign(dataclasses.replace(own, ciphertexts=tuple(fn(s, list(own.ciphertexts)))))]

    return attack


def _random_ct(cts: list[tuple[int, bytes]], which: slice) -> list[tuple[int, bytes]]:
    out = list(cts)
    for k in range(len(out))[which]:
        out[k] = (out[k][0], os.urandom(len(out[k][1])))
    return out


def _evil_plaintext(s: Session, own: ShareKeys, make: Callable[[int, bytes], bytes]) -> list[Any]:
    """Re-encrypt the attacker's ciphertext to its first holder with a chosen plaintext."""
    ev = s.clients[EVIL]
    cts = list(own.ciphertexts)
    v, _ = cts[0]
    key = ev._gcm_keys[v]
    key_share, mask_share = ev._own_shares  # any valid-looking share bytes to start from
    body = key_share.split_id + key_share.data + mask_share.split_id + mask_share.data
    pt = make(v, body)
    cts[0] = (v, encrypt_share(key, pt, session_id=s.cfg.session_id, sender=EVIL, receiver=v))
    return [s.resign(dataclasses.replace(own, ciphertexts=tuple(cts)))]


def _wrong_parties(s: Session, own: ShareKeys) -> list[Any]:
    return _evil_plaintext(
        s, own, lambda v, body: (v).to_bytes(4, "big") + EVIL.to_bytes(4, "big") + body
    )


def _out_of_field_share(s: Session, own: ShareKeys) -> list[Any]:
    def make(v: int, body: bytes) -> bytes:
        return EVIL.to_bytes(4, "big") + v.to_bytes(4, "big") + body[:16] + b"\xff" * 44 + body[60:]

    return _evil_plaintext(s, own, make)


def _inconsistent_share(s: Session, own: ShareKeys) -> list[Any]:
    # A well-formed share of a different polynomial for one holder: decrypts fine, and
    # only the reconstruction can notice.
    def make(v: int, body: bytes) -> bytes:
        data = bytearray(body)
        for off in (16, 76):  # first field element of each share
            data[off : off + 4] = (int.from_bytes(data[off : off + 4], "big") ^ 1).to_bytes(
                4, "big"
            )
        return EVIL.to_bytes(4, "big") + v.to_bytes(4, "big") + bytes(data)

    return _evil_plaintext(s, own, make)


def _early_share(s: Session, own: ShareKeys) -> list[Any]:
    # Its ShareKeys held back, and a masked-input-shaped message sent too early instead.
    fake = MaskedInput(s.cfg.session_id, EVIL, K, np.zeros(L, dtype=np.uint64))
    return [s.resign(fake)]


def _masked_with(**changes: Any) -> Callable[..., list[Any]]:
    def attack(s: Session, own: MaskedInput) -> list[Any]:
        return [s.resign(dataclasses.replace(own, **changes)), own]

    return attack


def _out_of_range_input(s: Session, own: MaskedInput) -> list[Any]:
    good = bytearray(own.to_bytes())
    # The first entry is right after envelope (32) + sid (32) + sender (4) + k (1) + len (4).
    good[32 + 32 + 9] = 0xFF
    return [bytes(good), own]


def _impersonate_masked(s: Session, own: MaskedInput) -> list[Any]:
    return [("first", s.resign(dataclasses.replace(own, sender=0)).to_bytes()), own]


def _consistency_other_u3(s: Session, own: ConsistencyCheck) -> list[Any]:
    u3 = tuple(sorted(s.server._u3))
    sig = sign(s.signing[EVIL], consistency_transcript(s.cfg.session_id, EVIL, u3[1:]))
    return [dataclasses.replace(own, signature=sig), own]


def _response_with(
    fn: Callable[[Session, UnmaskResponse], UnmaskResponse], *, then_own: bool = False
) -> Callable[..., list[Any]]:
    def attack(s: Session, own: UnmaskResponse) -> list[Any]:
        bad = s.resign(fn(s, own))
        return [bad, own] if then_own else [bad]

    return attack


def _corrupt(items: tuple[tuple[int, bytes], ...], how: str) -> tuple[tuple[int, bytes], ...]:
    out = []
    for o, raw in items:
        if how == "field":
            raw = raw[:16] + b"\xff\xff\xff\xff" + raw[20:]
        elif how == "values":  # in the field, but wrong
            raw = raw[:16] + bytes(44)
        elif how == "short":
            raw = raw[:-1]
        out.append((o, raw))
    return tuple(out)


def _unrequested(s: Session, own: UnmaskResponse) -> UnmaskResponse:
    return dataclasses.replace(own, key_shares=own.key_shares + own.mask_shares[:1])


def _duplicate_owner(s: Session, own: UnmaskResponse) -> UnmaskResponse:
    return dataclasses.replace(own, mask_shares=own.mask_shares + own.mask_shares[:1])


def _not_holder(s: Session, own: UnmaskResponse) -> UnmaskResponse:
    # A share for a survivor whose holders do not include the attacker (SecAgg+), or for
    # an unregistered owner otherwise: both are refused.
    held = {o for o, _ in own.mask_shares}
    others = [o for o in s.server._unmask.survivors if o not in held and o != EVIL]
    owner = others[0] if others else 999
    raw = own.mask_shares[0][1] if own.mask_shares else bytes(60)
    return dataclasses.replace(own, mask_shares=own.mask_shares + ((owner, raw),))


# name -> (round hooks, must_complete, modes it applies to)
ALL = ("plain", "active", "secagg+")
ATTACKS: dict[str, tuple[dict[str, Callable[..., list[Any]]], bool, tuple[str, ...]]] = {
    **{
        f"advertise_low_order_enc_{k}": (
            {"advertise": _advert_with(enc_public=_u(u))},
            True,
            ALL,
        )
        for k, u in enumerate(LOW_ORDER)
    },
    **{
        f"advertise_low_order_mask_{k}": (
            {"advertise": _advert_with(mask_public=_u(u))},
            True,
            ALL,
        )
        for k, u in enumerate(LOW_ORDER)
    },
    **{
        f"advertise_non_canonical_{k}": (
            {"advertise": _advert_with(mask_public=_u(u))},
            True,
            ALL,
        )
        for k, u in enumerate(NON_CANONICAL)
    },
    "advertise_same_key_twice": (
        {
            "advertise": lambda s, own: [
                s.resign(dataclasses.replace(own, mask_public=own.enc_public))
            ]
        },
        True,
        ALL,
    ),
    "advertise_copies_another_clients_key": ({"advertise": _copy_key}, True, ALL),
    "advertise_garbage_and_truncated": ({"advertise": _garbage}, True, ALL),
    "advertise_replayed": ({"advertise": _twice}, True, ALL),
    "advertise_other_session": ({"advertise": _other_session}, True, ALL),
    "advertise_unregistered_id": ({"advertise": _advert_with(sender=999)}, True, ALL),
    "advertise_duplicate_id": (
        {"advertise": lambda s, own: [s.resign(dataclasses.replace(own, sender=0))]},
        True,
        ALL,
    ),
    "advertise_bad_signature": ({"advertise": _bad_signature}, True, ("active",)),
    "advertise_impersonates_client_0": ({"advertise": _impersonate}, True, ("active",)),
    "share_one_garbage_ciphertext": (
        {"share": _share_cts(lambda s, c: _random_ct(c, slice(0, 1)))},
        True,
        ALL,
    ),
    "share_all_garbage_ciphertexts": (
        {"share": _share_cts(lambda s, c: _random_ct(c, slice(None)))},
        False,  # nobody holds its shares: the round aborts naming it
        ALL,
    ),
    "share_short_ciphertexts": (
        {"share": _share_cts(lambda s, c: [(v, ct[:100]) for v, ct in c])},
        True,
        ALL,
    ),
    "share_long_ciphertexts": (
        {"share": _share_cts(lambda s, c: [(v, ct + b"\x00") for v, ct in c])},
        True,
        ALL,
    ),
    "share_misses_a_holder": ({"share": _share_cts(lambda s, c: c[1:])}, True, ALL),
    "share_duplicate_receiver": ({"share": _share_cts(lambda s, c: c + c[:1])}, True, ALL),
    "share_extra_receiver": (
        {"share": _share_cts(lambda s, c: [*c, (999, c[0][1])])},
        True,
        ALL,
    ),
    "share_plaintext_names_wrong_parties": ({"share": _wrong_parties}, True, ALL),
    "share_out_of_field_share": ({"share": _out_of_field_share}, True, ALL),
    "share_inconsistent_share": ({"share": _inconsistent_share}, True, ALL),
    "share_garbage_and_truncated": ({"share": _garbage}, True, ALL),
    "share_replayed": ({"share": _twice}, True, ALL),
    "share_round0_message_late": ({"share": _late_advert}, True, ALL),
    "share_masked_input_early": ({"share": _early_share}, True, ALL),
    "share_bad_signature": ({"share": _bad_signature}, True, ("active",)),
    "mask_short_vector": ({"mask": _masked_with(vector=np.zeros(L - 1, np.uint64))}, True, ALL),
    "mask_wrong_modulus": (
        {"mask": _masked_with(modulus_bits=K - 1, vector=np.zeros(L, np.uint64))},
        True,
        ALL,
    ),
    "mask_out_of_range_entry": ({"mask": _out_of_range_input}, True, ALL),
    "mask_garbage_and_truncated": ({"mask": _garbage}, True, ALL),
    "mask_replayed": ({"mask": _twice}, True, ALL),
    "mask_dropped": ({"mask": _drop}, True, ALL),
    "mask_bad_signature": ({"mask": _bad_signature}, True, ("active",)),
    "mask_impersonates_client_0": ({"mask": _impersonate_masked}, True, ("active",)),
    "consistency_bad_signature": ({"consistency": _bad_signature}, True, ("active",)),
    "consistency_signs_other_u3": ({"consistency": _consistency_other_u3}, True, ("active",)),
    "consistency_garbage": ({"consistency": _garbage}, True, ("active",)),
    "consistency_replayed": ({"consistency": _twice}, True, ("active",)),
    "unmask_share_outside_field": (
        {
            "unmask": _response_with(
                lambda s, r: dataclasses.replace(r, mask_shares=_corrupt(r.mask_shares, "field"))
            )
        },
        True,
        ALL,
    ),
    "unmask_short_shares": (
        {
            "unmask": _response_with(
                lambda s, r: dataclasses.replace(r, mask_shares=_corrupt(r.mask_shares, "short"))
            )
        },
        True,
        ALL,
    ),
    "unmask_wrong_share_values": (
        {
            "unmask": _response_with(
                lambda s, r: dataclasses.replace(
                    r,
                    mask_shares=_corrupt(r.mask_shares, "values"),
                    key_shares=_corrupt(r.key_shares, "values"),
                )
            )
        },
        True,
        ALL,
    ),
    "unmask_unrequested_share": ({"unmask": _response_with(_unrequested)}, True, ALL),
    "unmask_duplicate_owner": ({"unmask": _response_with(_duplicate_owner)}, True, ALL),
    "unmask_share_it_cannot_hold": ({"unmask": _response_with(_not_holder)}, True, ALL),
    "unmask_garbage_and_truncated": ({"unmask": _garbage}, True, ALL),
    "unmask_replayed": ({"unmask": _twice}, True, ALL),
    "unmask_empty_response": (
        {
            "unmask": _response_with(
                lambda s, r: dataclasses.replace(r, mask_shares=(), key_shares=())
            )
        },
        True,
        ALL,
    ),
    "unmask_bad_signature": ({"unmask": _bad_signature}, True, ("active",)),
}
# In every round at once: the worst a single client can do without naming itself.
ATTACKS["every_round_garbage"] = (
    {r: _garbage for r in ("advertise", "share", "mask", "consistency", "unmask")},
    True,
    ALL,
)
# Drops after ShareKeys with a bad share dealt to one holder: recovery of its mask key
# must still work from the other holders.
ATTACKS["drops_after_dealing_one_bad_share"] = (
    {"share": _inconsistent_share, "mask": _drop},
    True,
    ALL,
)

CASES = [
    pytest.param(mode, name, id=f"{mode}-{name}")
    for name, (_, _, modes) in ATTACKS.items()
    for mode in modes
]


@pytest.mark.parametrize(("mode", "name"), CASES)
def test_one_malicious_client(mode: str, name: str) -> None:
    hooks, must_complete, _ = ATTACKS[name]
    seed = sum(map(ord, mode + name)) % 251
    session = Session(mode, seed)
    outcome = session.run(hooks)
    _check(session, outcome, must_complete=must_complete)


@pytest.mark.parametrize("mode", list(MODES))
def test_honest_session_baseline(mode: str) -> None:
    session = Session(mode, 7)
    outcome = session.run({})
    _check(session, outcome, must_complete=True)
    assert EVIL in outcome.included and not session.rejections


def test_invalid_keys_never_reach_honest_clients() -> None:
    """Finding 8.2: a low-order X25519 key in AdvertiseKeys used to enter U1, and every
    honest client then failed at ShareKeys.  Now the server refuses it in round 0."""
    from fedcrypto.exceptions import InvalidGroupElementError

    for u in LOW_ORDER:
        session = Session("plain", 3)
        for i in session.honest:
            session.server.receive_advertise_keys(session.clients[i].advertise_keys().to_bytes())
        bad = dataclasses.replace(session.clients[EVIL].advertise_keys(), enc_public=_u(u))
        with pytest.raises(InvalidGroupElementError):
            session.server.receive_advertise_keys(bad.to_bytes())
        key_list = session.server.key_list()
        assert EVIL not in {e.sender for e in key_list.entries}
        for i in session.honest:
            session.clients[i].share_keys(key_list.to_bytes())  # no honest client fails
