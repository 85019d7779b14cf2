"""The image's dependencies: every service's app imports from requirements/runtime.txt alone.

The image installs runtime.txt with `pip install --require-hashes` into a fresh virtualenv and
runs `uvicorn services.<svc>.main:app` from a copy of shared/ and services/; this test does the
same outside a container, so a runtime import that only the test tools satisfy (as httpx once
did) fails here rather than in a crashing pod.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
DEV_LOCK = ROOT / "requirements" / "dev.txt"
# The operations console runs from the same image and the same lock.
SERVICES = ("orders", "payments", "customs", "fulfillment", "console")
TEST_TOOLS = ("pytest", "hypothesis", "ruff", "_pytest")
# Cached between runs: rebuilt only when the lock or the interpreter changes.
RUNTIME_VENV = ROOT / ".data" / "runtime-venv"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def pins(lock: Path) -> dict[str, str]:
    found = PIN.findall(lock.read_text())
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in found}


def runtime_venv() -> Path:
    fingerprint = hashlib.sha256(RUNTIME_LOCK.read_bytes() + sys.version.encode()).hexdigest()
    stamp = RUNTIME_VENV / ".runtime.txt.sha256"
    if stamp.is_file() and stamp.read_text() == fingerprint:
        return RUNTIME_VENV
    shutil.rmtree(RUNTIME_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(RUNTIME_VENV)], check=True)
    subprocess.run(
        [
            str(RUNTIME_VENV / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--require-hashes",
            "--only-binary=:all:",
            "-r",
            str(RUNTIME_LOCK),
        ],
        check=True,
        timeout=600,
    )
    stamp.write_text(fingerprint)
    return RUNTIME_VENV


@pytest.fixture(scope="module")
def image_layout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A runtime-only virtualenv and an /app with what the Dockerfile copies: shared/, services/."""
    app = tmp_path_factory.mktemp("app")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "shared", app / "shared", ignore=ignore)
    shutil.copytree(ROOT / "services", app / "services", ignore=ignore)
    return runtime_venv(), app


def run_in_image(venv: Path, app: Path, code: str) -> subprocess.CompletedProcess[str]:
    # Only what the image's environment sets: no test-runner variables, no repository root.
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "PYTHONPATH": str(app), "HOME": str(app)}
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("service", SERVICES)
def test_every_app_imports_from_the_runtime_lock_alone(
    image_layout: tuple[Path, Path], service: str
) -> None:
    venv, app = image_layout
    code = (
        "from fastapi import FastAPI\n"
        "from uvicorn.importer import import_from_string\n"
        f"app = import_from_string('services.{service}.main:app')\n"
        "assert isinstance(app, FastAPI), type(app)\n"
        "print(app.title)\n"
    )
    result = run_in_image(venv, app, code)
    assert result.returncode == 0, result.stderr
    assert "Liège eHub" in result.stdout


def test_the_runtime_environment_has_no_test_tools(image_layout: tuple[Path, Path]) -> None:
    venv, app = image_layout
    code = (
        "import importlib.util\n"
        f"print([m for m in {TEST_TOOLS!r} if importlib.util.find_spec(m)])\n"
    )
    result = run_in_image(venv, app, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_every_locked_file_carries_a_hash() -> None:
    for lock in (RUNTIME_LOCK, DEV_LOCK):
        requirements = re.split(r"\n(?=[A-Za-z])", lock.read_text())
        for requirement in requirements:
            if PIN.match(requirement):
                assert "--hash=sha256:" in requirement, f"{lock.name}: {requirement.split()[0]}"


def test_the_dev_lock_keeps_every_runtime_version() -> None:
    runtime, dev = pins(RUNTIME_LOCK), pins(DEV_LOCK)
    assert runtime, "runtime.txt pins nothing"
    assert {name: dev.get(name) for name in runtime} == runtime
    assert "httpx" in runtime, "orders' webhooks import httpx at run time"
    assert not set(TEST_TOOLS) & set(runtime)


DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"


def test_the_image_command_imports_from_the_runtime_lock_alone(
    image_layout: tuple[Path, Path],
) -> None:
    command = re.search(r"^CMD exec python -m ([\w.]+) ", DOCKERFILE.read_text(), re.MULTILINE)
    assert command, "the image's CMD is no longer `exec python -m <module> ...`"
    venv, app = image_layout
    result = run_in_image(venv, app, f"import {command.group(1)}")
    assert result.returncode == 0, result.stderr


def test_the_image_is_pinned_and_labelled() -> None:
    dockerfile = DOCKERFILE.read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11[\w.-]*@sha256:[0-9a-f]{64}", base.group(1))
    assert re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE) == ["${PYTHON_IMAGE}"] * 2
    assert "pip install --require-hashes --only-binary=:all: -r runtime.txt" in dockerfile
    for label in ("title", "version", "revision", "created", "source", "base.name"):
        assert f"org.opencontainers.image.{label}=" in dockerfile
    assert "FORWARDED_ALLOW_IPS=" in dockerfile
