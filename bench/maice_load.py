"""Benchmark: MAICE SSE streams through the agent path, embedded and on Redis Streams.

Starts the fake OpenAI upstream in a process of its own (``python -m
conversations.testing.fake_openai``), the real server (`manage.py serve`, debug off) and, with
``--redis-url``, real ``run_maice_agent`` workers; then runs N concurrent clients, each
POSTing questions to ``/api/maice/chat`` and reading the SSE stream to its end.

Per level it first measures a baseline in the same run: the same clients calling the
fake upstream directly with the calls the agent makes before the first chunk (the
classifier, then the answer's stream until it holds the text of the first chunk the
server's chunker would cut). Then:

    added first-chunk = client time to first answer_chunk - baseline time to that text

at p50 and p99 (each percentile of one minus the same percentile of the other: the fake
keeps no per-request record a separate process could read). A request fails when it is
refused, ends with an error event, or ends without ``summary_complete``. Also printed: the
CPU the server's and the agents' processes spent per measured request.
Usage: ``.venv/bin/python -m bench.maice_load --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx2

from bench.load import cpu_seconds, process_tree
from bench.ws_ttfc import (
    PYTHON,
    ROOT,
    BenchError,
    cache_prefix,
    fresh_database,
    issue_tokens,
    machine_info,
    manage,
    percentile,
    running_server,
    server_env,
)
from maice.chunking import AnswerChunker

TARGET_ADDED_P50_MS = 30.0
BENCH_RATE = "100000/m"
USERS = 20
QUESTION = "이차함수 y = x^2 - 4x + 3 의 그래프를 그리는 방법을 단계별로 알려주세요"
# Markers from maice/prompts.py: the classifier's and the summary's system prompts.
CLASSIFY_MARKER = "MAICE 분류기"
SUMMARY_MARKER = "학습 기록을 정리하는 MAICE"
CLASSIFICATION = json.dumps({"knowledge_code": "K3", "quality": "answerable", "unit_tags": ["이차함수", "그래프"],
                             "reasoning": "그래프 그리기 절차를 묻는 질문"}, ensure_ascii=False)
SUMMARY = json.dumps({"summary": "이차함수 그래프를 표준형으로 그리는 방법 학습", "title": "이차함수 그래프",
                      "key_concepts": ["꼭짓점", "대칭축"]}, ensure_ascii=False)
ANSWER = (
    "이차함수의 그래프는 꼭짓점과 축을 먼저 찾으면 쉽게 그릴 수 있어요. 차례대로 해 볼게요. "
    "먼저 $y = x^2 - 4x + 3$ 을 완전제곱식으로 바꾸면 $y = (x-2)^2 - 1$ 이 됩니다. "
    "그래서 꼭짓점은 $(2, -1)$ 이고 대칭축은 $x = 2$ 입니다. $x^2$ 의 계수가 양수이므로 "
    "아래로 볼록합니다. $y$ 절편은 $(0, 3)$ 이고, $x$ 절편은 $(x-1)(x-3) = 0$ 에서 "
    "$x = 1, 3$ 입니다. 이 점들을 찍고 대칭축을 기준으로 매끄럽게 이으면 완성이에요. "
    "스스로 확인해 볼까요? $y = x^2 + 2x$ 의 꼭짓점은 어디일까요? "
)


# The server's chunk limits (MAICE_CHUNK_MIN_CHARS / MAX_CHARS defaults): the baseline finds
# when the upstream alone has sent the text of the first chunk the contract allows.
CHUNK_MIN, CHUNK_MAX = 50, 200


def piece_size(pieces: int) -> int:
    return math.ceil(len(ANSWER) / pieces)


# --- the fake upstream, via its own command line -------------------------------------------


@contextlib.contextmanager
def fake_upstream(ttft: float, chunk_delay: float, pieces: int) -> Iterator[str]:
    cmd = [PYTHON, "-m", "conversations.testing.fake_openai", "--port", "0", "--reply", ANSWER,
           "--ttft", str(ttft), "--delay", str(chunk_delay), "--chunk-size", str(piece_size(pieces)),
           "--route", f"{CLASSIFY_MARKER}={CLASSIFICATION}", "--route", f"{SUMMARY_MARKER}={SUMMARY}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        if not base_url.startswith("http"):
            raise BenchError(f"fake upstream did not start (exit {proc.poll()})")
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def agent_workers(count: int, env: dict[str, str], log_dir: Path) -> Iterator[None]:
    procs = []
    try:
        for i in range(count):
            log = (log_dir / f"agent-{i}.log").open("wb")
            procs.append(subprocess.Popen([PYTHON, "manage.py", "run_maice_agent", "--name", f"bench-agent-{i}"],
                                          cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
        import redis

        client = redis.Redis.from_url(env["REDIS_URL"])
        deadline = time.monotonic() + 30
        key = f"{env['MAICE_REDIS_PREFIX']}:agents"
        while client.zcount(key, time.time() - 5, "+inf") < count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise BenchError(f"agents did not start; see {log_dir}/agent-*.log")
            time.sleep(0.1)
        client.close()
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- measuring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    ttfc_ms: float | None  # None: the request failed
    error: str = ""


async def one_stream(client: httpx2.AsyncClient, host: str, token: str, mode: str) -> Outcome:
    body = {"question": f"{QUESTION} [{secrets.token_hex(6)}]", "mode": mode}
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    sent = time.monotonic()
    first: float | None = None
    last_type = ""
    try:
        async with client.stream("POST", f"http://{host}/api/maice/chat", json=body, headers=headers) as response:
            if response.status_code != 200:
                await response.aread()
                return Outcome(None, f"HTTP {response.status_code}")
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                now = time.monotonic()
                event = json.loads(line[6:])
                last_type = event["type"]
                if last_type == "answer_chunk" and first is None:
                    first = now
                elif last_type == "error":
                    return Outcome(None, str(event.get("error_code")))
    except httpx2.HTTPError as exc:
        return Outcome(None, type(exc).__name__)
    if last_type != "summary_complete" or first is None:
        return Outcome(None, f"ended after {last_type or 'nothing'}")
    return Outcome((first - sent) * 1000)


async def one_baseline(client: httpx2.AsyncClient, base_url: str, mode: str) -> Outcome:
    """The upstream calls the agent makes before its first chunk, made directly: the time
    until the upstream has sent the text of the answer's first chunk (cut by the server's
    own chunker, so the contract's 50-character minimum is not counted as added)."""
    marker = secrets.token_hex(6)

    def body(system: str) -> dict[str, Any]:
        return {"model": "bench", "stream": True, "messages": [{"role": "system", "content": system},
                                                                 {"role": "user", "content": f"{QUESTION} [{marker}]"}]}

    sent = time.monotonic()
    try:
        if mode == "agent":
            async with client.stream("POST", f"{base_url}/chat/completions", json=body(CLASSIFY_MARKER)) as response:
                async for _ in response.aiter_lines():
                    pass
        first = None
        chunker = AnswerChunker(min_chars=CHUNK_MIN, max_chars=CHUNK_MAX)
        async with client.stream("POST", f"{base_url}/chat/completions", json=body("answer")) as response:
            async for line in response.aiter_lines():
                if first is not None or not line.startswith("data: {"):
                    continue
                choices = json.loads(line[6:]).get("choices") or [{}]
                text = (choices[0].get("delta") or {}).get("content") or ""
                if text and chunker.feed(text):
                    first = time.monotonic()
    except httpx2.HTTPError as exc:
        return Outcome(None, type(exc).__name__)
    return Outcome((first - sent) * 1000 if first else None, "" if first else "no text")


async def run_clients(n: int, rounds: int, call: Any, ramp: float = 0.0) -> list[Outcome]:
    """``n`` clients starting over ``ramp`` seconds (the load shape of ``bench.load``), each
    making ``rounds`` calls one after another."""
    limits = httpx2.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(90.0), limits=limits) as client:
        async def worker(index: int) -> list[Outcome]:
            await asyncio.sleep(ramp * index / n)
            return [await call(client, index) for _ in range(rounds)]

        batches = await asyncio.gather(*(worker(i) for i in range(n)))
    return [outcome for batch in batches for outcome in batch]


@dataclass(frozen=True)
class LevelResult:
    streams: int
    requests: int
    failed: int
    errors: dict[str, int]
    baseline_p50: float
    baseline_p99: float
    client_p50: float
    client_p99: float
    added_p50: float
    added_p99: float
    cpu_ms: float  # server and agents, CPU per measured request


def server_cpu_seconds() -> float:
    """CPU used so far by the server's and the agents' processes: this benchmark's process
    tree but itself and the fake upstream."""
    def is_fake(pid: int) -> bool:
        try:
            return b"fake_openai" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # gone since the walk: cpu_seconds skips it too
            return False

    return cpu_seconds([pid for pid in process_tree(os.getpid())[1:] if not is_fake(pid)])


def _times(outcomes: list[Outcome]) -> list[float]:
    return [o.ttfc_ms for o in outcomes if o.ttfc_ms is not None]


async def measure(host: str, base_url: str, tokens: list[str], args: argparse.Namespace) -> list[LevelResult]:
    results = []
    for n in args.levels:
        rounds = max(1, math.ceil(args.requests / n))
        print(f"... {n} streams x {rounds} round(s): baseline, warm-up, measured", file=sys.stderr, flush=True)
        ramp = args.ramp if n > 1 else 0.0
        baseline = await run_clients(n, rounds, lambda client, i: one_baseline(client, base_url, args.mode), ramp)
        await run_clients(min(n, 20), 1, lambda client, i: one_stream(client, host, tokens[i % len(tokens)],
                                                                      args.mode))
        cpu_before = server_cpu_seconds()
        outcomes = await run_clients(n, rounds, lambda client, i: one_stream(client, host, tokens[i % len(tokens)],
                                                                            args.mode), ramp)
        cpu_ms = (server_cpu_seconds() - cpu_before) * 1000 / len(outcomes)
        base, seen = _times(baseline), _times(outcomes)
        if not base or not seen:
            raise BenchError(f"nothing measured at {n} streams: {[o.error for o in outcomes][:5]}")
        errors: dict[str, int] = {}
        for o in outcomes:
            if o.ttfc_ms is None:
                errors[o.error] = errors.get(o.error, 0) + 1
        b50, b99, c50, c99 = percentile(base, 50), percentile(base, 99), percentile(seen, 50), percentile(seen, 99)
        results.append(LevelResult(n, len(outcomes), len(outcomes) - len(seen), errors, b50, b99, c50, c99,
                                   c50 - b50, c99 - b99, cpu_ms))
    return results


def report(info: dict[str, Any], args: argparse.Namespace, results: list[LevelResult]) -> str:
    transport = f"Redis Streams, {args.agents} run_maice_agent worker(s)" if args.redis_url else "embedded agent"
    lines = [f"machine: nproc={info['nproc']} cpu={info['cpu'] or '?'} python={info['python']}",
             f"server:  manage.py serve, DJANGO_DEBUG=0, database={info['database']}, {transport}, mode={args.mode}",
             f"fake upstream: ttft={args.ttft * 1000:.0f} ms, {len(ANSWER)}-char answer in {args.pieces} pieces "
             f"{args.chunk_delay * 1000:g} ms apart" + (", classifier JSON after ttft" if args.mode == "agent" else ""),
             "baseline: the same calls straight to the fake, until the text of the answer's first chunk",
             "",
             f"{'streams':>7} {'requests':>8} {'failed':>6} | {'baseline ms':>15} | {'client ttfc ms':>15} | "
             f"{'ADDED first chunk':>17} | {'CPU ms':>6}",
             f"{'':>7} {'':>8} {'':>6} | {'p50':>7} {'p99':>7} | {'p50':>7} {'p99':>7} | {'p50':>8} {'p99':>8} | "
             f"{'/req':>6}"]
    for r in results:
        lines.append(f"{r.streams:>7} {r.requests:>8} {r.failed:>6} | {r.baseline_p50:>7.1f} {r.baseline_p99:>7.1f} | "
                     f"{r.client_p50:>7.1f} {r.client_p99:>7.1f} | {r.added_p50:>8.1f} {r.added_p99:>8.1f} | "
                     f"{r.cpu_ms:>6.1f}")
        if r.errors:
            lines.append(f"{'':>7} failures: {r.errors}")
    for r in results:
        if r.streams == 100:
            lines.append(f"target at 100 streams: added p50 {r.added_p50:.1f} <= {TARGET_ADDED_P50_MS:.0f} ms "
                         f"{'MET' if r.added_p50 <= TARGET_ADDED_P50_MS else 'MISSED'}")
        if r.streams == 300:
            lines.append(f"target at 300 streams: {r.failed} failed requests "
                         f"{'MET' if r.failed == 0 else 'MISSED'} (zero)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.maice_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="measured requests per level (default 300)")
    parser.add_argument("--concurrency", default="100,300", help="comma-separated stream counts (default 100,300)")
    parser.add_argument("--mode", choices=("agent", "freepass"), default="agent")
    parser.add_argument("--ttft", type=float, default=0.3, help="fake upstream time to first token, seconds")
    parser.add_argument("--chunk-delay", type=float, default=0.05, help="fake upstream pause between pieces")
    parser.add_argument("--pieces", type=int, default=40,
                        help="pieces the fake streams the answer in (default 40, the platform benchmark's pace)")
    parser.add_argument("--ramp", type=float, default=2.0,
                        help="seconds over which a level's clients start (as in bench.load)")
    parser.add_argument("--database-url", help="postgres://… to create a throwaway database on (default SQLite)")
    parser.add_argument("--redis-url", help="redis://… : agents on Redis Streams (default: embedded agent)")
    parser.add_argument("--agents", type=int, default=2, help="run_maice_agent workers with --redis-url (default 2)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    try:
        args.levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    except ValueError:
        parser.error("--concurrency must be comma-separated integers")
    if not args.levels or min(args.levels) < 1 or min(args.requests, args.agents, args.pieces) < 1:
        parser.error("--concurrency, --requests, --agents and --pieces must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-maice-") as tmp,
            fake_upstream(args.ttft, args.chunk_delay, args.pieces) as base_url,
            fresh_database(args.database_url, Path(tmp)) as (database_url, db_kind),
            cache_prefix(args.redis_url) as prefix,  # its keys are deleted afterwards
        ):
            env = server_env(database_url=database_url, redis_url=args.redis_url, prefix=prefix, base_url=base_url,
                             MAICE_REDIS_PREFIX=prefix, LLM_MAX_RETRIES="0", MAICE_RATE=BENCH_RATE)
            print(f"... preparing {db_kind}", file=sys.stderr, flush=True)
            manage(["migrate", "--noinput"], env)
            tokens = issue_tokens(USERS, env)
            workers = agent_workers(args.agents, env, Path(tmp)) if args.redis_url else contextlib.nullcontext()
            log = Path(tmp) / "server.log"
            with workers, running_server(env, log) as host:
                results = asyncio.run(measure(host, base_url, tokens, args))
            if any(r.failed for r in results):
                # Access lines say nothing about a failure; the rest does.
                lines = [line for line in log.read_text(errors="replace").splitlines() if '] "' not in line]
                print("server log (without access lines, tail):\n" + "\n".join(lines[-60:]), file=sys.stderr)
            info = machine_info(db_kind, args.redis_url)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(report(info, args, results))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "mode": args.mode, "redis": bool(args.redis_url),
                                         "levels": [asdict(r) for r in results]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
