"""shared.serve: two listeners in one process, one runtime, one graceful stop on SIGTERM."""

from __future__ import annotations

import gc
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from shared.serve import YOUNG_COLLECTION_THRESHOLD

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

# A service in miniature: the partner app's lifespan is the runtime; the admin app shares it.
APP = textwrap.dedent(
    """
    import asyncio, gc, sys
    from contextlib import asynccontextmanager
    from fastapi import FastAPI
    from shared.serve import serve

    log = open(sys.argv[3], "a", buffering=1)

    @asynccontextmanager
    async def lifespan(app):
        log.write("runtime started\\n")
        yield
        log.write("runtime stopped\\n")

    partner = FastAPI(lifespan=lifespan)
    admin = FastAPI()
    partner.state.admin_app = admin

    @partner.get("/which")
    async def partner_which():
        return "partner"

    @admin.get("/which")
    async def admin_which():
        return "admin"

    @admin.get("/collection")
    async def collection():
        return {"frozen": gc.get_freeze_count(), "young_threshold": gc.get_threshold()[0]}

    @admin.get("/slow")
    async def slow():
        await asyncio.sleep(1.5)
        log.write("slow request answered\\n")
        return "done"

    port, admin_port = int(sys.argv[1]), int(sys.argv[2])
    asyncio.run(serve(partner, host="127.0.0.1", port=port, admin_port=admin_port))
    log.write("process ends\\n")
    """
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)


def test_both_listeners_serve_and_sigterm_drains_both_before_the_runtime_stops(tmp_path):
    port, admin_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-c", APP, str(port), str(admin_port), str(log)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/which")
        wait_until_serving(f"http://127.0.0.1:{admin_port}/which")
        assert httpx.get(f"http://127.0.0.1:{port}/which").json() == "partner"
        assert httpx.get(f"http://127.0.0.1:{admin_port}/which").json() == "admin"
        assert httpx.get(f"http://127.0.0.1:{port}/slow").status_code == 404

        with httpx.Client(base_url=f"http://127.0.0.1:{admin_port}", timeout=10) as client:
            slow = client.build_request("GET", "/slow")
            pending = subprocess.Popen(  # the slow request is in flight when SIGTERM arrives
                [sys.executable, "-c", f"import httpx; print(httpx.get('{slow.url}').text)"],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            assert pending.communicate(timeout=10)[0].strip() == '"done"'
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert log.read_text().splitlines() == [
        "runtime started",
        "slow request answered",
        "runtime stopped",
        "process ends",
    ]


def test_start_up_is_left_out_of_later_garbage_collections_and_young_ones_are_rarer(tmp_path):
    port, admin_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", APP, str(port), str(admin_port), str(tmp_path / "serve.log")],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{admin_port}/which")
        collection = httpx.get(f"http://127.0.0.1:{admin_port}/collection").json()
        assert collection["frozen"] > 10_000, "FastAPI, pydantic and the app's modules are frozen"
        assert collection["young_threshold"] == YOUNG_COLLECTION_THRESHOLD > gc.get_threshold()[0]
    finally:
        process.terminate()
        process.wait(timeout=15)
