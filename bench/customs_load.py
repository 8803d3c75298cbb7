"""Benchmark: the customs SSE path (POST /api/v1/chat) under 1, 100 and 300 concurrent streams.

Runs the real server (`manage.py serve`, debug off) against the fake OpenAI upstream, started in a
process of its own with ``python -m conversations.testing.fake_openai``. Each request is a
general question, so it takes the full path: rate limit, session, the LLM intent
classifier (the fake answers its JSON at once), the user message committed, the answer
streamed in Anthropic's format. Per request the upstream's own time is taken out:

    added = client time to first text_delta
            - (classifier request: received -> finished, in the fake)
            - (answer request: received -> first chunk written, in the fake)

so what is left is the server's own work (and its queueing under load). Failed requests
(connection errors, HTTP errors, a stream that did not end with ``end_turn``) are counted.
Usage: ``.venv/bin/python -m bench.customs_load --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.ws_ttfc import (
    ISSUE_TOKENS,
    PYTHON,
    ROOT,
    BenchError,
    cache_prefix,
    fresh_database,
    machine_info,
    manage,
    percentile,
    running_server,
    server_env,
)

TARGET_ADDED_P50_MS_AT_100 = 30.0
BENCH_RATE = "1000000/m"  # lifts the 20/minute customs limit; every other limit keeps its value
USERS = 10
CLASSIFIER_MARKER = "intent_type"
CLASSIFIER_REPLY = json.dumps({"intent_type": "regulatory_inquiry", "confidence_score": 0.9, "entities": {}})
USER_TEXT = "FTA 원산지 증명서는 어떻게 발급받나요? 수입신고 때 필요한 서류도 알려주세요."
REPLY = ("FTA 특혜관세를 받으려면 수입물품이 해당 협정의 원산지 기준을 충족해야 하고, 수입신고 때 원산지증명서 등 "
         "협정에서 정한 증빙을 갖춰 협정관세 적용을 신청해야 합니다. 품목의 HS 코드에 따라 기준이 달라지므로 먼저 "
         "HS 코드를 확정하는 것이 좋습니다.")
MARKER = re.compile(r"\[(bench-[0-9a-f]+)\]")
TEXT_DELTA = b'"type":"text_delta"'


# --- the fake upstream, in a process of its own ------------------------------------------------


class FakeUpstream:
    """``python -m conversations.testing.fake_openai`` as a child process."""

    def __init__(self, ttft: float, chunk_delay: float) -> None:
        self.args = ["--port", "0", "--reply", REPLY, "--ttft", str(ttft), "--delay", str(chunk_delay),
                     "--route", f"{CLASSIFIER_MARKER}={CLASSIFIER_REPLY}"]
        self.base_url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> FakeUpstream:
        self._proc = subprocess.Popen([PYTHON, "-m", "conversations.testing.fake_openai", *self.args], cwd=ROOT,
                                      stdout=subprocess.PIPE, text=True, start_new_session=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("http"):
            self.__exit__()
            raise BenchError(f"fake upstream did not start (printed {line!r})")
        self.base_url = line
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None

    def records(self) -> list[dict[str, Any]]:
        root = self.base_url.removesuffix("/v1")
        with urllib.request.urlopen(f"{root}/_fake/requests", timeout=30) as response:
            return list(json.load(response)["requests"])


# --- one stream ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    marker: str
    sent: float
    first_delta: float


async def one_stream(host: str, token: str, limit: float) -> Sample:
    """A minimal HTTP/1.1 client: the cost on the client side stays small and fixed."""
    marker = f"bench-{secrets.token_hex(8)}"
    name, port = host.split(":")
    body = json.dumps({"message": f"{USER_TEXT} [{marker}]"}, ensure_ascii=False).encode()
    head = (f"POST /api/v1/chat HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Accept: text/event-stream\r\nAuthorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    reader, writer = await asyncio.open_connection(name, int(port))
    try:
        sent = time.monotonic()
        writer.write(head + body)
        await writer.drain()
        first: float | None = None
        received = bytearray()
        async with asyncio.timeout(limit):
            while chunk := await reader.read(65536):
                now = time.monotonic()
                tail = bytes(received[-32:])
                received += chunk
                if first is None and TEXT_DELTA in tail + chunk:
                    first = now
        status = bytes(received[:16])
        if not status.startswith(b"HTTP/1.1 200"):
            raise BenchError(f"HTTP {status!r}")
        if b'"stop_reason":"end_turn"' not in received or b"event: message_stop" not in received:
            raise BenchError("stream did not end with end_turn")
        if first is None:
            raise BenchError("no text_delta")
        return Sample(marker, sent, first)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@dataclass(frozen=True)
class LevelResult:
    concurrency: int
    requests: int
    failed: int
    client_p50: float
    client_p99: float
    upstream_p50: float  # classifier call + answer's time to first token, in the fake
    added_p50: float
    added_p99: float
    added_max: float


async def run_level(host: str, tokens: list[str], n: int, rounds: int, warmup: int, ramp: float,
                    limit: float) -> tuple[list[Sample], int]:
    """The platform benchmark's load shape: ``n`` clients starting over ``ramp`` seconds,
    each sending ``warmup`` uncounted requests and then ``rounds`` measured ones, one after
    another."""
    async def client(i: int) -> tuple[list[Sample], int]:
        await asyncio.sleep(ramp * i / n)
        samples, failed = [], 0
        for r in range(warmup + rounds):
            try:
                sample = await one_stream(host, tokens[i % len(tokens)], limit)
            except Exception as exc:  # noqa: BLE001 - a failed request is counted, not fatal
                if r >= warmup:
                    failed += 1
                    print(f"    failed: {exc!r}"[:200], file=sys.stderr)
                continue
            if r >= warmup:
                samples.append(sample)
        return samples, failed

    results = await asyncio.gather(*(client(i) for i in range(n)))
    return [s for samples, _ in results for s in samples], sum(failed for _, failed in results)


def summarise(n: int, samples: list[Sample], failed: int, records: list[dict[str, Any]]) -> LevelResult:
    classifier: dict[str, float] = {}
    answer: dict[str, float] = {}
    for rec in records:
        match = MARKER.search(rec["last_message"])
        if rec["path"] != "/v1/chat/completions" or not match:
            continue
        if rec["first_message"].startswith("You classify"):
            if rec["finished_at"] is not None:
                classifier[match.group(1)] = rec["finished_at"] - rec["received_at"]
        elif rec["first_chunk_at"] is not None:
            answer[match.group(1)] = rec["first_chunk_at"] - rec["received_at"]
    client, upstream, added = [], [], []
    for s in samples:
        if s.marker not in answer:
            raise BenchError(f"no upstream record for {s.marker}")
        own = classifier.get(s.marker, 0.0) + answer[s.marker]
        client.append((s.first_delta - s.sent) * 1000)
        upstream.append(own * 1000)
        added.append(client[-1] - upstream[-1])
    if not samples:
        raise BenchError(f"every request at {n} streams failed")
    return LevelResult(concurrency=n, requests=len(samples) + failed, failed=failed,
                       client_p50=percentile(client, 50), client_p99=percentile(client, 99),
                       upstream_p50=percentile(upstream, 50), added_p50=percentile(added, 50),
                       added_p99=percentile(added, 99), added_max=max(added))


def report(info: dict[str, Any], ttft: float, chunk_delay: float, results: list[LevelResult]) -> str:
    lines = [f"machine: nproc={info['nproc']} cpu={info['cpu'] or '?'} python={info['python']} ({info['platform']})",
             f"server:  manage.py serve, DJANGO_DEBUG=0, database={info['database']}, "
             f"cache={info['cache_and_channel_layer']}, "
             f"CUSTOMS_RATE={BENCH_RATE} (bench override)",
             f"fake upstream (own process): classifier JSON at once; answer ttft={ttft * 1000:.0f} ms, "
             f"{len(REPLY)}-char reply in 2-char chunks {chunk_delay * 1000:g} ms apart",
             "",
             f"{'streams':>7} {'requests':>8} {'failed':>6} | {'client first delta ms':>21} | {'upstream':>8} | "
             f"{'ADDED (server) ms':>23}",
             f"{'':>7} {'':>8} {'':>6} | {'p50':>10} {'p99':>10} | {'p50':>8} | {'p50':>7} {'p99':>7} {'max':>7}"]
    for r in results:
        lines.append(f"{r.concurrency:>7} {r.requests:>8} {r.failed:>6} | {r.client_p50:>10.2f} "
                     f"{r.client_p99:>10.2f} | {r.upstream_p50:>8.2f} | {r.added_p50:>7.2f} {r.added_p99:>7.2f} "
                     f"{r.added_max:>7.2f}")
    at100 = next((r for r in results if r.concurrency == 100), None)
    at300 = next((r for r in results if r.concurrency == 300), None)
    if at100 is not None:
        ok = at100.added_p50 <= TARGET_ADDED_P50_MS_AT_100
        lines.append(f"target at 100 streams: added p50 {at100.added_p50:.2f} <= {TARGET_ADDED_P50_MS_AT_100:.0f} ms "
                     f"{'MET' if ok else 'MISSED'}")
    if at300 is not None:
        lines.append(f"target at 300 streams: failed {at300.failed} == 0 {'MET' if at300.failed == 0 else 'MISSED'}")
    return "\n".join(lines)


@contextlib.contextmanager
def given_database(url: str | None, workdir: Path) -> Iterator[tuple[str, str]]:
    """PostgreSQL: the database named in the URL, used as it is (never created or dropped)."""
    if not url:
        with fresh_database(None, workdir) as found:
            yield found
        return
    if urlsplit(url).scheme not in ("postgres", "postgresql"):
        raise BenchError("--database-url must be a postgres:// URL (omit it for SQLite)")
    import psycopg

    with psycopg.connect(url) as conn:
        version = conn.info.server_version
    yield url, f"PostgreSQL {version // 10000}.{version % 10000}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.customs_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="measured requests per level (default 300)")
    parser.add_argument("--single-requests", type=int, default=50,
                        help="measured requests of the one-stream baseline (default 50: it runs them one by one)")
    parser.add_argument("--concurrency", default="1,100,300", help="comma-separated stream counts")
    parser.add_argument("--ttft", type=float, default=0.3, help="fake answer's time to first token, seconds")
    parser.add_argument("--chunk-delay", type=float, default=0.05, help="fake pause between chunks, seconds")
    parser.add_argument("--ramp", type=float, default=2.0,
                        help="seconds over which a level's clients start (as in bench.load)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-request limit, seconds")
    parser.add_argument("--database-url", help="postgres://… database to use as it is (default: temporary SQLite)")
    parser.add_argument("--redis-url", help="redis://… for cache and limits (default: in-memory)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this path")
    args = parser.parse_args(argv)
    try:
        args.levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    except ValueError:
        parser.error("--concurrency must be comma-separated integers")
    if not args.levels or min(args.levels) < 1 or args.requests < 1:
        parser.error("--concurrency and --requests must be positive")
    return args


async def measure(host: str, tokens: list[str], fake: FakeUpstream, args: argparse.Namespace) -> list[LevelResult]:
    results = []
    for n in args.levels:
        rounds = math.ceil((args.single_requests if n == 1 else args.requests) / n)
        warmup = max(1, math.ceil(5 / n))
        ramp = args.ramp if n > 1 else 0.0
        print(f"... {n} stream(s) ramped over {ramp:g} s: {warmup} warm-up + {rounds} measured request(s) each",
              file=sys.stderr, flush=True)
        samples, failed = await run_level(host, tokens, n, rounds, warmup, ramp, args.timeout)
        records = await asyncio.to_thread(fake.records)
        results.append(summarise(n, samples, failed, records))
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-customs-") as tmp,
            FakeUpstream(args.ttft, args.chunk_delay) as fake,
            given_database(args.database_url, Path(tmp)) as (database_url, db_kind),
            cache_prefix(args.redis_url) as prefix,
        ):
            env = server_env(database_url=database_url, redis_url=args.redis_url, prefix=prefix,
                             base_url=fake.base_url, CUSTOMS_RATE=BENCH_RATE, CUSTOMS_GUEST_RATE=BENCH_RATE)
            print(f"... preparing {db_kind}", file=sys.stderr, flush=True)
            manage(["migrate", "--noinput"], env)
            tokens = _tokens(secrets.token_hex(3), env)
            log = Path(tmp) / "server.log"
            with running_server(env, log) as host:
                results = asyncio.run(measure(host, tokens, fake, args))
            if any(r.failed for r in results):
                kinds = sorted({line for line in log.read_text(errors="replace").splitlines()
                                if re.match(r"^[\w.]+(Error|Exception|Timeout)\b", line)})
                print("server exceptions:\n" + "\n".join(kinds[-10:]), file=sys.stderr)
            info = machine_info(db_kind, args.redis_url)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130
    print(report(info, args.ttft, args.chunk_delay, results))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "levels": [asdict(r) for r in results]}, indent=2))
    return 0


def _tokens(run: str, env: dict[str, str]) -> list[str]:
    """Users of this run only: a PostgreSQL database outlives it."""
    names = [f"bench-customs-{run}-{i}" for i in range(USERS)]
    out = manage(["shell", "-c", ISSUE_TOKENS.format(names=names)], env)
    for line in out.splitlines():
        if line.startswith("TOKENS "):
            return list(json.loads(line.removeprefix("TOKENS ")))
    raise BenchError("issue_token printed no tokens")


if __name__ == "__main__":
    sys.exit(main())
