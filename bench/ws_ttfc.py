"""Benchmark: the server's added time to first chunk on the counseling WebSocket.

Runs the real server (`manage.py serve`, debug off) against the fake OpenAI upstream and, per
request, takes the upstream's own time to first token out of what the client saw:

    added = client_ttfc - (fake.first_chunk_at - fake.received_at)
          = (fake.received_at - sent) + (first chunk received - fake.first_chunk_at)

(fake.received_at: the request's first line read, before the fake parses it.)

The fake runs in a child process of its own, so it does not compete with the client for
one GIL (a real upstream is another machine); time.monotonic() is system-wide on Linux,
so the instants taken in either process compare directly. It paces its chunks like a
fast model (--chunk-delay, 10 ms): sent all at once, they keep a core busy exactly when
the first chunk crosses the server and the client, CPU a remote upstream never takes.
Usage: ``.venv/bin/python -m bench.ws_ttfc --help`` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import platform
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from conversations.testing.fake_openai import Behaviour, FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

TARGET_P50_MS = 5.0
TARGET_P99_MS = 20.0
# The server's default WS_MAX_SOCKETS_PER_USER: users are added rather than the limit raised.
SOCKETS_PER_USER = 3
# Lifts the 10/minute counseling limit; every other limit keeps its production value.
BENCH_RATE = "100000/m"
USER_TEXT = "요즘 회사에서 스트레스를 많이 받아서 밤에 잠이 잘 안 와요."
REPLY = (
    "말씀해 주셔서 고마워요. 회사에서 하루 종일 긴장한 채로 지내다 보면 몸도 마음도 많이 지치지요. "
    "그 스트레스가 특히 크게 느껴지는 순간은 언제인가요? 그때 머릿속에 가장 먼저 떠오르는 생각이 "
    "무엇인지 함께 천천히 살펴보면 좋겠어요. 작은 것부터 같이 정리해 봐요."
)
MARKER = re.compile(r"\[(bench-[0-9a-f]+)\]")
# conversations.risk.CLASSIFIER_MARKER (a test keeps the two equal; importing it needs Django).
CLASSIFIER_MARKER = "[RISK-CLASSIFIER]"
CLASSIFIER_REPLY = '{"level": "none", "evidence": "ordinary work stress"}'

# One process for all users: a manage.py start-up per user would dominate the run time.
ISSUE_TOKENS = """
import io, json
from django.core.management import call_command
tokens = []
for name in {names!r}:
    out = io.StringIO()
    call_command("issue_token", name, create_user=True, stdout=out)
    tokens.append(out.getvalue().strip().splitlines()[-1])
print("TOKENS " + json.dumps(tokens))
"""


class BenchError(Exception):
    pass


# --- environment: database, cache prefix, server ----------------------------------------


@contextlib.contextmanager
def fresh_database(url: str | None, workdir: Path) -> Iterator[tuple[str, str]]:
    """Yield (DATABASE_URL for the server, description); the database is gone afterwards."""
    if not url:
        # The embedded default's options (config/settings.py), on a throwaway file.
        options = {"timeout": 20, "transaction_mode": "IMMEDIATE",
                   "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
        yield f"sqlite:///{workdir / 'bench.sqlite3'}?{urlencode(options)}", "SQLite (temporary file, WAL)"
        return
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise BenchError("--database-url must be a postgres:// URL (omit it for SQLite)")
    import psycopg
    from psycopg import sql

    # A database of our own, named after the given one, so no other database is ever
    # written to or dropped.
    name = f"{parts.path.strip('/') or 'postgres'}_bench_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        version = conn.info.server_version
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}")), f"PostgreSQL {version // 10000}.{version % 10000}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def cache_prefix(redis_url: str | None) -> Iterator[str]:
    """A per-run cache key prefix: user ids restart at 1 in a fresh database, and stale
    socket counters or generation locks from an earlier run must not apply to them."""
    prefix = f"bench-ttfc-{secrets.token_hex(4)}"
    try:
        yield prefix
    finally:
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()


# --- the fake upstream, in a process of its own ---------------------------------------------


class UpstreamCall(NamedTuple):
    received_at: float  # time.monotonic() in the upstream process
    first_chunk_at: float | None


def _serve_upstream(conn: Connection, ttft: float, chunk_delay: float, reply: str = REPLY) -> None:
    """Child process: run the fake and answer "records", "reset" and "stop" over conn."""
    # Its handler threads only compete with each other here; a short switch interval keeps
    # one busy thread from delaying another's timestamp by the default 5 ms.
    sys.setswitchinterval(0.0005)
    with FakeOpenAI(Behaviour(reply=reply, ttft=ttft, delay=chunk_delay)) as fake, conn:
        # The crisis second opinion answers as a real classifier does: one short JSON
        # object (its max_tokens is 80), not a counselor's 40-chunk reply.
        fake.route(CLASSIFIER_MARKER, Behaviour(reply=CLASSIFIER_REPLY, ttft=ttft, chunk_size=0))
        try:
            conn.send(fake.base_url)
            while (command := conn.recv()) != "stop":
                if command == "records":
                    conn.send(_records(fake))
                elif command == "reset":
                    fake.reset()
                    conn.send(None)
        except (EOFError, OSError):  # the benchmark is gone
            return


def _records(fake: FakeOpenAI) -> dict[str, tuple[float, float | None]]:
    """Per marker: when the chat request arrived and its first chunk went out (not the bodies).
    Plain tuples: a class defined here would unpickle as __mp_main__.X, unknown to the parent."""
    found: dict[str, tuple[float, float | None]] = {}
    for rec in fake.requests:
        messages = rec.body.get("messages") or []
        # The new user message is the last one; earlier turns carry older markers.
        match = MARKER.search(str(messages[-1].get("content", ""))) if messages else None
        # The classifier's request quotes the same user message: only the reply's counts.
        classifier = bool(messages) and CLASSIFIER_MARKER in str(messages[0].get("content", ""))
        if rec.path == "/v1/chat/completions" and match and not classifier:
            found[match.group(1)] = (rec.received_at, rec.first_chunk_at)
    return found


class UpstreamProcess:
    """The fake OpenAI upstream in a child process, driven over a pipe."""

    def __init__(self, ttft: float, chunk_delay: float, start_timeout: float = 30.0, reply: str = REPLY) -> None:
        self.reply = reply
        self.ttft = ttft
        self.chunk_delay = chunk_delay
        self.start_timeout = start_timeout
        self.base_url = ""
        # spawn: a fresh interpreter, with none of this process's threads or event loop.
        self._ctx = multiprocessing.get_context("spawn")
        self._conn: Connection | None = None
        self._proc: multiprocessing.process.BaseProcess | None = None

    def __enter__(self) -> Self:
        ours, theirs = self._ctx.Pipe()
        self._conn = ours
        # Daemonic, so it is terminated even if we exit without reaching stop().
        self._proc = self._ctx.Process(target=_serve_upstream, args=(theirs, self.ttft, self.chunk_delay, self.reply),
                                       name="bench-fake-upstream", daemon=True)
        # A terminal's Ctrl-C goes to the whole process group: the child inherits SIGINT
        # ignored and is stopped by us, in order, instead of dying with a traceback.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._proc.start()
        finally:
            signal.signal(signal.SIGINT, previous)
            theirs.close()
        try:
            if not ours.poll(self.start_timeout):
                raise BenchError(f"fake upstream did not start within {self.start_timeout:.0f}s")
            try:
                self.base_url = str(ours.recv())
            except EOFError:
                raise BenchError("fake upstream exited during start-up (see its traceback above)") from None
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _call(self, command: str) -> Any:
        if self._conn is None:
            raise BenchError("fake upstream is not running")
        try:
            self._conn.send(command)
            return self._conn.recv()
        except (EOFError, OSError) as exc:
            raise BenchError(f"fake upstream is gone ({exc!r})") from exc

    def records(self) -> dict[str, UpstreamCall]:
        return {marker: UpstreamCall(*times) for marker, times in self._call("records").items()}

    def reset(self) -> None:
        self._call("reset")

    def stop(self) -> None:
        conn, proc = self._conn, self._proc
        self._conn = self._proc = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send("stop")
            conn.close()  # the child also stops when it reads the end of the pipe
        if proc is not None:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
            proc.close()


def manage(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    if done.returncode != 0:
        raise BenchError(f"manage.py {args[0]} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return done.stdout


def issue_tokens(count: int, env: dict[str, str]) -> list[str]:
    names = [f"bench{i:03d}" for i in range(count)]
    out = manage(["shell", "-c", ISSUE_TOKENS.format(names=names)], env)
    for line in out.splitlines():
        if line.startswith("TOKENS "):
            return list(json.loads(line.removeprefix("TOKENS ")))
    raise BenchError(f"issue_token printed no tokens:\n{out[-1500:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """The production server (``manage.py serve``): a worker per core with Redis, else one."""
    port = free_port()
    workers = (os.cpu_count() or 1) if env.get("REDIS_URL") else 1
    cmd = [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with log_path.open("wb") as log:
        # Its own session, so Ctrl-C reaches only us and shutdown happens in order below.
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            host = f"127.0.0.1:{port}"
            wait_until_up(proc, host, log_path)
            yield host
        except (ConnectionClosed, BenchError) as exc:
            raise BenchError(f"{exc}\nserver log (tail):\n{log_path.read_text(errors='replace')[-3000:]}") from exc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until_up(proc: subprocess.Popen[bytes], host: str, log_path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"server exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://{host}/api/session/start", timeout=1).close()
            return
        except urllib.error.HTTPError as exc:
            exc.close()
            return  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"server did not answer within {timeout:.0f}s:\n{log_path.read_text()[-2000:]}")


def session_start(host: str, token: str) -> str:
    request = urllib.request.Request(
        f"http://{host}/api/session/start", data=b"{}", method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.load(response)["data"]["sessionId"])
    except urllib.error.HTTPError as exc:
        raise BenchError(f"session start answered {exc.code}: {exc.read()[:300]!r}") from exc


# --- measuring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    marker: str
    sent: float  # just before the request frame went out
    first_chunk: float  # when the first ai_stream_chunk was read


async def open_socket(host: str, session_id: str, token: str) -> ClientConnection:
    for _ in range(50):
        ws = await connect(f"ws://{host}/ws/session/{session_id}?token={token}", open_timeout=10)
        try:
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except ConnectionClosed as exc:
            # 4429: the previous level's sockets are still being released on the server.
            if exc.rcvd is not None and exc.rcvd.code == 4429:
                await asyncio.sleep(0.1)
                continue
            raise
        if event.get("type") != "connected":
            raise BenchError(f"expected connected, got {event}")
        return ws
    raise BenchError("socket limit did not free up")


async def exchange(ws: ClientConnection) -> Sample:
    marker = f"bench-{secrets.token_hex(8)}"
    frame = json.dumps({"type": "request_ai_response",
                        "data": {"message": f"{USER_TEXT} [{marker}]", "emotion": "anxious"}}, ensure_ascii=False)
    first: float | None = None
    sent = time.monotonic()
    await ws.send(frame)
    while True:
        raw = await ws.recv()
        now = time.monotonic()  # before parsing, so the client's own work is not counted
        event = json.loads(raw)
        kind = event.get("type")
        if kind == "ai_stream_chunk" and first is None:
            first = now
        elif kind == "ai_stream_complete":
            break
        elif kind in ("ai_stream_error", "error"):
            raise BenchError(f"server answered {event}")
    if first is None:
        raise BenchError("reply completed without a chunk")
    return Sample(marker, sent, first)


async def run_level(host: str, tokens: list[str], n: int, rounds: int, warmup_rounds: int) -> list[Sample]:
    # One session per socket: a session streams one reply at a time.
    sessions = await asyncio.to_thread(lambda: [session_start(host, tokens[i % len(tokens)]) for i in range(n)])
    sockets = await asyncio.gather(*(open_socket(host, s, tokens[i % len(tokens)]) for i, s in enumerate(sessions)))
    samples: list[Sample] = []
    try:
        for r in range(warmup_rounds + rounds):
            batch = await asyncio.gather(*(exchange(ws) for ws in sockets))
            if r >= warmup_rounds:
                samples.extend(batch)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return samples


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass(frozen=True)
class LevelResult:
    concurrency: int
    requests: int
    client_p50: float
    client_p99: float
    upstream_p50: float
    added_p50: float
    added_p99: float
    added_max: float
    before_upstream_p50: float  # sent -> fake received the request
    after_upstream_p50: float  # fake wrote the first chunk -> client read it


def summarise(n: int, samples: list[Sample], upstream: dict[str, UpstreamCall]) -> LevelResult:
    client, ttft, added, before, after = [], [], [], [], []
    for s in samples:
        rec = upstream.get(s.marker)
        if rec is None or rec.first_chunk_at is None:
            raise BenchError(f"no upstream record with a first chunk for {s.marker}")
        client.append((s.first_chunk - s.sent) * 1000)
        ttft.append((rec.first_chunk_at - rec.received_at) * 1000)
        added.append(client[-1] - ttft[-1])
        before.append((rec.received_at - s.sent) * 1000)
        after.append((s.first_chunk - rec.first_chunk_at) * 1000)
    return LevelResult(
        concurrency=n, requests=len(samples),
        client_p50=percentile(client, 50), client_p99=percentile(client, 99), upstream_p50=percentile(ttft, 50),
        added_p50=percentile(added, 50), added_p99=percentile(added, 99), added_max=max(added),
        before_upstream_p50=percentile(before, 50), after_upstream_p50=percentile(after, 50),
    )


# --- report -------------------------------------------------------------------------------


def machine_info(db_kind: str, redis_url: str | None) -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "database": db_kind,
            "cache_and_channel_layer": "Redis" if redis_url else "local memory"}


def report(info: dict[str, Any], ttft: float, chunk_delay: float, results: list[LevelResult]) -> str:
    lines = [f"machine: nproc={info['nproc']} cpu={info['cpu'] or '?'} python={info['python']} ({info['platform']})",
             f"server:  manage.py serve, DJANGO_DEBUG=0, database={info['database']}, "
             f"cache={info['cache_and_channel_layer']}, "
             f"COUNSELING_RATE={BENCH_RATE} (bench override; other limits unchanged)",
             f"fake upstream: ttft={ttft * 1000:.0f} ms, {len(REPLY)}-char reply in 2-char chunks, "
             f"{chunk_delay * 1000:g} ms between chunks",
             "",
             f"{'streams':>7} {'requests':>8} | {'client ttfc ms':>19} | {'upstream':>8} | "
             f"{'ADDED (server) ms':>23} | {'split p50 ms':>14}",
             f"{'':>7} {'':>8} | {'p50':>9} {'p99':>9} | {'ttft p50':>8} | {'p50':>7} {'p99':>7} {'max':>7} | "
             f"{'before':>6} {'after':>7}"]
    for r in results:
        lines.append(f"{r.concurrency:>7} {r.requests:>8} | {r.client_p50:>9.2f} {r.client_p99:>9.2f} | "
                     f"{r.upstream_p50:>8.2f} | {r.added_p50:>7.2f} {r.added_p99:>7.2f} {r.added_max:>7.2f} | "
                     f"{r.before_upstream_p50:>6.2f} {r.after_upstream_p50:>7.2f}")
    lines.append("before = request sent -> upstream got it; after = upstream wrote first chunk -> client read it")
    one = next((r for r in results if r.concurrency == 1), None)
    if one is not None:
        ok50, ok99 = one.added_p50 <= TARGET_P50_MS, one.added_p99 <= TARGET_P99_MS
        lines.append(f"one-stream targets: added p50 {one.added_p50:.2f} <= {TARGET_P50_MS:.0f} ms "
                     f"{'MET' if ok50 else 'MISSED'}; added p99 {one.added_p99:.2f} <= {TARGET_P99_MS:.0f} ms "
                     f"{'MET' if ok99 else 'MISSED'}")
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ws_ttfc", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="measured requests per concurrency level")
    parser.add_argument("--concurrency", default="1,100", help="comma-separated stream counts (default 1,100)")
    parser.add_argument("--ttft", type=float, default=0.05, help="fake upstream time to first token, seconds")
    parser.add_argument("--chunk-delay", type=float, default=0.01,
                        help="fake upstream pause between chunks, seconds (0: the whole reply at once)")
    parser.add_argument("--database-url", help="postgres://… server to create a throwaway database on "
                                               "(default: a temporary SQLite file)")
    parser.add_argument("--redis-url", help="redis://… for cache and channel layer (default: in-memory)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this path")
    args = parser.parse_args(argv)
    try:
        args.levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    except ValueError:
        parser.error("--concurrency must be comma-separated integers, e.g. 1,100")
    if not args.levels or min(args.levels) < 1 or args.requests < 1 or args.ttft < 0 or args.chunk_delay < 0:
        parser.error("--concurrency and --requests must be positive and --ttft and --chunk-delay not negative")
    return args


def server_env(*, database_url: str, redis_url: str | None, prefix: str, base_url: str, **extra: str) -> dict[str, str]:
    """The server's environment: production settings, the benchmark's database, cache prefix
    and fake upstream, and ``extra`` (the limits a benchmark lifts)."""
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.update({
        "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url, "CACHE_KEY_PREFIX": prefix,
        "LLM_BASE_URL": base_url, "LLM_API_KEY": "x", "LOG_LEVEL": "WARNING", **extra,
    })  # fmt: skip
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


async def measure(host: str, tokens: list[str], fake: UpstreamProcess, args: argparse.Namespace) -> list[LevelResult]:
    results = []
    for n in args.levels:
        rounds = math.ceil(args.requests / n)
        # At least five warm-up requests, and one round on every socket (first-use costs).
        warmup = max(1, math.ceil(5 / n))
        print(f"... {n} stream(s): {warmup} warm-up + {rounds} measured round(s)", file=sys.stderr, flush=True)
        samples = await run_level(host, tokens, n, rounds, warmup)
        results.append(summarise(n, samples, fake.records()))
        fake.reset()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-ups below
    fake = UpstreamProcess(args.ttft, args.chunk_delay)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-ttfc-") as tmp,
            fake,
            fresh_database(args.database_url, Path(tmp)) as (database_url, db_kind),
            cache_prefix(args.redis_url) as prefix,
        ):
            env = server_env(database_url=database_url, redis_url=args.redis_url, prefix=prefix,
                             base_url=fake.base_url, COUNSELING_RATE=BENCH_RATE)
            print(f"... preparing {db_kind}", file=sys.stderr, flush=True)
            manage(["migrate", "--noinput"], env)
            tokens = issue_tokens(math.ceil(max(args.levels) / SOCKETS_PER_USER), env)
            with running_server(env, Path(tmp) / "server.log") as host:
                results = asyncio.run(measure(host, tokens, fake, args))
            info = machine_info(db_kind, args.redis_url)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130
    print(report(info, args.ttft, args.chunk_delay, results))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "ttft_s": args.ttft, "chunk_delay_s": args.chunk_delay,
                                         "rate": BENCH_RATE,
                                         "levels": [asdict(r) for r in results]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
