"""Lists in the envelope both SDKs parse: `{"count", "next", "previous", "results"}`.

SRV at HEAD returned bare arrays (DRF 3.10 ignores its `PAGINATE_BY`), but IOS-SDK
`Deserializer.tokens` requires `results` and AND-SDK reads `response/List.java`; no client
parses a bare array. Pages follow DRF's PageNumberPagination: `?page=N`, absolute links.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request

from pushrelay.domain import JSON
from pushrelay.protocols.chatsecure import wire


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def requested_page(request: Request, size: int) -> Page:
    """The `?page=` asked for; DRF answers a bad one with 404 `Invalid page.`."""
    raw = request.query_params.get("page", "1")
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
        raise wire.detail_error(404, "Invalid page.")
    return Page(int(raw), size)


def envelope(request: Request, page: Page, count: int, results: Sequence[JSON]) -> JSON:
    if page.number > 1 and not results:
        raise wire.detail_error(404, "Invalid page.")
    has_next = page.offset + len(results) < count
    return {
        "count": count,
        "next": _link(request, page.number + 1) if has_next else None,
        "previous": _link(request, page.number - 1) if page.number > 1 else None,
        "results": list(results),
    }


def _link(request: Request, number: int) -> str:
    if number == 1:
        return str(request.url.remove_query_params("page"))
    return str(request.url.include_query_params(page=number))
