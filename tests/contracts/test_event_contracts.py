"""The published event contracts (contracts/) agree with the models, and the gate stops a
breaking change that keeps its schema version."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from shared.events import EVENT_TYPES, OrderPlaced, PaymentCaptured

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import contracts  # noqa: E402


def schema_of(model) -> dict:
    return model.model_json_schema(mode="serialization")


def test_the_committed_contracts_are_those_of_the_models():
    assert contracts.gate() == []


def test_every_event_type_has_a_published_schema_of_its_version():
    published = {path.name for path in (ROOT / "contracts" / "events").glob("*.json")}
    for contract in EVENT_TYPES.values():
        assert f"{contract.__name__}.v{contract.schema_version}.json" in published


def test_the_asyncapi_document_passes_the_asyncapi_parser():
    parsed = subprocess.run(
        ["node", "contracts/tooling/validate.mjs", "contracts/asyncapi.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    assert "valid: AsyncAPI 3.0.0, 4 channels, 18 messages" in parsed.stdout


def test_the_asyncapi_parser_refuses_a_broken_document(tmp_path):
    document = (ROOT / "contracts" / "asyncapi.yaml").read_text()
    broken = tmp_path / "asyncapi.yaml"
    broken.write_text(document.replace("#/components/schemas/MoneyAmount", "#/nowhere/Money"))
    parsed = subprocess.run(
        ["node", str(ROOT / "contracts/tooling/validate.mjs"), str(broken)],
        cwd=ROOT / "contracts" / "tooling",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert parsed.returncode == 1
    assert "#/nowhere/Money" in parsed.stdout


def test_a_removed_field_is_breaking():
    old = schema_of(PaymentCaptured)
    new = json.loads(json.dumps(old))
    del new["properties"]["amount"]
    new["required"].remove("amount")
    assert contracts.breaking_changes(old, new) == ["data.amount: removed"]
    assert contracts.breaking_changes(old, old) == []


def test_a_type_change_deep_in_the_order_is_breaking():
    old = schema_of(OrderPlaced)
    new = json.loads(json.dumps(old))
    new["$defs"]["OrderItem"]["properties"]["quantity"] = {"type": "string"}
    assert contracts.breaking_changes(old, new) == ["data.order.items[].quantity: type changed"]


def test_a_new_required_field_is_breaking_and_a_new_optional_one_is_not():
    old = schema_of(PaymentCaptured)
    optional = json.loads(json.dumps(old))
    optional["properties"]["note"] = {"type": "string", "default": ""}
    required = json.loads(json.dumps(optional))
    required["required"].append("note")
    assert contracts.breaking_changes(old, optional) == []
    assert contracts.breaking_changes(old, required) == ["data.note: new required field"]


def test_tighter_bounds_are_not_a_change_of_shape():
    old = schema_of(OrderPlaced)
    new = json.loads(json.dumps(old))
    new["$defs"]["OrderItem"]["properties"]["sku"]["maxLength"] = 32
    assert contracts.breaking_changes(old, new) == []


def test_the_gate_names_a_breaking_change_that_kept_its_version(tmp_path):
    published = tmp_path / "contracts"
    shutil.copytree(ROOT / "contracts", published, ignore=shutil.ignore_patterns("node_modules"))
    committed = published / "events" / "PaymentCaptured.v1.json"
    schema = json.loads(committed.read_text())
    schema["properties"]["capture_reference"] = {"type": "string"}
    schema["required"].append("capture_reference")
    committed.write_text(json.dumps(schema))
    problems = contracts.gate(published)
    assert problems[0] == (
        "PaymentCaptured v1 changed in a breaking way (data.capture_reference: removed): "
        "raise its schema_version"
    )


def test_a_raised_version_must_still_read_the_previous_one():
    previous = schema_of(PaymentCaptured)
    readable = json.loads(json.dumps(previous))
    readable["properties"]["note"] = {"type": "string", "default": ""}
    del readable["properties"]["amount"]
    unreadable = json.loads(json.dumps(readable))
    unreadable["required"].append("note")
    assert contracts.unreadable_changes(previous, readable) == []
    assert contracts.unreadable_changes(previous, unreadable) == ["data.note: new required field"]
