"""The machine's own ceilings, measured by the tools PostgreSQL and Kafka ship with.

pgbench: single-row INSERT + COMMIT transactions per second with 16 clients, on a scratch
database of the cluster the stack uses. Kafka's ProducerPerformance: 600-byte records per
second with acks=all onto a scratch topic of six partitions, as the services produce.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import devstack

PGBENCH_CLIENTS = 16
PGBENCH_DATABASE = "ehub_ceiling_bench"
KAFKA_RECORD_BYTES = 600
# More than the broker takes in the time the tool runs: it is stopped, not left to finish.
KAFKA_RECORDS_UNREACHABLE = 50_000_000
JVM_START_SECONDS = 2


def pgbench_binary() -> Path:
    """pgbench ships in Debian's postgresql-<major> package, next to pg_ctl."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True)
    if found:
        return found[0]
    major = devstack.postgres_bin().parent.name
    devstack.say(f"apt-get install postgresql-{major} (for pgbench)")
    apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=apt, check=True, timeout=300)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", f"postgresql-{major}"],
        env=apt,
        check=True,
        timeout=600,
    )
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True)
    if not found:
        raise RuntimeError("pgbench is still missing after apt-get install")
    return found[0]


def pgbench_commits_per_second(seconds: int, work_dir: Path) -> dict:
    pgbench = pgbench_binary()
    devstack.drop_database(PGBENCH_DATABASE)
    devstack.psql(f"CREATE DATABASE {PGBENCH_DATABASE}")
    try:
        devstack.psql(
            "CREATE TABLE ceiling (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " value integer NOT NULL, at timestamptz NOT NULL DEFAULT now())",
            PGBENCH_DATABASE,
        )
        script = work_dir / "pgbench-insert.sql"
        script.write_text("INSERT INTO ceiling (value) VALUES (:client_id);\n")
        result = subprocess.run(
            [
                str(pgbench),
                "--no-vacuum",
                f"--client={PGBENCH_CLIENTS}",
                "--jobs=2",
                f"--time={seconds}",
                f"--file={script}",
                "--host=127.0.0.1",
                f"--port={devstack.LOCAL_POSTGRES_PORT}",
                "--username=postgres",
                PGBENCH_DATABASE,
            ],
            env={**os.environ, "PGPASSWORD": devstack.POSTGRES_SUPERUSER_PASSWORD},
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pgbench failed: {result.stderr.strip()}")
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
        if tps is None:
            raise RuntimeError(f"pgbench printed no rate: {result.stdout}")
        return {
            "commits_per_s": float(tps.group(1)),
            "clients": PGBENCH_CLIENTS,
            "seconds": seconds,
            "transaction": "one single-row INSERT, COMMIT",
        }
    finally:
        devstack.drop_database(PGBENCH_DATABASE)


def kafka_records_per_second(bootstrap: str, topic: str, seconds: int, work_dir: Path) -> dict:
    """ProducerPerformance, stopped after about `seconds`: the tool reports every 5 s, and its
    last full report is the broker's steady rate (the first one includes the JVM warming)."""
    command = devstack.kafka_java(
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(KAFKA_RECORDS_UNREACHABLE),
        "--record-size",
        str(KAFKA_RECORD_BYTES),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={bootstrap}",
        "acks=all",
        logs_dir=work_dir,
    )
    tool = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = tool.communicate(timeout=seconds + JVM_START_SECONDS)
    except subprocess.TimeoutExpired:
        tool.terminate()
        output, _ = tool.communicate(timeout=30)
    # Periodic reports only: the closing summary (with percentiles) averages in the warm-up.
    periodic = "\n".join(line for line in output.splitlines() if "50th" not in line)
    reports = re.findall(r"(\d+) records sent, ([\d.]+) records/sec", periodic)
    if not reports:
        raise RuntimeError(f"ProducerPerformance printed no rate: {output[-2000:]}")
    return {
        "records_per_s": float(reports[-1][1]),
        "reports": [float(rate) for _, rate in reports],
        "record_bytes": KAFKA_RECORD_BYTES,
        "acks": "all",
    }
