"""The webhook bodies refuse what their schema refuses, and take what it admits (no I/O)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from services.orders.webhook_api import (
    WEBHOOK_URL_LENGTH,
    RedeliverRangeRequest,
    RotateSecretRequest,
    WebhookRequest,
)


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (WebhookRequest, {"url": "https://partner.example/hooks", "retarget_pending": 0}),
        (RedeliverRangeRequest, {"since": 0, "until": "2026-12-02T00:00:00Z"}),
        (RedeliverRangeRequest, {"since": "0.5", "until": "2026-12-02T00:00:00Z"}),
        (
            RedeliverRangeRequest,
            {"since": "2026-12-01T00:00:00Z", "until": "2026-12-02T00:00:00Z", "retarget": 1},
        ),
        (RotateSecretRequest, {"overlap_seconds": False}),
        (RotateSecretRequest, {"overlap_seconds": "60"}),
    ],
)
def test_no_number_for_a_time_and_no_coercion_of_booleans_or_integers(model, body):
    with pytest.raises(ValidationError):
        model.model_validate_json(json.dumps(body))


def test_a_url_the_schema_admits_fits_its_column_once_normalised():
    longest = WebhookRequest.model_json_schema()["properties"]["url"]["maxLength"]
    url = "https://" + "a" * (longest - len("https://.example")) + ".example"

    request = WebhookRequest.model_validate_json(json.dumps({"url": url}))

    assert len(url) == longest
    assert len(str(request.url)) <= WEBHOOK_URL_LENGTH


def test_a_url_longer_than_the_schema_says_is_refused():
    longest = WebhookRequest.model_json_schema()["properties"]["url"]["maxLength"]

    with pytest.raises(ValidationError):
        WebhookRequest.model_validate_json(
            json.dumps({"url": "https://" + "a" * longest + ".example"})
        )


def test_an_empty_range_is_a_valid_request():
    at = "2026-12-02T01:19:27.765963Z"

    request = RedeliverRangeRequest.model_validate_json(json.dumps({"since": at, "until": at}))

    assert request.since == request.until
