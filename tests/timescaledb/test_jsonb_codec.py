"""The jsonb codec of the connections (binary format: version byte 1, then the JSON text),
without a server: strict encoding as the json module's, reading of any JSON text."""

from __future__ import annotations

import json

import pytest

from gdpo_timescaledb.connection import _decode_jsonb, _encode_jsonb


@pytest.mark.parametrize("value", [{}, {"a": [1, 2.5, None, True], "ż": "ł"}, {"big": 2**70}, [1, {"x": []}]])
def test_values_round_trip_as_compact_utf8(value):
    data = _encode_jsonb(value)
    assert data[:1] == b"\x01" and b" " not in data
    assert json.loads(data[1:].decode("utf-8")) == value
    assert _decode_jsonb(data) == value


def test_int_keys_are_text_keys_as_before():
    assert _encode_jsonb({1: 2}) == b'\x01{"1":2}'


@pytest.mark.parametrize("value", [{"x": float("nan")}, {"x": float("inf")}, {"x": {1, 2}}, {"x": b"raw"}])
def test_values_that_are_not_json_are_refused(value):
    with pytest.raises((TypeError, ValueError)):
        _encode_jsonb(value)


def test_text_the_server_spaces_is_read():
    assert _decode_jsonb(b'\x01{"a": [1, 2], "b": {"c": null}}') == {"a": [1, 2], "b": {"c": None}}
