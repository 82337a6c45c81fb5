"""The ChatSecure Push API v1: a drop-in server for the ChatSecure apps and SDKs (docs/chatsecure.md)."""

from pushrelay.protocols.chatsecure.pruner import ExpiredTokenPruner
from pushrelay.protocols.chatsecure.routes import router

__all__ = ["ExpiredTokenPruner", "router"]
