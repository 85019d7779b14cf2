"""Local stack manager behind `make up`, `make down` and `make test`.

Starts a PostgreSQL cluster of the project's own (four databases, four roles), a
single-node Apache Kafka broker in KRaft mode from the jars Maven put in
deploy/kafka/libs, the topics, and the four services as separate processes, each with its
partner API on one port and its operator/admin API ADMIN_PORT_OFFSET ports above it.
Everything lives under .data/ (git-ignored). Infrastructure that is already given by
the environment (KAFKA_BOOTSTRAP_SERVERS, <SERVICE>_DATABASE_URL) is used, not started.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.settings import (  # noqa: E402
    LOCAL_KAFKA_BOOTSTRAP,
    LOCAL_POSTGRES_HOST,
    LOCAL_POSTGRES_PORT,
    local_database_url,
)

DATA = ROOT / ".data"
LOGS = DATA / "logs"
RUN = DATA / "run"
KAFKA_LIBS = ROOT / "deploy" / "kafka" / "libs"
KAFKA_DATA = DATA / "kafka"
KAFKA_CONTROLLER_PORT = 19093
# Zipkin's server with its UI, resolved from Maven Central by scripts/bootstrap.sh.
ZIPKIN_JAR = DATA / "zipkin" / "zipkin-server.jar"
ZIPKIN_PORT = 9411
POSTGRES_SUPERUSER_PASSWORD = "ehub-admin-dev"
SERVICES = {"orders": 8001, "payments": 8002, "customs": 8003, "fulfillment": 8004}
# The operations console (services/console): pages over the four operator APIs.
CONSOLE_PORT = 8005
# Each service's operator/admin listener: 9001-9004 beside 8001-8004.
ADMIN_PORT_OFFSET = 1000
DEV_PARTNER = "demo-marketplace"
# The local stack's administrator: an operator credential like any other (shared.operators),
# with a key that is easy to type, because the stack listens on loopback only.
DEV_OPERATOR = "dev-admin"
DEV_OPERATOR_KEY = "dev-operator-key"
OPERATOR_CREDENTIALS = DATA / "operators.json"
FINAL_STATUSES = {
    "DELIVERED",
    "PAYMENT_DECLINED",
    "PAYMENT_FAILED",
    "PAYMENT_EXPIRED",
    "CUSTOMS_REJECTED",
    "SHIPMENT_FAILED",
    "CANCELLED",
}


class StackError(RuntimeError):
    """Something the stack needs could not be installed, started or reached."""


def say(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def wait_for(check, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise StackError(f"{what} did not come up within {timeout:.0f}s")
        time.sleep(0.3)


def pid_alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    return True


def exited(pid: int) -> bool:
    """True once `pid` is gone; reaps it when it is our own child, so no zombie lingers."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def stop_pid(pid_file: Path, name: str, timeout: float = 20) -> None:
    if not pid_alive(pid_file):
        pid_file.unlink(missing_ok=True)
        return
    pid = int(pid_file.read_text())
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while not exited(pid):
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            break
        time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    say(f"stopped {name}")


def spawn(name: str, command: list[str], env: dict[str, str] | None = None) -> None:
    """Start a detached process group whose output goes to .data/logs/<name>.log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    RUN.mkdir(parents=True, exist_ok=True)
    with open(LOGS / f"{name}.log", "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    (RUN / f"{name}.pid").write_text(str(process.pid))


# ---- PostgreSQL -----------------------------------------------------------------------


def postgres_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if not candidates:
        raise StackError("PostgreSQL is not installed; run scripts/bootstrap.sh")
    return candidates[0].parent


def postgres_data_dir() -> Path:
    """The cluster runs as the `postgres` OS user, who must be able to reach the folder."""
    preferred = DATA / "postgres"
    probe = subprocess.run(
        ["runuser", "-u", "postgres", "--", "test", "-x", str(DATA)],
        capture_output=True,
    )
    if probe.returncode == 0 or not DATA.exists():
        return preferred
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"liege-ehub-{checkout}" / "postgres"


def postgres_admin_url(database: str = "postgres") -> str:
    return (
        f"postgresql://postgres:{POSTGRES_SUPERUSER_PASSWORD}@"
        f"{LOCAL_POSTGRES_HOST}:{LOCAL_POSTGRES_PORT}/{database}"
    )


def psql(sql: str, database: str = "postgres") -> str:
    result = subprocess.run(
        ["psql", postgres_admin_url(database), "-v", "ON_ERROR_STOP=1", "-tAc", sql],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def pg_ctl(data_dir: Path, action: str, *options: str) -> None:
    """pg_ctl `action` on the cluster, as the `postgres` user, waiting up to 60 s for it."""
    subprocess.run(
        ["runuser", "-u", "postgres", "--", str(postgres_bin() / "pg_ctl"), "-D", str(data_dir)]
        + ["-l", str(data_dir / "postgres.log"), *options, "-w", "-t", "60", action],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def start_postgres() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    os.chmod(DATA, 0o755)
    data_dir = postgres_data_dir()
    binaries = postgres_bin()
    as_postgres = ["runuser", "-u", "postgres", "--"]
    if not (data_dir / "PG_VERSION").exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(data_dir, "postgres", "postgres")
        password_file = data_dir.parent / "pg-superuser-password"
        password_file.write_text(POSTGRES_SUPERUSER_PASSWORD)
        shutil.chown(password_file, "postgres", "postgres")
        subprocess.run(
            as_postgres
            + [
                str(binaries / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                f"--pwfile={password_file}",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        password_file.unlink()
        with open(data_dir / "postgresql.auto.conf", "a") as conf:
            conf.write(
                f"listen_addresses = '{LOCAL_POSTGRES_HOST}'\n"
                f"port = {LOCAL_POSTGRES_PORT}\n"
                "unix_socket_directories = ''\n"
                "max_connections = 300\n"
                "fsync = on\n"
            )
    if not port_open(LOCAL_POSTGRES_PORT):
        say(f"starting PostgreSQL on {LOCAL_POSTGRES_HOST}:{LOCAL_POSTGRES_PORT} ({data_dir})")
        LOGS.mkdir(parents=True, exist_ok=True)
        pg_ctl(data_dir, "start")
    wait_for(lambda: port_open(LOCAL_POSTGRES_PORT), "PostgreSQL", 60)


def stop_postgres() -> None:
    data_dir = postgres_data_dir()
    if (data_dir / "postmaster.pid").exists():
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(postgres_bin() / "pg_ctl"),
                "-D",
                str(data_dir),
                "-m",
                "fast",
                "stop",
            ],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        say("stopped PostgreSQL")


def ensure_database(service: str, database: str) -> None:
    """One role per service, owner of its database; no other role may connect to it."""
    password = f"{service}-dev"
    if not psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{service}'"):
        psql(f"CREATE ROLE {service} LOGIN PASSWORD '{password}'")
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'"):
        psql(f"CREATE DATABASE {database} OWNER {service}")
    psql(f"REVOKE ALL ON DATABASE {database} FROM PUBLIC")


def drop_database(database: str) -> None:
    psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def database_url(service: str, suffix: str = "") -> str:
    return local_database_url(service).replace(f"/ehub_{service}", f"/ehub_{service}{suffix}")


def restart_postgres() -> None:
    say("restarting PostgreSQL")
    pg_ctl(postgres_data_dir(), "restart", "-m", "fast")
    wait_for(lambda: port_open(LOCAL_POSTGRES_PORT), "PostgreSQL", 60)


def enable_statement_statistics() -> None:
    """pg_stat_statements over the whole cluster, DML and queries only (no BEGIN/COMMIT/SET),
    readable from the `postgres` database. Loading the library needs one restart of the
    cluster, after which the setting stays."""
    loaded = [
        name.strip() for name in psql("SHOW shared_preload_libraries").split(",") if name.strip()
    ]
    if "pg_stat_statements" not in loaded:
        libraries = ", ".join([*loaded, "pg_stat_statements"])
        psql(f"ALTER SYSTEM SET shared_preload_libraries = '{libraries}'")
        restart_postgres()
    if psql("SHOW pg_stat_statements.track_utility") != "off":
        psql("ALTER SYSTEM SET pg_stat_statements.track_utility = off")
        psql("SELECT pg_reload_conf()")
    psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


# ---- Kafka ----------------------------------------------------------------------------


def kafka_java(
    main_class: str, *args: str, heap: str = "-Xmx512m", logs_dir: Path = KAFKA_DATA
) -> list[str]:
    if not any(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        raise StackError("Kafka jars missing; run scripts/bootstrap.sh")
    return [
        "java",
        heap,
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={logs_dir}",
        f"-Dlog4j2.configurationFile={ROOT / 'deploy' / 'kafka' / 'log4j2.properties'}",
        "-cp",
        f"{KAFKA_LIBS}/*",
        main_class,
        *args,
    ]


def kafka_properties() -> Path:
    KAFKA_DATA.mkdir(parents=True, exist_ok=True)
    host, port = LOCAL_KAFKA_BOOTSTRAP.split(":")
    properties = KAFKA_DATA / "server.properties"
    properties.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={host}:{KAFKA_CONTROLLER_PORT}",
                f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{KAFKA_CONTROLLER_PORT}",
                f"advertised.listeners=PLAINTEXT://{host}:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={KAFKA_DATA / 'logs'}",
                "num.partitions=6",
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "min.insync.replicas=1",
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=168",
                "",
            ]
        )
    )
    return properties


def start_kafka() -> None:
    port = int(LOCAL_KAFKA_BOOTSTRAP.split(":")[1])
    if port_open(port):
        say(f"Kafka already listening on {LOCAL_KAFKA_BOOTSTRAP}")
        return
    properties = kafka_properties()
    if not (KAFKA_DATA / "logs" / "meta.properties").exists():
        cluster_id = (
            subprocess.run(
                kafka_java("kafka.tools.StorageTool", "random-uuid"),
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        subprocess.run(
            kafka_java(
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id,
                "-c",
                str(properties),
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    say(f"starting Kafka (KRaft, single node) on {LOCAL_KAFKA_BOOTSTRAP}")
    spawn("kafka", kafka_java("kafka.Kafka", str(properties), heap="-Xmx1g"))
    wait_for(lambda: port_open(port), "Kafka", 90)


def create_topics(bootstrap: str, prefix: str = "") -> None:
    from shared.messaging.kafka import ensure_topics

    deadline = time.monotonic() + 60
    while True:
        try:
            created = asyncio.run(ensure_topics(bootstrap, prefix))
            break
        except Exception as error:  # the broker may still be electing its controller
            if time.monotonic() > deadline:
                raise StackError(f"could not create topics: {error}") from error
            time.sleep(1)
    if created:
        say(f"created topics: {', '.join(created)}")


def answers_ok(port: int, path: str) -> bool:
    """Whether `path` on the local `port` answers 200 within 2 s."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


# ---- Zipkin, the trace UI ------------------------------------------------------------


def zipkin_ready(port: int) -> bool:
    return answers_ok(port, "/health")


def start_zipkin(port: int = ZIPKIN_PORT, name: str = "zipkin") -> None:
    """Zipkin's server and UI on loopback, traces kept in memory. Returns at once: the JVM
    starts while the rest of the stack does (`wait_for_zipkin`)."""
    if not ZIPKIN_JAR.exists():
        raise StackError("Zipkin missing; run scripts/bootstrap.sh")
    if pid_alive(RUN / f"{name}.pid"):
        return
    if port_open(port):
        raise StackError(f"port {port} is taken by something else; cannot start Zipkin")
    say(f"starting Zipkin on 127.0.0.1:{port}")
    spawn(
        name,
        [
            "java",
            "-Xmx384m",
            # A trace viewer on a laptop: a quick start matters more than peak speed.
            "-XX:TieredStopAtLevel=1",
            "-jar",
            str(ZIPKIN_JAR),
            "--armeria.ports[0].ip=127.0.0.1",
            f"--armeria.ports[0].port={port}",
            "--armeria.ports[0].protocols[0]=http",
            "--zipkin.storage.mem.max-spans=100000",
        ],
    )


def wait_for_zipkin(port: int = ZIPKIN_PORT) -> str:
    """Wait for the Zipkin `start_zipkin` started; returns the URL of its UI."""
    wait_for(lambda: zipkin_ready(port), f"Zipkin on :{port}", 90)
    return f"http://127.0.0.1:{port}/zipkin/"


def zipkin_tracing_env(port: int = ZIPKIN_PORT) -> dict[str, str]:
    """What makes a stack's services export every span to the Zipkin on `port`."""
    return {
        "OTEL_TRACES_EXPORTER": "zipkin",
        "OTEL_EXPORTER_ZIPKIN_ENDPOINT": f"http://127.0.0.1:{port}/api/v2/spans",
        # A span reaches the UI within a second of its end (the SDK's default is 5 s).
        "OTEL_BSP_SCHEDULE_DELAY": "1000",
    }


def order_traces(port: int, order_id: str) -> list[list[dict]]:
    """The traces Zipkin holds with a span of the order (tag `ehub.order_id`), each a list
    of spans in Zipkin's v2 JSON."""
    query = urllib.parse.urlencode({"annotationQuery": f"ehub.order_id={order_id}", "limit": 50})
    url = f"http://127.0.0.1:{port}/api/v2/traces?{query}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


# ---- the stack ------------------------------------------------------------------------


@dataclass
class Stack:
    """Where a stack's services find their infrastructure, and what they are called."""

    kafka_bootstrap: str
    database_urls: dict[str, str]
    topic_prefix: str = ""
    ports: dict[str, int] | None = None
    name_suffix: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    replicas: int = 1
    operator_credentials: Path = OPERATOR_CREDENTIALS

    def service_env(self, service: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "DATABASE_URL": self.database_urls[service],
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
                "KAFKA_TOPIC_PREFIX": self.topic_prefix,
                "OPERATOR_CREDENTIALS_FILE": str(self.operator_credentials),
                # Local partners' test receivers listen on plain http, on loopback.
                "WEBHOOK_LOCAL_TARGETS": "true",
                # One hub hour per second: the demo order is delivered in about a minute.
                "HUB_CLOCK_FACTOR": os.environ.get("HUB_CLOCK_FACTOR", "3600"),
            }
        )
        env.update(self.extra_env)
        return env

    def port(self, service: str) -> int:
        return (self.ports or SERVICES)[service]

    def admin_port(self, service: str) -> int:
        return admin_port(self.port(service))

    def process_name(self, service: str) -> str:
        return f"{service}{self.name_suffix}"

    def instances(self, service: str) -> list[tuple[str, int]]:
        """(process name, port) of each replica: the first is the service itself, replica n
        is named `<name>-n` and listens 10 * (n - 1) ports above it."""
        return [
            (
                replica_name(self.process_name(service), replica),
                self.port(service) + 10 * (replica - 1),
            )
            for replica in range(1, self.replicas + 1)
        ]


def admin_port(port: int) -> int:
    """The operator/admin listener of the instance whose partner API listens on `port`."""
    return port + ADMIN_PORT_OFFSET


def replica_name(name: str, replica: int) -> str:
    return name if replica == 1 else f"{name}-{replica}"


def infra_up(*, database_suffix: str = "", fresh_databases: bool = False) -> Stack:
    """Start (or reuse) PostgreSQL and Kafka; return where the services find them."""
    kafka_bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if kafka_bootstrap:
        say(f"using Kafka at {kafka_bootstrap} (KAFKA_BOOTSTRAP_SERVERS)")
    else:
        start_kafka()
        kafka_bootstrap = LOCAL_KAFKA_BOOTSTRAP
    given = {s: os.environ.get(f"{s.upper()}_DATABASE_URL") for s in SERVICES}
    if not all(given.values()):
        start_postgres()
    urls: dict[str, str] = {}
    for service, url in given.items():
        if url:
            urls[service] = url
            continue
        database = f"ehub_{service}{database_suffix}"
        if fresh_databases:
            drop_database(database)
        ensure_database(service, database)
        urls[service] = database_url(service, database_suffix)
    return Stack(kafka_bootstrap=kafka_bootstrap, database_urls=urls)


def listener_ready(port: int) -> bool:
    return answers_ok(port, "/readyz")


def service_ready(port: int) -> bool:
    """The instance whose partner API listens on `port` is ready on both of its listeners."""
    return listener_ready(port) and listener_ready(admin_port(port))


def service_command(service: str, port: int) -> list[str]:
    """One instance of `service`: partner API on `port`, operator API on its admin port."""
    return [
        sys.executable,
        "-m",
        "shared.serve",
        f"services.{service}.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--admin-port",
        str(admin_port(port)),
        "--timeout-graceful-shutdown",
        "10",
    ]


def spawn_service(stack: Stack, service: str, name: str, port: int) -> None:
    spawn(name, service_command(service, port), env=stack.service_env(service))


# Reference data each service's rules stand on, loaded from the shipped files (idempotent:
# a file already loaded is recognised by its SHA-256 and skipped).
REFERENCE_LOADERS = {
    "customs": "services.customs.reference",
    "payments": "services.payments.reference",
}


def load_reference_data(stack: Stack) -> None:
    for service, module in REFERENCE_LOADERS.items():
        result = subprocess.run(
            [sys.executable, "-m", module, "--by", "devstack", "load-shipped"],
            env=stack.service_env(service),
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(f"{service} reference data not loaded: {result.stderr.strip()}")
        say(f"{service} reference data: {len(result.stdout.splitlines())} tables loaded or current")


def start_services(stack: Stack) -> None:
    """Every replica of every service (one each unless `stack.replicas` says more)."""
    load_reference_data(stack)
    instances = [
        (service, *instance) for service in SERVICES for instance in stack.instances(service)
    ]
    for service, name, port in instances:
        if pid_alive(RUN / f"{name}.pid") and service_ready(port):
            say(f"{name} already running on :{port}")
            continue
        for taken in (port, admin_port(port)):
            if port_open(taken):
                raise StackError(f"port {taken} is taken by something else; cannot start {name}")
        spawn_service(stack, service, name, port)
    for _, name, port in instances:
        wait_for(lambda port=port: service_ready(port), f"{name} on :{port}", 90)
        say(f"{name} ready on http://127.0.0.1:{port} (operator API :{admin_port(port)})")


def console_ready(port: int) -> bool:
    return answers_ok(port, "/healthz")


def start_console(
    service_ports: dict[str, int],
    *,
    port: int = CONSOLE_PORT,
    name: str = "console",
    trace_ui: str = f"http://127.0.0.1:{ZIPKIN_PORT}/zipkin",
) -> str:
    """The console on `port`, calling the operator listeners beside `service_ports`."""
    if not (pid_alive(RUN / f"{name}.pid") and console_ready(port)):
        if port_open(port):
            raise StackError(f"port {port} is taken by something else; cannot start {name}")
        env = os.environ | {
            f"CONSOLE_{service.upper()}_URL": f"http://127.0.0.1:{admin_port(service_port)}"
            for service, service_port in service_ports.items()
        }
        env["CONSOLE_TRACE_UI_URL"] = trace_ui
        command = [sys.executable, "-m", "uvicorn", "services.console.main:app"]
        spawn(name, command + ["--host", "127.0.0.1", "--port", str(port)], env=env)
    wait_for(lambda: console_ready(port), f"{name} on :{port}", 60)
    return f"http://127.0.0.1:{port}"


def stop_services(name_suffix: str = "", replicas: int = 1) -> None:
    for service in SERVICES:
        for replica in range(1, replicas + 1):
            name = replica_name(f"{service}{name_suffix}", replica)
            stop_pid(RUN / f"{name}.pid", name)


def issue_partner_key(stack: Stack, partner: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "services.orders.cli", "create-partner", partner],
        env=stack.service_env("orders"),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"could not create partner key: {result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def ensure_dev_operator(credentials: Path = OPERATOR_CREDENTIALS) -> None:
    """The dev administrator's key works on the local stack (issued once, kept hashed)."""
    from shared.operators import CredentialsFile, Role, key_digest

    store = CredentialsFile(credentials)
    digest = key_digest(DEV_OPERATOR_KEY)
    if not any(c.key_sha256 == digest and c.revoked_at is None for c in store.read()):
        store.issue(DEV_OPERATOR, Role.ADMIN, key=DEV_OPERATOR_KEY)
        say(f"issued the operator key of {DEV_OPERATOR} (admin) into {credentials}")


# ---- commands -------------------------------------------------------------------------


def demo_order(api_key: str, port: int) -> str:
    """Place one order through the partner API and print it moving through its statuses
    up to DELIVERED (the hub clock runs accelerated on the local stack); returns its id."""
    body = json.loads((ROOT / "scripts" / "demo_order.json").read_text())
    body["partner_reference"] = f"demo-{uuid.uuid4().hex[:8]}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/orders",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Idempotency-Key": body["partner_reference"],
        },
        method="POST",
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=10) as response:
        order = json.loads(response.read())
    say(f"placed order {order['id']} ({body['partner_reference']}): {order['status']}")
    seen = {order["status"]}
    last = started
    deadline = started + 150
    while time.monotonic() < deadline:
        fetch = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/orders/{order['id']}",
            headers={"Authorization": f"Bearer {api_key}"},
        )
        with urllib.request.urlopen(fetch, timeout=10) as response:
            order = json.loads(response.read())
        if order["status"] not in seen:
            now = time.monotonic()
            step, total = (now - last) * 1000, (now - started) * 1000
            say(f"  -> {order['status']:<20} +{step:7.0f} ms  (total {total:.0f} ms)")
            seen.add(order["status"])
            last = now
        if order["status"] in FINAL_STATUSES:
            break
        time.sleep(0.05)
    say("timeline:")
    for entry in order["timeline"]:
        step = entry["event_type"]
        if step == "ShipmentTracked":
            step += f" {entry['detail']['status']}"
        say(f"  {entry['occurred_at']}  {entry['source_service']:<12} {step}")
    return order["id"]


def say_order_trace(zipkin_port: int, order_id: str) -> None:
    """Print the link to the order's trace, once Zipkin has it (spans arrive within ~1 s)."""
    deadline = time.monotonic() + 10
    while not (traces := order_traces(zipkin_port, order_id)) and time.monotonic() < deadline:
        time.sleep(0.5)
    if traces:
        say(f"its trace: http://127.0.0.1:{zipkin_port}/zipkin/traces/{traces[0][0]['traceId']}")


def cmd_up(_: argparse.Namespace) -> None:
    # Spans go to Zipkin unless the environment says otherwise (OTEL_TRACES_EXPORTER).
    traced = os.environ.get("OTEL_TRACES_EXPORTER", "zipkin") == "zipkin"
    if traced:
        start_zipkin()
    stack = infra_up()
    if traced:
        stack.extra_env.update(zipkin_tracing_env())
    create_topics(stack.kafka_bootstrap)
    ensure_dev_operator()
    start_services(stack)
    key_file = DATA / "dev-partner-key"
    if not key_file.exists():
        key_file.write_text(issue_partner_key(stack, DEV_PARTNER))
    api_key = key_file.read_text().strip()
    say(f"partner API key ({DEV_PARTNER}): {api_key}")
    say(f"operator key ({DEV_OPERATOR}, admin): {DEV_OPERATOR_KEY}")
    say(f"partner OpenAPI: http://127.0.0.1:{SERVICES['orders']}/docs")
    say(
        "operator OpenAPI: "
        + "  ".join(f"http://127.0.0.1:{admin_port(port)}/docs" for port in SERVICES.values())
    )
    say("metrics: http://127.0.0.1:<operator port>/metrics   logs: .data/logs/   stop: make down")
    say(f"operations console: {start_console(SERVICES)} (sign in with the operator key)")
    if traced:
        say(f"trace UI (Zipkin): {wait_for_zipkin()}")
    order_id = demo_order(api_key, SERVICES["orders"])
    if traced:
        say_order_trace(ZIPKIN_PORT, order_id)


def cmd_infra(_: argparse.Namespace) -> None:
    stack = infra_up()
    create_topics(stack.kafka_bootstrap)


def cmd_down(_: argparse.Namespace) -> None:
    stop_pid(RUN / "console.pid", "console")
    stop_services()
    stop_services("-test")
    stop_pid(RUN / "zipkin.pid", "Zipkin")
    stop_pid(RUN / "kafka.pid", "Kafka")
    stop_postgres()


def cmd_status(_: argparse.Namespace) -> None:
    for service, port in SERVICES.items():
        state = "ready" if service_ready(port) else "down"
        say(f"{service:<12} :{port} operator :{admin_port(port)} {state}")
    say(f"kafka        {'up' if port_open(int(LOCAL_KAFKA_BOOTSTRAP.split(':')[1])) else 'down'}")
    say(f"postgres     {'up' if port_open(LOCAL_POSTGRES_PORT) else 'down'}")
    say(f"zipkin       :{ZIPKIN_PORT} {'up' if zipkin_ready(ZIPKIN_PORT) else 'down'}")
    say(f"console      :{CONSOLE_PORT} {'up' if console_ready(CONSOLE_PORT) else 'down'}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    commands = parser.add_subparsers(required=True)
    for name, handler, help_text in (
        ("up", cmd_up, "start everything and place a demo order"),
        ("infra", cmd_infra, "start PostgreSQL and Kafka only"),
        ("down", cmd_down, "stop everything `up` started"),
        ("status", cmd_status, "show what is running"),
    ):
        commands.add_parser(name, help=help_text).set_defaults(handler=handler)
    arguments = parser.parse_args()
    try:
        arguments.handler(arguments)
    except StackError as error:
        raise SystemExit(f"[devstack] {error}") from error


if __name__ == "__main__":
    main()
