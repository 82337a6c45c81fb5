"""`Retry-After`, as APNs and FCM send it: delay seconds or an HTTP date."""

from __future__ import annotations

import email.utils
import time


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait, from a `Retry-After` header in seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))
