"""`ApplicationMetadataMessage`: the signed envelope around every Status application message.

The signature is over Keccak-256 of the payload; the sender is the key it recovers to
(status-go `WrapMessageV1`, `HandleApplicationLayer`). The message id that the server
de-duplicates on and echoes in query responses is `Keccak256(uncompressed sender || envelope)`
(`protocol/v1/message.go: MessageID`, 65-byte key despite its comment).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import cast

from google.protobuf.message import DecodeError

from pushrelay.errors import BadRequest
from pushrelay.protocols.status import crypto
from pushrelay.protocols.status.proto.application_metadata_message_pb2 import ApplicationMetadataMessage


class MessageType(enum.IntEnum):
    """`ApplicationMetadataMessage.Type` values of the push notification protocol (§1.1)."""

    CONTACT_CODE_ADVERTISEMENT = 15
    PUSH_NOTIFICATION_REGISTRATION = 16
    PUSH_NOTIFICATION_REGISTRATION_RESPONSE = 17
    PUSH_NOTIFICATION_QUERY = 18
    PUSH_NOTIFICATION_QUERY_RESPONSE = 19
    PUSH_NOTIFICATION_REQUEST = 20
    PUSH_NOTIFICATION_RESPONSE = 21


@dataclass(frozen=True, slots=True)
class Envelope:
    """A verified envelope: who sent it, what type, the inner payload and the message id."""

    type: int
    payload: bytes
    sender: bytes
    """The sender's compressed public key, recovered from the signature."""
    message_id: bytes


def wrap(payload: bytes, message_type: MessageType, signer: crypto.Identity) -> bytes:
    """Sign `payload` and serialize the envelope, as status-go's `WrapMessageV1`."""
    message = ApplicationMetadataMessage(
        signature=signer.sign(crypto.keccak256(payload)),
        payload=payload,
        type=cast("ApplicationMetadataMessage.Type", message_type.value),
    )
    return message.SerializeToString()


def unwrap(data: bytes) -> Envelope:
    """Parse an envelope and recover its sender; raises BadRequest if either fails."""
    message = ApplicationMetadataMessage()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise BadRequest("not an ApplicationMetadataMessage") from exc
    sender, uncompressed = crypto.recover_both(crypto.keccak256(message.payload), message.signature)
    return Envelope(
        type=message.type,
        payload=message.payload,
        sender=sender,
        message_id=crypto.keccak256(uncompressed + data),
    )
