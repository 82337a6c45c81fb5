"""Every protocol's store module, so tools that walk all tables (key rotation) see their sealed columns.

A protocol's tables register their sealed columns in `schema.SEALED_COLUMNS` when their
module is imported; importing them here makes that independent of which protocols are mounted.
"""

from __future__ import annotations

import importlib

PROTOCOL_STORE_MODULES = ("pushrelay.store.chatsecure", "pushrelay.store.status", "pushrelay.store.xmpp")


def load() -> None:
    for name in PROTOCOL_STORE_MODULES:
        importlib.import_module(name)
