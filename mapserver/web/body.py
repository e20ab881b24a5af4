"""The request's JSON body, read one way by every view."""

from __future__ import annotations

from flask import request

from mapserver.errors import ValidationError


def json_object(*, required: bool = False) -> dict:
    """The request's JSON body as an object: ``{}`` when there is none (a refusal when
    ``required``), and a refusal naming the body when it is JSON but not an object."""
    body = request.get_json(silent=True)
    if body is None and not required:
        return {}
    if not isinstance(body, dict):
        raise ValidationError.for_request(None, "body must be a JSON object")
    return body
