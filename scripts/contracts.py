"""The published event contracts under contracts/, generated from shared/events.py.

    python scripts/contracts.py write    regenerate contracts/ after changing an event
    python scripts/contracts.py check    what `make test` checks: the gate below

For every event type and version there is a JSON Schema of its `data`
(contracts/events/<Type>.v<N>.json); contracts/envelope.json is the CloudEvents envelope and
contracts/asyncapi.yaml the AsyncAPI 3.0 document of the topics, keys, headers and who sends
and receives what. The compatibility gate fails when an event's schema changes in a way that
breaks a reader (a field removed or renamed, a type changed, a new required field) while its
`schema_version` stays the same; once the version is raised the previous version's schema
stays published, and the current model must still read it (consumers read N and N-1).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.events import EVENT_TYPES, Envelope, Event, Topics  # noqa: E402
from shared.telemetry import EVENT_TYPE_HEADER  # noqa: E402

CONTRACTS = ROOT / "contracts"
SERVICES = ("orders", "payments", "customs", "fulfillment")
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_BASE = "https://liege-ehub.example/contracts/"


def schema_path(contract: type[Event], version: int | None = None) -> str:
    return f"events/{contract.__name__}.v{version or contract.schema_version}.json"


def event_schema(contract: type[Event]) -> dict[str, Any]:
    """The `data` of one event as it travels: serialization mode, so decimals are strings."""
    schema = contract.model_json_schema(mode="serialization")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_ID_BASE + schema_path(contract),
        "x-event-type": contract.type_name(),
        "x-schema-version": contract.schema_version,
        "x-topic": contract.topic,
        **schema,
    }


def envelope_schema() -> dict[str, Any]:
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_ID_BASE + "envelope.json",
        **Envelope.model_json_schema(mode="serialization"),
    }


def _subscribers() -> dict[str, list[str]]:
    """Topic → the services that consume it, from each service's own subscription list."""
    readers: dict[str, list[str]] = {topic: [] for topic in Topics.ALL}
    for service in SERVICES:
        for topic in importlib.import_module(f"services.{service}.handlers").SUBSCRIPTIONS:
            readers[topic].append(service)
    return readers


def _inline_defs(schema: dict[str, Any], shared: dict[str, Any]) -> dict[str, Any]:
    """Moves a schema's `$defs` into the document's components (AsyncAPI has no `$defs`)."""
    moved = json.loads(json.dumps(schema).replace('"#/$defs/', '"#/components/schemas/'))
    for name, definition in moved.pop("$defs", {}).items():
        if shared.setdefault(name, definition) != definition:
            raise ValueError(f"two different models are both named {name}")
    return moved


def asyncapi_document() -> dict[str, Any]:
    components: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    for contract in EVENT_TYPES.values():
        name = contract.__name__
        data = _inline_defs(contract.model_json_schema(mode="serialization"), components)
        components[f"{name}Data"] = data
        messages[name] = {
            "name": contract.type_name(),
            "title": name,
            "summary": (contract.__doc__ or name).strip().splitlines()[0],
            "contentType": "application/cloudevents+json",
            "headers": {"$ref": "#/components/schemas/KafkaHeaders"},
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": contract.type_name()},
                            "schemaversion": {"const": contract.schema_version},
                            "data": {"$ref": f"#/components/schemas/{name}Data"},
                        },
                    },
                ]
            },
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "format": "uuid", "description": "the order id"},
                    "bindingVersion": "0.5.0",
                }
            },
        }
        channel = channels.setdefault(
            contract.topic,
            {"address": contract.topic, "messages": {}, "description": _topic_text(contract)},
        )
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    components["Envelope"] = _inline_defs(Envelope.model_json_schema(mode="serialization"), {})
    components["KafkaHeaders"] = {
        "type": "object",
        "properties": {
            EVENT_TYPE_HEADER: {
                "type": "string",
                "description": "The CloudEvents type, so a consumer skips what it does not "
                "handle without parsing the body",
            },
            "traceparent": {"type": "string", "description": "W3C trace context"},
            "tracestate": {"type": "string", "description": "W3C trace context"},
        },
        "required": [EVENT_TYPE_HEADER],
    }
    operations: dict[str, Any] = {}
    readers = _subscribers()
    for topic in Topics.ALL:
        producer = topic.split(".")[0]
        channel_ref = {"$ref": f"#/channels/{_channel_id(topic)}"}
        carried = [
            {"$ref": f"#/channels/{_channel_id(topic)}/messages/{name}"}
            for name in channels[topic]["messages"]
        ]
        operations[f"{producer}-sends"] = {
            "action": "send",
            "channel": channel_ref,
            "summary": f"The {producer} service publishes its events through its outbox",
            "messages": carried,
        }
        for reader in readers[topic]:
            operations[f"{reader}-receives-{producer}"] = {
                "action": "receive",
                "channel": channel_ref,
                "summary": f"The {reader} service consumes {topic} as group {reader}",
                "messages": carried,
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Liège eHub events",
            "version": "1.0.0",
            "description": "The events the four services exchange over Kafka. Each is a "
            "CloudEvents 1.0 envelope in structured mode with a `schemaversion` extension; the "
            "partition key is the order id, so one order's events stay in order. Generated by "
            "scripts/contracts.py from shared/events.py: do not edit by hand.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": {_channel_id(topic): channels[topic] for topic in Topics.ALL},
        "operations": operations,
        "components": {"messages": messages, "schemas": components},
    }


def _channel_id(topic: str) -> str:
    return topic.replace(".", "-")


def _topic_text(contract: type[Event]) -> str:
    return f"Events of the {contract.topic.split('.')[0]} service, keyed by order id"


def generated_files() -> dict[str, str]:
    """Relative path under contracts/ → text, for the current models."""
    files = {
        schema_path(contract): _json(event_schema(contract)) for contract in EVENT_TYPES.values()
    }
    files["envelope.json"] = _json(envelope_schema())
    files["asyncapi.yaml"] = yaml.safe_dump(asyncapi_document(), sort_keys=False, width=100)
    return files


def _json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# ---- the compatibility gate -----------------------------------------------------------


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    while isinstance(node, Mapping) and "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _shape(node: Any, root: Mapping[str, Any]) -> Any:
    """What a reader depends on in a schema node: its types, not its titles or bounds."""
    node = _resolve(node, root)
    if not isinstance(node, Mapping):
        return node
    if "anyOf" in node:
        return ("anyOf", sorted(repr(_shape(option, root)) for option in node["anyOf"]))
    kind = node.get("type")
    if kind == "object" and "properties" in node:
        return ("object",)
    if kind == "array":
        return ("array", repr(_shape(node.get("items"), root)))
    return (kind, node.get("format"), repr(node.get("enum")), repr(node.get("const")))


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any], path: str = "") -> list[str]:
    """Changes from `old` to `new` that break a reader of either side.

    A removed (or renamed) field breaks readers that need it; a new required field breaks a
    reader of documents written before it existed; a changed type breaks both.
    """
    return _compare(old, new, old, new, path or "data")


def _compare(
    old: Any, new: Any, old_root: Mapping[str, Any], new_root: Mapping[str, Any], path: str
) -> list[str]:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    if _shape(old, old_root) != _shape(new, new_root):
        return [f"{path}: type changed"]
    if "anyOf" in old:
        found = []
        for old_option, new_option in zip(old["anyOf"], new["anyOf"], strict=True):
            found += _compare(old_option, new_option, old_root, new_root, path)
        return found
    if old.get("type") == "array":
        return _compare(old.get("items"), new.get("items"), old_root, new_root, f"{path}[]")
    if old.get("type") != "object":
        return []
    found = []
    old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
    for field in old_fields.keys() - new_fields.keys():
        found.append(f"{path}.{field}: removed")
    for field in set(new.get("required", ())) - set(old.get("required", ())):
        found.append(
            f"{path}.{field}: now required"
            if field in old_fields
            else f"{path}.{field}: new required field"
        )
    for field in old_fields.keys() & new_fields.keys():
        found += _compare(
            old_fields[field], new_fields[field], old_root, new_root, f"{path}.{field}"
        )
    return sorted(found)


def unreadable_changes(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What stops the current model reading a document of the previous version.

    Fields the previous version had and the current one dropped are ignored on read
    (tolerant reader), so only type changes and new required fields count.
    """
    return [change for change in breaking_changes(previous, current) if "removed" not in change]


def gate(contracts_dir: Path = CONTRACTS) -> list[str]:
    """Every reason the committed contracts and the models disagree; empty when they agree."""
    problems = []
    generated = generated_files()
    for contract in EVENT_TYPES.values():
        current = json.loads(generated[schema_path(contract)])
        committed_file = contracts_dir / schema_path(contract)
        if committed_file.exists():
            committed = json.loads(committed_file.read_text())
            changes = breaking_changes(committed, current)
            if changes:
                problems.append(
                    f"{contract.__name__} v{contract.schema_version} changed in a breaking way "
                    f"({'; '.join(changes)}): raise its schema_version"
                )
        if contract.schema_version > 1:
            previous_file = contracts_dir / schema_path(contract, contract.schema_version - 1)
            if not previous_file.exists():
                problems.append(
                    f"{contract.__name__}: v{contract.schema_version - 1} is not published; "
                    "a raised version keeps the previous one under contracts/events/"
                )
            else:
                changes = unreadable_changes(json.loads(previous_file.read_text()), current)
                if changes:
                    problems.append(
                        f"{contract.__name__} v{contract.schema_version} cannot read "
                        f"v{contract.schema_version - 1} ({'; '.join(changes)}): give the new "
                        "fields defaults or keep their types"
                    )
    for relative, text in generated.items():
        committed_file = contracts_dir / relative
        if not committed_file.exists() or committed_file.read_text() != text:
            problems.append(f"contracts/{relative} is out of date: run `make contracts`")
    return problems


def write(contracts_dir: Path = CONTRACTS) -> Iterable[str]:
    for relative, text in generated_files().items():
        target = contracts_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            yield relative


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("write", "check"))
    arguments = parser.parse_args()
    if arguments.command == "write":
        breaking = [problem for problem in gate() if "out of date" not in problem]
        for problem in breaking:
            print(f"refused: {problem}")
        if breaking:
            return 1
        for relative in write():
            print(f"wrote contracts/{relative}")
        return 0
    problems = gate()
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
