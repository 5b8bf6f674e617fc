"""``fedcrypto psi``: the standalone PSI tool (:mod:`fedcrypto.cli.psi_tool`), registered here."""

from __future__ import annotations

from .psi_tool import build_psi_parser, register

__all__ = ["register", "build_psi_parser"]
