"""Load benchmark: many concurrent counseling streams against a realistically paced upstream.

One command runs the whole matrix: for each store (SQLite embedded; PostgreSQL + Redis)
the project's production server, then the baseline relay (``bench/baseline_relay.py``,
the seed's FastAPI design) against the same fake upstream (its own process; first token
after ``--ttft``, then ``--chunks`` chunks ``--chunk-delay`` apart). At each level N,
N sessions start over ``--ramp`` seconds and each sends ``--requests`` requests one after
another. Per level it prints the server's added time to first chunk (client-observed
time to first chunk minus the upstream's own time to first token), the inter-chunk gap
p99 seen by clients, failed connects, stream errors, server CPU seconds per reply and
peak RSS, and the project/baseline ratio of the added first-chunk time.
Usage: ``.venv/bin/python -m bench.load --help`` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench.ws_ttfc import (
    BENCH_RATE,
    ROOT,
    SOCKETS_PER_USER,
    USER_TEXT,
    BenchError,
    UpstreamProcess,
    cache_prefix,
    free_port,
    fresh_database,
    issue_tokens,
    machine_info,
    manage,
    percentile,
    server_env,
    session_start,
    wait_until_up,
)

PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def reply_text(chunks: int) -> str:
    """A Korean reply of exactly ``chunks`` two-character chunks (the fake's chunk size)."""
    base = "말씀해 주셔서 고마워요. 그 순간에 어떤 생각이 먼저 떠올랐는지 함께 천천히 살펴봐요. "
    text = (base * (chunks * 2 // len(base) + 1))[: chunks * 2]
    return text


# --- server processes ------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def process_tree(pid: int) -> list[int]:
    tree, unvisited = [], [pid]
    while unvisited:
        current = unvisited.pop()
        tree.append(current)
        unvisited.extend(_children(current))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    return total


@dataclass
class Server:
    name: str
    host: str
    proc: subprocess.Popen[bytes]

    def pids(self) -> list[int]:
        # The supervisor's own (idle) process is counted too: it is part of what runs.
        return process_tree(self.proc.pid)


@contextlib.contextmanager
def run_server(name: str, cmd: list[str], env: dict[str, str], log_path: Path, probe: str) -> Iterator[Server]:
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            host = cmd[cmd.index("--port") + 1] if "--port" in cmd else cmd[cmd.index("-p") + 1]
            host = f"127.0.0.1:{host}"
            wait_until_up(proc, host, log_path, timeout=60) if probe == "http" else _wait_tcp(proc, host, log_path)
            yield Server(name, host, proc)
        except (ConnectionClosed, BenchError) as exc:
            raise BenchError(f"{exc}\n{name} log (tail):\n{log_path.read_text(errors='replace')[-3000:]}") from exc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _wait_tcp(proc: subprocess.Popen[bytes], host: str, log_path: Path, timeout: float = 30.0) -> None:
    import socket

    hostname, port = host.split(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"server exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection((hostname, int(port)), timeout=1):
            time.sleep(0.3)  # listening; let the workers finish start-up
            return
        time.sleep(0.1)
    raise BenchError("server did not listen in time")


# --- the clients -------------------------------------------------------------------------------


@dataclass
class SessionResult:
    connect_failed: bool = False
    errors: list[str] = field(default_factory=list)
    samples: list[tuple[str, float, float]] = field(default_factory=list)  # marker, sent, first chunk
    gaps: list[float] = field(default_factory=list)  # ms between consecutive chunks
    replies: int = 0


async def one_session(host: str, session_id: str, token: str, delay: float, requests: int) -> SessionResult:
    result = SessionResult()
    await asyncio.sleep(delay)
    try:
        ws = await connect(f"ws://{host}/ws/session/{session_id}?token={token}", open_timeout=10,
                           max_size=2**20, proxy=None)
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if hello.get("type") != "connected":
            raise BenchError(f"expected connected, got {hello}")
    except Exception as exc:  # noqa: BLE001 - every way a connect fails is counted
        result.connect_failed = True
        result.errors.append(f"connect: {type(exc).__name__}: {exc}"[:200])
        return result
    try:
        for _ in range(requests):
            marker = f"bench-{secrets.token_hex(8)}"
            frame = json.dumps({"type": "request_ai_response",
                                "data": {"message": f"{USER_TEXT} [{marker}]", "emotion": "anxious"}},
                               ensure_ascii=False)
            sent = time.monotonic()
            await ws.send(frame)
            first = last = None
            while True:
                raw = await asyncio.wait_for(ws.recv(), 30)
                now = time.monotonic()
                event = json.loads(raw)
                kind = event.get("type")
                if kind == "ai_stream_chunk":
                    if first is None:
                        first = now
                    elif last is not None:
                        result.gaps.append((now - last) * 1000)
                    last = now
                elif kind == "ai_stream_complete":
                    break
                elif kind in ("ai_stream_error", "error"):
                    raise BenchError(f"stream error: {event}")
            if first is None:
                raise BenchError("reply completed without a chunk")
            result.samples.append((marker, sent, first))
            result.replies += 1
    except Exception as exc:  # noqa: BLE001 - counted, not fatal: the level goes on
        result.errors.append(f"{type(exc).__name__}: {exc}"[:200])
    finally:
        with contextlib.suppress(Exception):
            await ws.close()
    return result


@dataclass(frozen=True)
class LevelResult:
    server: str
    sessions: int
    replies: int
    added_p50: float
    added_p99: float
    before_p50: float  # request sent -> the upstream has it
    after_p50: float  # the upstream's first chunk -> the client has it
    gap_p99: float
    failed_connects: int
    stream_errors: int
    cpu_per_reply_s: float
    peak_rss_mb: float
    load_avg: float  # the machine's 1-minute load average at the level's end (shared machine)
    first_errors: list[str]


async def sample_rss(server: Server, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        pids = await asyncio.to_thread(server.pids)
        peak[0] = max(peak[0], await asyncio.to_thread(rss_bytes, pids))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def run_level(server: Server, sessions: list[tuple[str, str]], args: argparse.Namespace,
                    fake: UpstreamProcess) -> LevelResult:
    n = len(sessions)
    pids = server.pids()
    cpu_before = cpu_seconds(pids)
    peak = [rss_bytes(pids)]
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(server, peak, stop))
    ramp = args.ramp if n > 1 else 0.0
    # A single session's p50 needs more than three samples to mean anything.
    requests = max(args.requests, args.single_requests) if n == 1 else args.requests
    results = await asyncio.gather(*(one_session(server.host, sid, tok, ramp * i / n, requests)
                                     for i, (sid, tok) in enumerate(sessions)))
    stop.set()
    await sampler
    await asyncio.sleep(0.5)  # let the server finish its bookkeeping before CPU is read
    cpu = cpu_seconds(server.pids()) - cpu_before
    records = await asyncio.to_thread(fake.records)
    added, before, after, gaps, errors = [], [], [], [], []
    for r in results:
        gaps.extend(r.gaps)
        errors.extend(r.errors)
        for marker, sent, first in r.samples:
            rec = records.get(marker)
            if rec is None or rec.first_chunk_at is None:
                errors.append(f"no upstream record for {marker}")
                continue
            added.append((first - sent) * 1000 - (rec.first_chunk_at - rec.received_at) * 1000)
            # time.monotonic() is one clock across processes on Linux.
            before.append((rec.received_at - sent) * 1000)
            after.append((first - rec.first_chunk_at) * 1000)
    await asyncio.to_thread(fake.reset)
    replies = sum(r.replies for r in results)
    return LevelResult(
        server=server.name, sessions=n, replies=replies,
        added_p50=percentile(added, 50) if added else math.nan, added_p99=percentile(added, 99) if added else math.nan,
        before_p50=percentile(before, 50) if before else math.nan,
        after_p50=percentile(after, 50) if after else math.nan,
        gap_p99=percentile(gaps, 99) if gaps else math.nan,
        failed_connects=sum(r.connect_failed for r in results),
        stream_errors=sum(1 for r in results for e in r.errors if not e.startswith("connect")),
        cpu_per_reply_s=cpu / replies if replies else math.nan, peak_rss_mb=peak[0] / 2**20,
        load_avg=os.getloadavg()[0], first_errors=errors[:3],
    )


def start_sessions(host: str, tokens: list[str], n: int) -> list[tuple[str, str]]:
    # One session per socket (a session streams one reply at a time), three sockets per user.
    return [(session_start(host, tokens[i % len(tokens)]), tokens[i % len(tokens)]) for i in range(n)]


# --- stored statuses ---------------------------------------------------------------------------


def stored_statuses(database_url: str) -> dict[str, int]:
    query = ("SELECT status, count(*) FROM conversations_message WHERE role = 'assistant' "
             "GROUP BY status ORDER BY status")
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///").split("?", 1)[0]
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return dict(conn.execute(query).fetchall())
    import psycopg

    with psycopg.connect(database_url) as conn:
        return dict(conn.execute(query).fetchall())  # type: ignore[arg-type]


# --- main --------------------------------------------------------------------------------------


def project_command(port: int, args: argparse.Namespace, embedded: bool) -> list[str]:
    if args.project_server == "daphne":  # the single-process server of the earlier code
        return [str(Path(PYTHON).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
    workers = "1" if embedded else str(args.workers)  # the embedded mode is one process by design
    return [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", workers]


def baseline_command(port: int) -> list[str]:
    return [PYTHON, "-m", "uvicorn", "bench.baseline_relay:app", "--host", "127.0.0.1", "--port", str(port),
            "--ws-max-size", "16384", "--log-level", "warning"]


async def measure(project: Server, baseline: Server | None, tokens: list[str], args: argparse.Namespace,
                  fake: UpstreamProcess) -> tuple[list[LevelResult], list[LevelResult]]:
    """Each level on the project, then at once on the baseline: both see the same machine load."""
    # Warm-up, not counted: first-use costs (imports, pools, prepared statements) in every worker.
    # 24 sessions at once, so every worker process and database thread has served a few.
    await run_level(project, await asyncio.to_thread(start_sessions, project.host, tokens, 24), args, fake)
    if baseline is not None:
        await run_level(baseline, _baseline_sessions(24), args, fake)
    ours, theirs = [], []
    for n in args.levels:
        requests = max(args.requests, args.single_requests) if n == 1 else args.requests
        print(f"... {n} session(s) x {requests} request(s)", file=sys.stderr, flush=True)
        sessions = await asyncio.to_thread(start_sessions, project.host, tokens, n)
        ours.append(await run_level(project, sessions, args, fake))
        await asyncio.sleep(1.0)  # sockets of this level are released before the next
        if baseline is not None:
            theirs.append(await run_level(baseline, _baseline_sessions(n), args, fake))
            await asyncio.sleep(1.0)
    return ours, theirs


def _baseline_sessions(n: int) -> list[tuple[str, str]]:
    return [(f"sess_{secrets.token_hex(8)}", "-") for _ in range(n)]


@contextlib.contextmanager
def baseline_server(args: argparse.Namespace, fake: UpstreamProcess, tmp: Path, label: str) -> Iterator[Server | None]:
    if not args.database_url:
        yield None
        return
    with fresh_database(args.database_url, tmp) as (database_url, _kind):
        env = dict(os.environ, BASELINE_DATABASE_URL=database_url, LLM_BASE_URL=fake.base_url)
        with run_server(f"baseline/{label}", baseline_command(free_port()), env, tmp / f"baseline-{label}.log",
                        "tcp") as server:
            yield server


def run_mode(label: str, database: str | None, redis_url: str | None, args: argparse.Namespace,
             fake: UpstreamProcess, tmp: Path) -> tuple[list[LevelResult], list[LevelResult], dict[str, int], str]:
    with fresh_database(database, tmp) as (database_url, db_kind), cache_prefix(redis_url) as prefix:
        env = server_env(database_url=database_url, redis_url=redis_url, prefix=prefix, base_url=fake.base_url,
                         COUNSELING_RATE=BENCH_RATE)
        print(f"... preparing {label}: {db_kind}", file=sys.stderr, flush=True)
        manage(["migrate", "--noinput"], env)
        tokens = issue_tokens(math.ceil(max(args.levels) / SOCKETS_PER_USER), env)
        embedded = database is None
        with (
            run_server(f"project/{label}", project_command(free_port(), args, embedded), env,
                       tmp / f"project-{label}.log", "http") as project,
            baseline_server(args, fake, tmp, label) as baseline,
        ):
            ours, theirs = asyncio.run(measure(project, baseline, tokens, args, fake))
        return ours, theirs, stored_statuses(database_url), db_kind


def fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def report_rows(results: list[LevelResult], baseline: list[LevelResult] | None) -> list[str]:
    lines = []
    by_n = {r.sessions: r for r in baseline or []}
    for r in results:
        base = by_n.get(r.sessions)
        ratio = fmt(r.added_p50 / base.added_p50, 2) if base and base.added_p50 > 0 else "-"
        lines.append(f"{r.server:<18} {r.sessions:>5} {r.replies:>7} | {fmt(r.added_p50):>8} {fmt(r.added_p99):>8} "
                     f"{fmt(r.before_p50):>6} {fmt(r.after_p50):>6} | "
                     f"{fmt(r.gap_p99):>7} | {r.failed_connects:>6} {r.stream_errors:>6} | "
                     f"{fmt(r.cpu_per_reply_s * 1000, 1):>8} {r.peak_rss_mb:>7.0f} | {ratio:>5} | {r.load_avg:>4.1f}")
        for error in r.first_errors:
            lines.append(f"{'':<18}   e.g. {error}")
    return lines


HEADER = [f"{'server':<18} {'sess':>5} {'replies':>7} | {'added first chunk ms':>31} | {'gap ms':>7} | "
          f"{'failed':>6} {'stream':>6} | {'CPU ms':>8} {'RSS':>7} | {'ratio':>5} | {'load':>4}",
          f"{'':<18} {'':>5} {'':>7} | {'p50':>8} {'p99':>8} {'before':>6} {'after':>6} | {'p99':>7} | "
          f"{'conn':>6} {'errors':>6} | "
          f"{'/reply':>8} {'MB peak':>7} | {'p50':>5} | {'1min':>4}"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,100,300", help="comma-separated session counts")
    parser.add_argument("--requests", type=int, default=3, help="requests per session, one after another")
    parser.add_argument("--single-requests", type=int, default=10, help="requests of the one-session level")
    parser.add_argument("--ramp", type=float, default=2.0, help="seconds over which a level's sessions start")
    parser.add_argument("--ttft", type=float, default=0.3, help="upstream time to first token, seconds")
    parser.add_argument("--chunks", type=int, default=40, help="chunks per reply")
    parser.add_argument("--chunk-delay", type=float, default=0.05, help="seconds between chunks")
    parser.add_argument("--database-url", help="postgres://… server: the PostgreSQL + Redis mode and the baseline "
                                               "each use a throwaway database there")
    parser.add_argument("--redis-url", help="redis://… for the PostgreSQL + Redis mode")
    parser.add_argument("--modes", default="sqlite,postgres", help="which project modes to run")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="project worker processes in the PostgreSQL + Redis mode (default: cores)")
    parser.add_argument("--project-server", choices=["serve", "daphne"], default="serve",
                        help="manage.py serve (default) or one daphne process (the code before issue 9)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this path")
    args = parser.parse_args(argv)
    args.levels = [int(x) for x in args.levels.split(",") if x.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if "postgres" in args.modes and not (args.database_url and args.redis_url):
        parser.error("the postgres mode needs --database-url and --redis-url")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    fake = UpstreamProcess(args.ttft, args.chunk_delay, reply=reply_text(args.chunks))
    blocks: list[str] = []
    dump: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp_name, fake:
            tmp = Path(tmp_name)
            for mode in args.modes:
                database = args.database_url if mode == "postgres" else None
                redis_url = args.redis_url if mode == "postgres" else None
                results, baseline, statuses, db_kind = run_mode(mode, database, redis_url, args, fake, tmp)
                blocks.append(f"== {mode}: {db_kind}, cache {'Redis' if redis_url else 'local memory'}; "
                              f"stored assistant replies by status: {statuses}")
                blocks.extend(HEADER)
                blocks.extend(report_rows(results, baseline))
                blocks.extend(report_rows(baseline, None))
                dump[mode] = {"project": [asdict(r) for r in results], "statuses": statuses,
                              "baseline": [asdict(r) for r in baseline]}
            info = machine_info("see modes", None)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130
    print(f"machine: nproc={info['nproc']} cpu={info['cpu'] or '?'} python={info['python']}")
    print(f"upstream: first token {args.ttft * 1000:.0f} ms, {args.chunks} chunks {args.chunk_delay * 1000:.0f} ms "
          f"apart; sessions ramped over {args.ramp:g} s, {args.requests} requests each; project server: "
          f"{args.project_server} ({args.workers} workers with PostgreSQL + Redis, 1 embedded); baseline: "
          f"one uvicorn process, measured right after the project at each level")
    print("\n".join(blocks))
    print("added = client time to first chunk - upstream's own time to first token; gap = between two chunk "
          "frames at the client; before / after = p50 of the added time's parts before the upstream has the request "
          "and after its first chunk; ratio = project added p50 / baseline added p50 at the same level, same run")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "args": {k: str(v) for k, v in vars(args).items()},
                                         "modes": dump}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
