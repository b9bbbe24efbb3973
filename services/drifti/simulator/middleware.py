"""Drifti's request gate: the shared one in ``services.restsim.api_gate`` with realm ``drifti``."""

from __future__ import annotations

from fastapi import FastAPI

from services.drifti.simulator.state import SimState
from services.restsim.api_gate import API_PREFIX, bearer_key
from services.restsim.api_gate import install_api_gate as install_shared_gate

__all__ = ["API_PREFIX", "bearer_key", "install_api_gate"]


def install_api_gate(app: FastAPI, state: SimState) -> None:
    install_shared_gate(app, state.tenant_for_key, realm="drifti")
