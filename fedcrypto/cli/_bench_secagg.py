"""Secure aggregation: a simulated Bonawitz round with dropouts, checked against the plaintext sum.

Float updates are quantized into ``Z_{2^k}`` (clipping, stochastic rounding, headroom
check), aggregated by a full in-process round (every message serialized), and the
unmasked aggregate is compared with the plaintext sum of exactly the included
clients.  Prints server and per-client computation time, bytes per client against
the raw input size, and a Shamir split/combine timing.  Defaults run in a few
seconds; ``--clients 500 --length 100000`` is the paper-scale configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from .._backend import default_threads
from .._random import VectorRNG
from ..exceptions import FedCryptoError
from ..scale import process_executor
from ..secagg import Quantizer, secagg_plus_parameters, simulate_round
from ..sharing import shamir_combine, shamir_split

__all__ = ["add_arguments", "run", "demo_round", "DemoResult"]

#: Mask words the server regenerates above which a process pool pays for its start-up.
_POOL_MIN_WORDS = 1 << 25


def _recovery_executor(
    clients: int, length: int, dropout: float
) -> contextlib.AbstractContextManager[Executor | None]:
    """The local process pool (:func:`fedcrypto.scale.process_executor`) for the server's
    mask recovery when the round is big
    enough (about ``clients x dropped`` pairwise masks to regenerate), else ``None``
    (inline).  The server forks nothing itself: the CLI owns the processes."""
    dropped = int(round(dropout * clients))
    words = (clients + dropped * clients) * length
    if words < _POOL_MIN_WORDS or default_threads() < 2:
        return contextlib.nullcontext(None)
    return process_executor()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fedcrypto bench secagg``."""
    parser.add_argument("--clients", type=int, default=50, help="number of clients (default 50)")
    parser.add_argument("--length", type=int, default=10_000, help="vector length (default 10000)")
    parser.add_argument(
        "--dropout",
        type=float,
        default=0.1,
        help="fraction of clients dropping after ShareKeys (default 0.1)",
    )
    parser.add_argument(
        "--late-dropout",
        type=float,
        default=0.04,
        help="fraction of survivors dropping before unmasking (default 0.04)",
    )
    parser.add_argument("--modulus-bits", type=int, default=32, help="k in Z_2^k (default 32)")
    parser.add_argument("--threshold", type=int, default=None, help="t (default: n // 2 + 1)")
    parser.add_argument("--active", action="store_true", help="active variant (signatures)")
    parser.add_argument(
        "--neighbors",
        default=None,
        help="SecAgg+ degree, or 'auto' for the documented rule (default: Bonawitz, all pairs)",
    )
    parser.add_argument("--clip", type=float, default=1.0, help="quantization clip (default 1.0)")


@dataclass(frozen=True)
class DemoResult:
    """Summary of one demonstration round."""

    clients: int
    included: int
    length: int
    exact: bool
    max_float_error: float
    server_seconds: float
    client_mean_seconds: float
    client_max_seconds: float
    bytes_sent_per_client: float
    bytes_received_per_client: float
    raw_input_bytes: float
    wall_seconds: float

    def lines(self) -> list[str]:
        """Human-readable report lines."""
        expansion = self.bytes_sent_per_client / self.raw_input_bytes
        return [
            f"clients {self.clients}, included {self.included}, vector length {self.length}",
            "aggregate == plaintext sum of the included clients: "
            f"{'OK' if self.exact else 'MISMATCH'}"
            f" (float reconstruction max error {self.max_float_error:.2e})",
            f"server computation {self.server_seconds:.3f} s; client computation mean "
            f"{self.client_mean_seconds:.3f} s, max {self.client_max_seconds:.3f} s; "
            f"wall {self.wall_seconds:.2f} s",
            f"bytes per client: sent {self.bytes_sent_per_client:,.0f}, received "
            f"{self.bytes_received_per_client:,.0f}; upload expansion vs raw input "
            f"{expansion:.3f}x",
        ]


def demo_round(
    *,
    clients: int = 50,
    length: int = 10_000,
    dropout: float = 0.1,
    late_dropout: float = 0.04,
    modulus_bits: int = 32,
    threshold: int | None = None,
    active: bool = False,
    neighbors: int | None = None,
    clip: float = 1.0,
    executor: Executor | None = None,
) -> DemoResult:
    """Quantize random float updates, run a simulated round with dropouts, check the result.

    ``executor``: where the server regenerates masks (``None``: inline).
    """

    rng = VectorRNG()
    updates = (rng.uniform(clients * length).reshape(clients, length) * 2.0 - 1.0) * clip
    q = Quantizer.for_clients(clip=clip, modulus_bits=modulus_bits, num_clients=clients)
    ints = np.stack([q.quantize(u, rng=rng) for u in updates])
    n_drop = int(round(dropout * clients))
    dropped = list(range(0, clients, max(1, clients // n_drop)))[:n_drop] if n_drop else []
    rest = [c for c in range(clients) if c not in dropped]
    n_late = int(round(late_dropout * len(rest)))
    late = rest[1 :: max(1, len(rest) // n_late)][:n_late] if n_late else []
    t = threshold if threshold is not None else clients // 2 + 1
    t0 = time.perf_counter()
    rep = simulate_round(
        ints,
        threshold=t,
        dropouts={"masked_input": dropped, "unmasking": late},
        modulus_bits=modulus_bits,
        active=active,
        neighbors=neighbors,
        executor=executor,
    )
    wall = time.perf_counter() - t0
    inc = rep.included
    with np.errstate(over="ignore"):
        plain = ints[inc].sum(axis=0, dtype=np.uint64)
    if modulus_bits < 64:
        plain &= np.uint64((1 << modulus_bits) - 1)
    exact = bool(np.array_equal(plain, rep.aggregate))
    approx = q.dequantize(rep.aggregate, count=len(inc))
    err = float(np.max(np.abs(approx - np.clip(updates[inc], -clip, clip).sum(axis=0))))
    alive = np.setdiff1d(np.arange(clients), dropped)
    return DemoResult(
        clients=clients,
        included=len(inc),
        length=length,
        exact=exact,
        max_float_error=err,
        server_seconds=rep.server_seconds,
        client_mean_seconds=float(rep.client_seconds[alive].mean()),
        client_max_seconds=float(rep.client_seconds.max()),
        bytes_sent_per_client=float(rep.client_bytes_sent[alive].mean()),
        bytes_received_per_client=float(rep.client_bytes_received[alive].mean()),
        raw_input_bytes=length * modulus_bits / 8,
        wall_seconds=wall,
    )


def _shamir_line() -> str:

    secret = VectorRNG().bytes(32)
    t0 = time.perf_counter()
    for _ in range(20):
        shares = shamir_split(secret, threshold=51, shares=100)
    t1 = time.perf_counter()
    for _ in range(20):
        assert shamir_combine(shares[:51]) == secret
    t2 = time.perf_counter()
    return (
        f"Shamir 32-byte secret, 100 shares, t = 51: split {(t1 - t0) / 20 * 1e3:.3f} ms, "
        f"combine {(t2 - t1) / 20 * 1e3:.3f} ms"
    )


def run(args: argparse.Namespace) -> int:
    """Run the demonstration round and print the report; exit code 0, 1 or 2."""

    if args.clients < 2 or args.length < 1 or not 0 <= args.dropout < 1:
        print("error: need --clients >= 2, --length >= 1 and 0 <= --dropout < 1")
        return 2
    neighbors: int | None
    threshold = args.threshold
    if args.neighbors is None:
        neighbors = None
    elif args.neighbors == "auto":
        neighbors, t_rule = secagg_plus_parameters(args.clients)
        threshold = threshold if threshold is not None else t_rule
    else:
        try:
            neighbors = int(args.neighbors)
        except ValueError:
            print("error: --neighbors takes an even integer or 'auto'")
            return 2
    mode = "active" if args.active else "honest-but-curious"
    graph = f"SecAgg+ degree {neighbors}" if neighbors else "all pairs (Bonawitz)"
    print(f"fedcrypto secure aggregation — {mode}, {graph}, modulus 2^{args.modulus_bits}")
    try:
        pool = _recovery_executor(args.clients, args.length, args.dropout)
    except (OSError, ValueError):  # no processes here: recover inline
        pool = contextlib.nullcontext(None)
    try:
        with pool as executor:
            res = demo_round(
                clients=args.clients,
                length=args.length,
                dropout=args.dropout,
                late_dropout=args.late_dropout,
                modulus_bits=args.modulus_bits,
                threshold=threshold,
                active=args.active,
                neighbors=neighbors,
                clip=args.clip,
                executor=executor,
            )
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}")
        return 2
    except FedCryptoError as exc:
        print(f"protocol error: {exc}")
        return 1
    for line in res.lines():
        print("  " + line)
    print("  " + _shamir_line())
    return 0 if res.exact else 1
