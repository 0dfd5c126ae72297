"""Signatures as the Standard Webhooks specification has them (standardwebhooks.com), with
its reference library: a receiver verifies with any of the specification's libraries."""

import base64
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh key: the specification asks for 24 to 64 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def headers(secret: str, message_id: str, sent_at: datetime, body: bytes) -> dict[str, str]:
    """The three headers of one attempt; the timestamp is the attempt's, so a receiver can
    refuse a replayed old request."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, sent_at, body),
    }
