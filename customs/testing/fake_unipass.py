"""A fake of UNI-PASS's cargo clearance progress XML service, on loopback, for tests.

Answers ``GET /ext/rest/cargCsclPrgsInfoQry/retrieveCargCsclPrgsInfo`` like the real
service: ``tCnt`` and ``ntceInfo``, one ``cargCsclPrgsInfoQryVo`` summary and one
``cargCsclPrgsInfoDtlQryVo`` per processing step. Stdlib only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

PATH = "/ext/rest/cargCsclPrgsInfoQry/retrieveCargCsclPrgsInfo"


@dataclass
class FakeCargo:
    summary: dict[str, str]  # cargMtNo, prgsStts, csclPrgsStts, prnm, mblNo, hblNo, …
    steps: list[dict[str, str]] = field(default_factory=list)  # cargTrcnRelaBsopTpcd, prcsDttm, shedNm, …


def _xml(count: int, notice: str, cargo: FakeCargo | None) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', "<cargCsclPrgsInfoQryRtnVo>",
             f"<tCnt>{count}</tCnt>", f"<ntceInfo>{escape(notice)}</ntceInfo>"]
    if cargo is not None:
        parts.append("<cargCsclPrgsInfoQryVo>")
        parts += [f"<{k}>{escape(v)}</{k}>" for k, v in cargo.summary.items()]
        parts.append("</cargCsclPrgsInfoQryVo>")
        for step in cargo.steps:
            parts.append("<cargCsclPrgsInfoDtlQryVo>")
            parts += [f"<{k}>{escape(v)}</{k}>" for k, v in step.items()]
            parts.append("</cargCsclPrgsInfoDtlQryVo>")
    parts.append("</cargCsclPrgsInfoQryRtnVo>")
    return "".join(parts).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, fmt: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        fake._record(query)
        if fake.delay:
            time.sleep(fake.delay)
        if parts.path != PATH:
            self._send(404, b"not found", "text/plain")
            return
        if fake.status != 200:
            self._send(fake.status, b"<error/>", "application/xml")
            return
        if query.get("crkyCn") != fake.api_key:
            self._send(200, _xml(0, "[N00] 인증키가 유효하지 않습니다.", None), "application/xml;charset=UTF-8")
            return
        cargo = None
        for name in ("cargMtNo", "mblNo", "hblNo"):
            number = query.get(name)
            if number:
                cargo = fake.cargo.get((name, number, query.get("blYy", "")))
        if cargo is None:
            body = _xml(0, "[N00] 조회결과가 없습니다.", None)
        else:
            body = _xml(1, "", cargo)
        self._send(200, body, "application/xml;charset=UTF-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeUnipass) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # clients that time out and hang up are what the timeout tests do


class FakeUnipass:
    def __init__(self, *, api_key: str = "test-unipass-key") -> None:
        self.api_key = api_key
        # (query field, number, blYy or "") -> cargo
        self.cargo: dict[tuple[str, str, str], FakeCargo] = {}
        self.delay = 0.0
        self.status = 200
        self.requests: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None

    def add(self, field_name: str, number: str, cargo: FakeCargo, *, year: str = "") -> None:
        self.cargo[(field_name, number, year)] = cargo

    def _record(self, query: dict[str, str]) -> None:
        with self._lock:
            self.requests.append(query)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/ext/rest"

    def __enter__(self) -> Self:
        self._server = _Server(self)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
