#!/usr/bin/env python3
"""Run or test the product on a bare machine with only Python 3.11+.

    python3 dev.py serve   # the whole product at http://127.0.0.1:8000 (embedded defaults)
    python3 dev.py test    # the whole test suite (extra arguments go to pytest)
    python3 dev.py lint    # ruff and mypy

Both create ``.venv`` and install the pinned requirements on first use.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = ROOT / "requirements-dev.txt"


def _requirements_digest() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "requirements-dev.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs under whatever python3 the machine has
        sys.exit("Python 3.11 or newer is required.")
    if not PYTHON.exists():
        print("Creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".requirements.sha256"
    wanted = _requirements_digest()
    if not stamp.exists() or stamp.read_text() != wanted:
        print("Installing pinned requirements …", flush=True)
        subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(REQUIREMENTS)], check=True)
        stamp.write_text(wanted)


def run(*args: str, env: dict[str, str] | None = None) -> int:
    return subprocess.run(list(args), cwd=ROOT, env={**os.environ, **(env or {})}).returncode


def serve() -> int:
    env = {"DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "1")}
    manage = [str(PYTHON), "manage.py"]
    if run(*manage, "migrate", "--noinput", "-v", "0", env=env):
        return 1
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
    if run(*manage, "bootstrap_demo", "--url", f"http://{host}:{port}", env=env):
        return 1
    # The production server in one process: the embedded mode keeps its state in memory.
    return run(*manage, "serve", "--host", host, "--port", port, "--workers", "1", env=env)


def test(extra: list[str]) -> int:
    return run(str(PYTHON), "-m", "pytest", *extra)


def lint() -> int:
    return run(str(PYTHON), "-m", "ruff", "check", ".") or run(str(PYTHON), "-m", "mypy", ".")


def main() -> int:
    command, extra = (sys.argv[1] if len(sys.argv) > 1 else ""), sys.argv[2:]
    if command not in {"serve", "test", "lint"}:
        print(__doc__)
        return 2
    ensure_venv()
    if command == "serve":
        return serve()
    if command == "test":
        return test(extra)
    return lint()


if __name__ == "__main__":
    sys.exit(main())
