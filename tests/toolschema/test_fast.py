"""The closure validator (replay/toolvalid_fast.py) answers exactly as jsonschema does on the
schemas tools ship (pydantic, strict Agents SDK style, hand-written) over awkward instances,
and declines (None: jsonschema is used) anything outside its subset."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

import pytest
from jsonschema.validators import validator_for
from pydantic import BaseModel, Field

from replay.toolvalid_fast import fast_validator


class Color(StrEnum):
    red = "red"
    blue = "blue"


class Address(BaseModel):
    city: str
    zip: str | None = None


class Order(BaseModel):
    order_id: str = Field(min_length=2, max_length=8, pattern=r"^o-")
    amount: float = Field(gt=0, le=1000)
    qty: int = Field(ge=1)
    color: Color = Color.red
    mode: Literal["fast", "slow"] = "fast"
    tags: list[str] = Field(default=[], max_length=3)
    ship_to: Address | None = None
    notes: dict[str, int] = {}


class Tree(BaseModel):
    name: str
    children: list[Tree] = []


STRICT = {"type": "object", "additionalProperties": False, "required": ["to", "amount"],
          "properties": {"to": {"type": "string"}, "amount": {"type": "integer"},
                         "memo": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}
HAND = {"type": "object", "properties": {
    "k": {"enum": [1, "a", None, [1, 2], {"x": True}]}, "c": {"const": 0},
    "one": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0}]},
    "both": {"allOf": [{"type": "string"}, {"minLength": 1}]},
    "n": {"type": ["integer", "null"], "exclusiveMinimum": 0, "exclusiveMaximum": 9}}}
SCHEMAS = [Order.model_json_schema(), Tree.model_json_schema(), STRICT, HAND, True, {}]

INSTANCES: list[Any] = [
    None, True, 1, 1.0, "s", [], {},
    {"order_id": "o-1", "amount": 5, "qty": 1},
    {"order_id": "o-1", "amount": 0, "qty": 1},
    {"order_id": "x-1", "amount": 5.5, "qty": True},
    {"order_id": "o-123456789", "amount": 1000, "qty": 2.0, "color": "green"},
    {"order_id": "o-1", "amount": 1, "qty": 1, "mode": "slow", "tags": ["a", "b", "c", "d"]},
    {"order_id": "o-1", "amount": 1, "qty": 1, "ship_to": {"zip": "1"}},
    {"order_id": "o-1", "amount": 1, "qty": 1, "ship_to": {"city": "x"}, "notes": {"a": 1.5}},
    {"name": "a", "children": [{"name": "b", "children": [{"name": 3}]}]},
    {"name": "a", "children": [{"name": "b", "children": []}]},
    {"to": "bob", "amount": 5}, {"to": "bob", "amount": 5, "extra": 1},
    {"to": "bob", "amount": 5, "memo": 3}, {"to": "bob", "amount": True},
    {"k": 1.0}, {"k": True}, {"k": [1, 2]}, {"k": {"x": 1}}, {"c": False}, {"c": 0.0},
    {"one": 1}, {"one": 1.5}, {"one": -1.5}, {"both": ""}, {"both": "x"},
    {"n": 0}, {"n": 9}, {"n": 4}, {"n": None}, {"n": 4.0},
]


@pytest.mark.parametrize("index", range(len(SCHEMAS)))
def test_fast_answers_as_jsonschema(index: int) -> None:
    schema = SCHEMAS[index]
    fast = fast_validator(schema)
    assert fast is not None, "every schema here is inside the subset"
    slow = validator_for(schema)(schema)
    for instance in INSTANCES:
        assert fast(instance) == slow.is_valid(instance), instance


@pytest.mark.parametrize("schema", [
    {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
    {"not": {"type": "string"}},
    {"$schema": "http://json-schema.org/draft-04/schema#", "exclusiveMinimum": True},
    {"$schema": "http://json-schema.org/draft-07/schema#", "$ref": "#/definitions/a",
     "definitions": {"a": {"type": "string"}}, "type": "integer"},
    {"$ref": "#"},
    {"type": "array", "prefixItems": [{"type": "string"}]},
])
def test_outside_the_subset_is_declined(schema: dict[str, Any]) -> None:
    assert fast_validator(schema) is None
