"""Stateless nodes: sealed, tamper-evident, and bound to the server key."""

from __future__ import annotations

from pushrelay.domain import AppId, Platform
from pushrelay.protocols.xmpp.stateless import SealedRegistration, StatelessNodes
from pushrelay.secrets import Keyring

REGISTRATION = SealedRegistration(
    AppId("conversations"), "conversations", Platform.FCM, "TOKEN", "example.org", "acct", None, "key"
)


def test_a_sealed_node_opens_to_the_same_registration() -> None:
    nodes = StatelessNodes(Keyring.generate())
    assert nodes.open(nodes.seal(REGISTRATION)) == REGISTRATION


def test_an_altered_node_does_not_open() -> None:
    """p2's stateless idea only works if a node cannot be forged: AES-GCM refuses any change."""
    nodes = StatelessNodes(Keyring.generate())
    node = nodes.seal(REGISTRATION)
    altered = node[:-3] + ("A" if node[-3] != "A" else "B") + node[-2:]
    assert nodes.open(altered) is None
    assert nodes.open("s.not-base64!") is None
    assert nodes.open("plain-node") is None


def test_another_servers_node_does_not_open() -> None:
    assert (
        StatelessNodes(Keyring.generate()).open(StatelessNodes(Keyring.generate()).seal(REGISTRATION)) is None
    )


def test_the_node_does_not_show_the_token() -> None:
    nodes = StatelessNodes(Keyring.generate())
    assert "TOKEN" not in nodes.seal(REGISTRATION)
    assert nodes.secret(nodes.seal(REGISTRATION)) != nodes.secret(nodes.seal(REGISTRATION))
