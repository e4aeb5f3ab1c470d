"""Standard Webhooks signing: the one way Raymon signs what it POSTs (webhook mappers, alert webhooks).

A receiver checks ``webhook-signature`` over ``webhook-id``, ``webhook-timestamp`` and the body
with the shared ``whsec_`` secret (any Standard Webhooks library does). Without a secret the
request goes unsigned but keeps the id and timestamp, so receivers can still deduplicate.
This module never logs or answers a secret.
"""

from __future__ import annotations

from datetime import datetime


class InvalidSecret(ValueError):
    """The secret is no Standard Webhooks key (``whsec_`` + base64)."""


def signed_headers(secret: str | None, message_id: str, sent_at: datetime, body: bytes) -> dict[str, str]:
    """``content-type``, ``webhook-id``, ``webhook-timestamp`` and, with a secret, ``webhook-signature``."""
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
    }
    if secret:
        from standardwebhooks import Webhook

        try:
            signer = Webhook(secret)
        except Exception:  # the library raises plain errors for a malformed key
            raise InvalidSecret("the webhook secret is not a valid whsec_ key") from None
        headers["webhook-signature"] = signer.sign(message_id, sent_at, body.decode())
    return headers
