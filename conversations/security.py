"""WebSocket origin check.

Browsers always send ``Origin`` on a WebSocket handshake, so a cross-site page riding
the session cookie is stopped here. Clients without ``Origin`` are not browsers and
must authenticate with a token, which a foreign page does not have.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def origin_allowed(origin: str) -> bool:
    if origin in settings.CORS_ALLOWED_ORIGINS:
        return True
    netloc = urlsplit(origin).netloc.rsplit("@", 1)[-1]
    # ALLOWED_HOSTS name hosts without ports, and pages are served from a port
    # ("http://127.0.0.1:8000"), so only the domain part is compared.
    domain, _port = split_domain_port(netloc)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


class OriginValidator:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        for name, value in scope.get("headers", []):
            if name == b"origin" and not origin_allowed(value.decode("latin1")):
                return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)
