"""`no_network`: a fixture under which any attempt to reach the network fails the test.
Import it into a test module (`from tests.network_guard import no_network`) and use it by name
(an argument, or `pytest.mark.usefixtures("no_network")`)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

#: (owner, attribute) of every way a Python library opens a connection or resolves a host
GUARDED: tuple[tuple[Any, str], ...] = (
    (socket.socket, "connect"),
    (socket.socket, "connect_ex"),
    (socket, "create_connection"),
    (socket, "getaddrinfo"),
)


def refusal(name: str) -> Callable[..., Any]:
    """A replacement for `name` that raises AssertionError naming the call and its arguments."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
        raise AssertionError(f"network access attempted: {name}({shown})")
    return refuse


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make socket connections and host lookups raise AssertionError for the test's duration."""
    for owner, attribute in GUARDED:
        owner_name = "socket.socket" if owner is socket.socket else "socket"
        monkeypatch.setattr(owner, attribute, refusal(f"{owner_name}.{attribute}"))
