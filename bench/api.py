"""Demand submissions through the JSON API, as the mini-program sends them: gunicorn with
two workers on a SQLite database, several clients posting at once for a fixed time.

The database is a temporary SQLite file of its own (migrated with ``flask db upgrade`` and
seeded with ``crm seed-demo --scale small`` in subprocesses, like a real deployment), not
the shared benchmark database: what is measured is the write path under concurrent
processes. Every submission carries a fresh Idempotency-Key, and every tenth one is sent
twice, as a client retrying after a lost answer would.

Afterwards every submission the API acknowledged (201) is looked for in the database, and
every key must have made exactly one demand: the run fails if either is not so.
"""

import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.harness import Environment, Timings, table
from crm.demo.plan import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLIENTS = int(os.environ.get("BENCH_API_CLIENTS", "8"))
SECONDS = float(os.environ.get("BENCH_API_SECONDS", "10"))
FIRM_USERS = 8
RETRY_EVERY = 10


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    acknowledged: dict[str, int] = field(default_factory=dict)  # key -> demand id
    replays: int = 0
    replay_mismatches: int = 0
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0


def run(env: Environment, *, requests: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-api-", dir="/tmp"))
    url = f"sqlite:///{tmp / 'api.sqlite3'}"
    proc_env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_hex(32),  # the same for both workers
        "REDIS_URL": "",
    }
    print(f"\napi: POST /api/v1/demands, gunicorn -w 2, SQLite, {CLIENTS} clients, {SECONDS:g} s")
    server = None
    try:
        started = time.perf_counter()
        _flask(proc_env, "db", "upgrade")
        _flask(proc_env, "crm", "seed-demo", "--scale", "small")
        print(
            f"prepare    {time.perf_counter() - started:.1f} s  (migrate, seed-demo --scale small)"
        )
        usernames = _firm_usernames(url)
        port = _free_port()
        log = open(tmp / "gunicorn.log", "w")  # noqa: SIM115  (closed with the server)
        server = subprocess.Popen(  # noqa: S603  (a fixed command line)
            [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT,
            env=proc_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _wait_until_up(port, server)
        tokens = [_token(port, name) for name in usernames]
        print(f"clients    {CLIENTS} threads for {len(tokens)} firm users ({', '.join(usernames)})")
        tally = _hammer(port, tokens)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    ok = _report(tally, url, tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    if not ok:
        raise SystemExit(1)


# -- setting up -------------------------------------------------------------------------------


def _flask(env: dict, *args: str) -> None:
    subprocess.run(  # noqa: S603  (a fixed command line)
        [str(BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _firm_usernames(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        names = conn.scalars(
            text("SELECT username FROM users WHERE role = 'firm' AND active ORDER BY id LIMIT :n"),
            {"n": FIRM_USERS},
        ).all()
    engine.dispose()
    if not names:
        raise RuntimeError("the small demo seed made no firm users")
    return list(names)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(port: int, method: str, path: str, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=payload, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, data
    finally:
        conn.close()


def _wait_until_up(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited before answering")
        try:
            status, _ = _request(port, "GET", "/api/v1/openapi.json")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 30 s")


def _token(port: int, username: str) -> str:
    status, data = _request(
        port, "POST", "/api/v1/auth/token", {"username": username, "password": DEMO_PASSWORD}
    )
    if status != 201:
        raise RuntimeError(f"no token for {username}: HTTP {status} {data[:200]!r}")
    return json.loads(data)["token"]


# -- the load ---------------------------------------------------------------------------------


def _hammer(port: int, tokens: list[str]) -> Tally:
    tally = Tally()
    stop_at = time.monotonic() + SECONDS

    def client(n: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}"}
        sent = 0
        while time.monotonic() < stop_at:
            key = f"bench-{uuid.uuid4().hex}"
            body = {
                "category": "OTHER",
                "title": f"压测诉求 {n}-{sent}",
                "description": "基准测试：小程序提交的诉求。",
            }
            demand_id = _submit(port, body, {**headers, "Idempotency-Key": key}, tally, key)
            sent += 1
            if demand_id is not None and sent % RETRY_EVERY == 0:
                again = _submit(port, body, {**headers, "Idempotency-Key": key}, tally, None)
                with tally.lock:
                    tally.replays += 1
                    tally.replay_mismatches += again != demand_id

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.elapsed = time.perf_counter() - started
    return tally


def _submit(port: int, body: dict, headers: dict, tally: Tally, key: str | None) -> int | None:
    started = time.perf_counter()
    try:
        status, data = _request(port, "POST", "/api/v1/demands", body, headers)
    except OSError as exc:
        with tally.lock:
            tally.statuses["connection error"] += 1
            tally.errors.append(repr(exc))
        return None
    elapsed = time.perf_counter() - started
    demand_id = json.loads(data)["id"] if status in (200, 201) else None
    with tally.lock:
        tally.statuses[status] += 1
        tally.latencies.append(elapsed)
        if status == 201 and key is not None:
            tally.acknowledged[key] = demand_id
        elif status >= 500 and len(tally.errors) < 5:
            tally.errors.append(data[:300].decode(errors="replace"))
    return demand_id


# -- the figures ---------------------------------------------------------------------------


def _report(tally: Tally, url: str, tmp: Path) -> bool:
    created = len(tally.acknowledged)
    timings = Timings(tally.latencies) if tally.latencies else None
    print(
        table(
            ["submissions", "per second", "p50 ms", "p95 ms", "replays", "replay ≠ first"],
            [[
                created,
                created / tally.elapsed,
                timings.p50 if timings else 0.0,
                timings.p95 if timings else 0.0,
                tally.replays,
                tally.replay_mismatches,
            ]],
        )
    )  # fmt: skip
    print(
        "statuses   " + ", ".join(f"{k}: {v}" for k, v in sorted(tally.statuses.items(), key=str))
    )
    for error in tally.errors:
        print(f"error      {error}")
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT submission_key, id FROM demands WHERE submission_key LIKE 'bench-%'")
        ).all()
    engine.dispose()
    stored: dict[str, list[int]] = {}
    for key, demand_id in rows:
        stored.setdefault(key, []).append(demand_id)
    found = sum(
        1 for key, demand_id in tally.acknowledged.items() if demand_id in stored.get(key, ())
    )
    doubled = sum(1 for ids in stored.values() if len(ids) > 1)
    print(
        f"acknowledged {created}, found {found} in the database; keys with two demands: {doubled}"
    )
    ok = found == created and doubled == 0 and tally.replay_mismatches == 0
    if not ok or any(isinstance(s, int) and s >= 500 for s in tally.statuses):
        log = (tmp / "gunicorn.log").read_text(errors="replace")[-3000:]
        print("gunicorn log (last lines):\n" + log)
    return ok
