"""The bench's load generator: vegeta, an open-loop HTTP attacker at a constant arrival rate.

Installed from the Go module proxy into .data/bin by the bench's own set-up. Request bodies
are written beforehand, one per request, each with its own partner reference.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

from bench_proc import read_times, rusage_ticks

VEGETA_MODULE = "github.com/tsenart/vegeta/v12"
VEGETA_VERSION = "v12.13.0"
REQUEST_TIMEOUT = "10s"
# Open loop: vegeta adds workers when responses are slow, up to this many in flight.
MAX_WORKERS = 2000


def install_vegeta(bin_dir: Path) -> Path:
    go = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if go is None:
        raise RuntimeError("Go is not installed: the bench builds vegeta from the Go module proxy")
    bin_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [go, "install", f"{VEGETA_MODULE}@{VEGETA_VERSION}"],
        env={**os.environ, "GOBIN": str(bin_dir)},
        check=True,
        timeout=600,
    )
    return bin_dir / "vegeta"


def write_targets(
    path: Path, urls: list[str], api_key: str, body: dict, reference_prefix: str, count: int
) -> None:
    """`count` POSTs in vegeta's JSON target format, spread over `urls` in turn."""
    marker = "\0reference\0"
    before, after = (
        json.dumps(dict(body, partner_reference=marker)).encode().split(json.dumps(marker).encode())
    )
    header = json.dumps(
        {"Authorization": [f"Bearer {api_key}"], "Content-Type": ["application/json"]}
    )
    heads = [
        f'{{"method":"POST","url":{json.dumps(url)},"header":{header},"body":"' for url in urls
    ]
    with open(path, "w") as targets:
        for number in range(count):
            reference = json.dumps(f"{reference_prefix}{number:07d}").encode()
            encoded = base64.b64encode(before + reference + after).decode()
            targets.write(f'{heads[number % len(heads)]}{encoded}"}}\n')


class Attack:
    """One vegeta run: `rate` requests/s for at most `seconds`, one request per target."""

    def __init__(self, vegeta: Path, targets: Path, rate: int, seconds: float, results: Path):
        self.results = results
        self.errors = results.with_suffix(".stderr")
        self.vegeta = vegeta
        with open(self.errors, "wb") as errors:
            self.process = subprocess.Popen(
                [
                    str(vegeta),
                    "attack",
                    "-format=json",
                    f"-targets={targets}",
                    "-lazy",
                    f"-rate={rate}/1s",
                    f"-duration={seconds}s",
                    f"-timeout={REQUEST_TIMEOUT}",
                    "-max-body=0",
                    f"-max-workers={MAX_WORKERS}",
                    f"-output={results}",
                ],
                stdin=subprocess.DEVNULL,
                stderr=errors,
            )
        started = read_times(self.process.pid)
        self.key = started.key if started else (self.process.pid, 0)
        self.final_ticks: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def finished(self) -> bool:
        """Reaps vegeta once it exits, keeping its lifetime CPU."""
        if self.final_ticks is not None:
            return True
        pid, status, rusage = os.wait4(self.process.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.final_ticks = rusage_ticks(rusage)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        return True

    def kill(self) -> None:
        if self.final_ticks is None:
            self.process.send_signal(signal.SIGKILL)
            _, status, rusage = os.wait4(self.process.pid, 0)
            self.final_ticks = rusage_ticks(rusage)
            self.process.returncode = os.waitstatus_to_exitcode(status)

    def report(self) -> dict:
        if self.process.returncode:
            errors = self.errors.read_text(errors="replace")
            raise RuntimeError(f"vegeta attack failed ({self.process.returncode}): {errors}")
        result = subprocess.run(
            [str(self.vegeta), "report", "-type=json", str(self.results)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return json.loads(result.stdout)
