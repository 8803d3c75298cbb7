"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

from __future__ import annotations

import gc
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - needs Django set up
from django.conf import settings  # noqa: E402

from conversations.recovery import Lifespan  # noqa: E402
from conversations.security import OriginValidator  # noqa: E402
from counseling.routing import websocket_urlpatterns as counseling_ws  # noqa: E402


def _close_oversized_frames_with_1009() -> None:
    """Frames over ``WS_MAX_FRAME_BYTES`` close the socket with 1009, however daphne is started.

    daphne's own cap defaults to 1 MiB (``--websocket-max-message-size``); it is lowered
    to the setting here, so the limit has one source. daphne enforces it by dropping TCP,
    which clients see as 1006: Autobahn sends 1009 itself once ``failByDrop`` is off
    (applications may not send 1009).
    """
    from daphne.ws_protocol import WebSocketFactory

    reset, set_options = WebSocketFactory.resetProtocolOptions, WebSocketFactory.setProtocolOptions
    if getattr(reset, "closes_cleanly", False):
        return

    def reset_and_close_cleanly(factory: WebSocketFactory) -> None:
        reset(factory)
        factory.failByDrop = False

    def set_capped_options(factory: WebSocketFactory, **options: Any) -> None:
        cap = settings.WS_MAX_FRAME_BYTES
        for name in ("maxMessagePayloadSize", "maxFramePayloadSize"):
            if name in options:
                options[name] = min(options[name] or cap, cap)  # Autobahn's 0 means no limit
        set_options(factory, **options)

    reset_and_close_cleanly.closes_cleanly = True  # type: ignore[attr-defined]
    WebSocketFactory.resetProtocolOptions = reset_and_close_cleanly  # type: ignore[method-assign]
    WebSocketFactory.setProtocolOptions = set_capped_options  # type: ignore[method-assign]


_close_oversized_frames_with_1009()

http_app = django_asgi_app
if settings.SERVE_STATIC:
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    http_app = ASGIStaticFilesHandler(django_asgi_app)

# Consumers authenticate after accepting (conversations.auth.socket_user), so the
# handshake itself never waits on the database.
application = Lifespan(
    ProtocolTypeRouter(
        {
            "http": http_app,
            "websocket": OriginValidator(URLRouter([*counseling_ws])),
        }
    )
)

# The crisis screen's analyser takes about 2 s to build and run once: done now, before
# the first user message, and frozen with the rest below.
from conversations.safety import kiwi_warm  # noqa: E402

kiwi_warm()

# Everything loaded so far lives as long as the process. Frozen, the collector's full
# passes skip it: they took about 70 ms each with it, a pause every live stream felt.
gc.freeze()
