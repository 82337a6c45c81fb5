"""pushrelay: a federated, privacy-preserving push relay for decentralized messengers."""

__version__ = "0.1.0"
