"""Every Kubernetes overlay builds and validates offline, and holds the policies that matter.

kustomize and kubeconform come from the Go module proxy into .data/bin (scripts/bootstrap.sh);
the schemas are kept in deploy/k8s/schemas (Kubernetes from kubernetes-validate, the CRDs of
Strimzi, CloudNativePG, KEDA and the Prometheus Operator converted; SOURCES.md there).
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI

from shared.messaging.kafka import DEAD_LETTER_RETENTION_MS, all_topics, connection_options
from shared.service import admin_app_of
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BIN = ROOT / ".data" / "bin"
OVERLAYS = (
    "overlays/production",
    "overlays/production-keda",
    "overlays/production-migrations",
    "kafka",
    "postgres",
)
# The oldest Kubernetes the README supports and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
SCHEMA_LOCATIONS = (
    "schemas/kubernetes/{{.NormalizedKubernetesVersion}}-local-strict/"
    "{{.ResourceKind}}{{.KindSuffix}}.json",
    "schemas/crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json",
)
SERVICES = ("orders", "payments", "customs", "fulfillment")
PARTITIONS = 6


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    return {
        overlay: subprocess.run(
            [str(BIN / "kustomize"), "build", str(K8S / overlay)],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        for overlay in OVERLAYS
    }


@pytest.fixture(scope="module")
def resources(built: dict[str, str]) -> list[dict]:
    """Every resource of every overlay, once (production-keda repeats production's)."""
    unique: dict[tuple[str, str, str], dict] = {}
    for text in built.values():
        for doc in yaml.safe_load_all(text):
            if doc:
                key = (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])
                unique.setdefault(key, doc)
    return list(unique.values())


def of_kind(resources: list[dict], kind: str) -> list[dict]:
    return [resource for resource in resources if resource["kind"] == kind]


def named(resources: list[dict], kind: str, name: str) -> dict:
    (found,) = [r for r in of_kind(resources, kind) if r["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_is_valid_in_strict_mode(
    built: dict[str, str], overlay: str, version: str
) -> None:
    locations = [
        argument for location in SCHEMA_LOCATIONS for argument in ("-schema-location", location)
    ]
    result = subprocess.run(
        [str(BIN / "kubeconform"), "-strict", "-summary", "-output", "json"]
        + ["-kubernetes-version", version, *locations, "-"],
        input=built[overlay],
        cwd=K8S,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(result.stdout)
    problems = [f"{r['kind']} {r['name']}: {r['msg']}" for r in report["resources"]]
    count = len([doc for doc in yaml.safe_load_all(built[overlay]) if doc])
    # No -ignore-missing-schemas: a resource without a schema is an error, not a skip.
    assert report["summary"] == {"valid": count, "invalid": 0, "errors": 0, "skipped": 0}, problems
    assert result.returncode == 0


def pod_templates(resources: list[dict]) -> Iterator[tuple[str, dict]]:
    for resource in resources:
        if resource["kind"] in ("Deployment", "Job"):
            yield f"{resource['kind']} {resource['metadata']['name']}", resource["spec"]["template"]


def test_no_container_runs_as_root(resources: list[dict]) -> None:
    templates = list(pod_templates(resources))
    assert len(templates) == 8, "four Deployments and four migration Jobs"
    for name, template in templates:
        pod = template["spec"]["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, name
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", name
        assert template["spec"]["automountServiceAccountToken"] is False, name
        for container in template["spec"]["containers"]:
            security = container["securityContext"]
            assert security.get("runAsUser", pod["runAsUser"]) != 0, name
            assert security.get("runAsNonRoot", True) is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name


def test_every_deployment_has_probes_and_resources(resources: list[dict]) -> None:
    deployments = of_kind(resources, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} == {f"{s}-api" for s in SERVICES}
    for deployment in deployments:
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        name = deployment["metadata"]["name"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] == "http", (name, probe)
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        resources_ = container["resources"]
        assert {"cpu", "memory"} <= set(resources_["requests"]), name
        assert "memory" in resources_["limits"], name
        # No CPU limit: CFS throttling of the event loop (deploy/k8s/base/service/deployment.yaml).
        assert "cpu" not in resources_["limits"], name
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports == {"http": 8000, "admin": 9000}, name
        spread = {
            c["topologyKey"]: c["whenUnsatisfiable"]
            for c in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        }
        assert spread == {
            "kubernetes.io/hostname": "DoNotSchedule",
            "topology.kubernetes.io/zone": "ScheduleAnyway",
        }, name


# Answered on both listeners; everything else the admin app serves is for operators.
BOTH_LISTENERS = {"/healthz", "/readyz"}


def operations(app: FastAPI) -> dict[tuple[str, str], str]:
    """(method, path) -> operationId of every route `app` documents (a handler's identity)."""
    return {
        (method.upper(), path): operation["operationId"]
        for path, methods in app.openapi()["paths"].items()
        for method, operation in methods.items()
        if path not in BOTH_LISTENERS
    }


async def status_of(app: FastAPI, method: str, path: str) -> int:
    """The status `app` answers, without starting its runtime (no lifespan, no I/O)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ehub.test") as client:
        return (await client.request(method, path)).status_code


async def test_no_ingress_path_reaches_an_operator_route(resources: list[dict]) -> None:
    from services.orders.main import app

    partner, operator = operations(app), operations(admin_app_of(app))
    assert ("GET", "/v1/admin/dead-letters") in operator, "the operator routes are found"
    # /metrics is undocumented; the partner listener has no route for it at all.
    assert await status_of(app, "GET", "/metrics") == 404
    services = {s["metadata"]["name"]: s for s in of_kind(resources, "Service")}
    ingresses = of_kind(resources, "Ingress")
    assert ingresses, "the partner API has an Ingress"
    for ingress in ingresses:
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = services[backend["name"]]
                (port,) = [
                    p for p in service["spec"]["ports"] if p["name"] == backend["port"]["name"]
                ]
                # The http container port is the partner app; admin is the operator app.
                assert port["targetPort"] == "http", (ingress["metadata"]["name"], path)
                assert backend["name"] == "orders-api"
                operator_handlers = set(operator.values())
                for method, route in operator:
                    if not route.startswith(path["path"]):
                        continue
                    concrete = re.sub(r"\{[^}]+\}", "x", route)
                    served_by = [
                        handler
                        for (m, template), handler in partner.items()
                        if m == method
                        and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), concrete)
                    ]
                    if served_by:
                        # A partner route of the same shape (their own orders): its handler
                        # is the partner's, never an operator's.
                        assert not set(served_by) & operator_handlers, (method, route)
                    else:
                        assert await status_of(app, method, concrete) in (404, 405), route
    assert not any(s.endswith("-admin") for s in _ingress_backends(ingresses))


def _ingress_backends(ingresses: list[dict]) -> set[str]:
    return {
        path["backend"]["service"]["name"]
        for ingress in ingresses
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }


def selects(selector: dict, labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and value is None:
            return False
        if operator == "DoesNotExist" and value is not None:
            return False
    return True


def egress_allowed(policies: list[dict], labels: dict[str, str], address: str, port: int) -> bool:
    """Whether NetworkPolicies let a pod with `labels` open TCP to an address outside the
    cluster: only ipBlock peers can match such an address, and an egress-isolated pod gets
    out only through a rule that allows it."""
    target = ipaddress.ip_address(address)
    applying = [
        p
        for p in policies
        if "Egress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels)
    ]
    assert applying, "the pod is not egress-isolated at all"
    for policy in applying:
        for rule in policy["spec"].get("egress", []):
            ports = rule.get("ports")
            if ports and not any(p.get("port") == port and p["protocol"] == "TCP" for p in ports):
                continue
            for peer in rule.get("to", []):
                block = peer.get("ipBlock")
                if not block:
                    continue
                network = ipaddress.ip_network(block["cidr"])
                if target.version != network.version or target not in network:
                    continue
                if not any(
                    target in ipaddress.ip_network(carved)
                    for carved in block.get("except", [])
                    if ipaddress.ip_network(carved).version == target.version
                ):
                    return True
    return False


def pod_labels(resources: list[dict], deployment: str) -> dict[str, str]:
    return named(resources, "Deployment", deployment)["spec"]["template"]["metadata"]["labels"]


# Computed in-process: no packet is sent to any of these.
PUBLIC = ("1.1.1.1", "8.8.8.8", "2606:4700:4700::1111")
NOT_PUBLIC = (
    "10.0.0.1",
    "10.96.0.10",
    "172.16.5.4",
    "172.31.255.1",
    "192.168.1.10",
    "100.64.0.1",
    "127.0.0.1",
    "169.254.169.254",
    "0.0.0.0",
    "224.0.0.1",
    "fd00:ec2::254",
    "fe80::1",
    "::1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
)


def test_the_webhook_egress_admits_public_https_and_refuses_private_addresses(
    resources: list[dict],
) -> None:
    policies = [
        p
        for p in of_kind(resources, "NetworkPolicy")
        if p["metadata"].get("namespace") == "liege-ehub"
    ]
    orders = pod_labels(resources, "orders-api")
    for address in PUBLIC:
        assert egress_allowed(policies, orders, address, 443), address
        assert not egress_allowed(policies, orders, address, 80), address
    for address in NOT_PUBLIC:
        assert not egress_allowed(policies, orders, address, 443), address
    # Only orders sends webhooks; the other services reach nothing outside the cluster.
    for service in ("payments", "customs", "fulfillment"):
        labels = pod_labels(resources, f"{service}-api")
        assert not any(egress_allowed(policies, labels, a, 443) for a in PUBLIC), service


def test_disruption_budgets_let_one_pod_go_at_a_time(resources: list[dict]) -> None:
    budgets = of_kind(resources, "PodDisruptionBudget")
    assert len(budgets) == len(SERVICES)
    for budget in budgets:
        assert budget["spec"] == budget["spec"] | {"maxUnavailable": 1}
        assert "minAvailable" not in budget["spec"]


def config_value(resources: list[dict], key: str) -> str:
    (config,) = {
        json.dumps(c["data"], sort_keys=True)
        for c in of_kind(resources, "ConfigMap")
        if c["metadata"]["name"].startswith("ehub-config")
    }
    return json.loads(config)[key]


def test_autoscaling_fits_the_partitions_and_the_connection_budget(resources: list[dict]) -> None:
    bounds = [
        (h["metadata"]["name"], h["spec"]["minReplicas"], h["spec"]["maxReplicas"])
        for h in of_kind(resources, "HorizontalPodAutoscaler")
    ] + [
        (s["metadata"]["name"], s["spec"]["minReplicaCount"], s["spec"]["maxReplicaCount"])
        for s in of_kind(resources, "ScaledObject")
    ]
    assert len(bounds) == 2 * len(SERVICES)
    topics = of_kind(resources, "KafkaTopic")
    event_partitions = {
        t["spec"]["partitions"] for t in topics if t["spec"]["topicName"].endswith(".events")
    }
    assert event_partitions == {PARTITIONS}
    per_pod = int(config_value(resources, "DB_POOL_SIZE")) + int(
        config_value(resources, "DB_MAX_OVERFLOW")
    )
    cluster = named(resources, "Cluster", "ehub-db")
    roles = {role["name"]: role["connectionLimit"] for role in cluster["spec"]["managed"]["roles"]}
    for name, low, high in bounds:
        service = name.removesuffix("-api")
        assert 2 <= low <= high <= PARTITIONS, name
        assert high * per_pod <= roles[service], (name, high * per_pod, roles[service])
    parameters = cluster["spec"]["postgresql"]["parameters"]
    available = int(parameters["max_connections"]) - int(
        parameters["superuser_reserved_connections"]
    )
    assert sum(roles.values()) <= available, (sum(roles.values()), available)
    pooler = named(resources, "Pooler", "ehub-db-pooler-rw")["spec"]["pgbouncer"]
    # Session pooling: one server connection per client connection, so the pooler's ceiling
    # per database and role must cover a service at its maximum (shared/messaging/relay.py
    # holds session advisory locks, which transaction pooling would hand to strangers).
    assert pooler["poolMode"] == "session"
    assert int(pooler["parameters"]["default_pool_size"]) >= PARTITIONS * per_pod


def test_each_database_is_reachable_by_its_own_roles_only(resources: list[dict]) -> None:
    cluster = named(resources, "Cluster", "ehub-db")
    rules = [line.split() for line in cluster["spec"]["postgresql"]["pg_hba"]]
    for service in SERVICES:
        allowed = [rule for rule in rules if rule[1] == f"ehub_{service}"]
        assert allowed == [
            ["hostssl", f"ehub_{service}", f"{service},{service}_migrator", "all", "scram-sha-256"]
        ]
    assert rules[-1][0] == "host" and rules[-1][-1] == "reject"
    assert set(rules[-1][2].split(",")) == {r for s in SERVICES for r in (s, f"{s}_migrator")}
    jobs = of_kind(resources, "Job")
    for service in SERVICES:
        (job,) = [j for j in jobs if j["metadata"]["name"] == f"{service}-migrate"]
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] + container["args"] == [
            "python",
            "-m",
            "shared.migrations",
            service,
            "--grant-dml-to",
            service,
        ]
        (env,) = container["env"]
        assert env["valueFrom"]["secretKeyRef"]["name"] == f"{service}-migrator-db"
    assert config_value(resources, "MIGRATE_ON_START") == "false"


def acl(user: dict, resource_type: str, name: str) -> set[str]:
    operations: set[str] = set()
    for entry in user["spec"]["authorization"]["acls"]:
        resource = entry["resource"]
        matches = (
            name.startswith(resource["name"])
            if resource.get("patternType") == "prefix"
            else name == resource["name"]
        )
        if resource["type"] == resource_type and matches:
            operations |= set(entry["operations"])
    return operations


def test_each_kafka_user_may_do_what_its_service_does(resources: list[dict]) -> None:
    import importlib

    kafka = named(resources, "Kafka", "ehub")["spec"]["kafka"]
    (listener,) = kafka["listeners"]
    assert listener["tls"] is True and listener["authentication"]["type"] == "scram-sha-512"
    assert kafka["authorization"]["type"] == "simple"
    assert config_value(resources, "KAFKA_SECURITY_PROTOCOL") == "SASL_SSL"
    assert config_value(resources, "KAFKA_BOOTSTRAP_SERVERS").endswith(f":{listener['port']}")
    for service in SERVICES:
        user = named(resources, "KafkaUser", f"{service}-kafka")
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        assert {"Write", "Describe"} <= acl(user, "topic", f"{service}.events")
        subscriptions = importlib.import_module(f"services.{service}.handlers").SUBSCRIPTIONS
        for topic in subscriptions:
            assert {"Read", "Describe"} <= acl(user, "topic", topic), (service, topic)
        for topic in (f"{service}.dlq", f"{service}.dlq.resolutions"):
            assert {"Read", "Write", "Describe"} <= acl(user, "topic", topic), (service, topic)
        assert "Read" in acl(user, "group", service)
        others = {f"{s}.events" for s in SERVICES} - {f"{service}.events", *subscriptions}
        assert not any(acl(user, "topic", topic) for topic in others), service
        assert not acl(user, "group", next(s for s in SERVICES if s != service))
    assert "kafkaExporter" in named(resources, "Kafka", "ehub")["spec"]
    assert kafka["metricsConfig"]["type"] == "jmxPrometheusExporter"


def test_every_topic_of_the_code_exists_and_dead_letters_keep_30_days(
    resources: list[dict],
) -> None:
    topics = {t["spec"]["topicName"]: t["spec"] for t in of_kind(resources, "KafkaTopic")}
    assert set(all_topics()) <= set(topics)
    for name, spec in topics.items():
        if ".dlq" in name:
            assert int(spec["config"]["retention.ms"]) >= DEAD_LETTER_RETENTION_MS, name
            assert DEAD_LETTER_RETENTION_MS >= 30 * 24 * 3600 * 1000


# Read by the image's shell (SERVICE) or by uvicorn itself, not by the settings.
NOT_SETTINGS = {"SERVICE", "FORWARDED_ALLOW_IPS"}


def test_every_variable_the_manifests_set_is_a_setting(resources: list[dict]) -> None:
    fields = {name.upper() for name in ServiceSettings.model_fields}
    (deployment, *_) = of_kind(resources, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    names = {env["name"] for env in container["env"]}
    names |= {
        key
        for c in of_kind(resources, "ConfigMap")
        if c["metadata"]["name"].startswith("ehub-config")
        for key in c["data"]
    }
    assert names - NOT_SETTINGS <= fields, sorted(names - NOT_SETTINGS - fields)


def test_the_kafka_clients_speak_tls_and_scram_when_told(tmp_path: Path) -> None:
    import certifi

    settings = ServiceSettings(
        service_name="orders",
        database_url="postgresql+asyncpg://unused/unused",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="orders-kafka",
        kafka_sasl_password="secret",
        kafka_ssl_cafile=certifi.where(),
    )
    options = connection_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "orders-kafka",
        "secret",
    )
    assert options["ssl_context"].verify_mode.name == "CERT_REQUIRED"
    local = connection_options(settings.model_copy(update={"kafka_security_protocol": "PLAINTEXT"}))
    assert set(local) == {"bootstrap_servers", "security_protocol"}
