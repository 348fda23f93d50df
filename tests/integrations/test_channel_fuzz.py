"""Property-based fuzzing of every channel's input parsing (issue 8: no message ever
dropped, no 5xx on bad input).

The parsers are called directly, not through HTTP: a fuzzed body sent over HTTP would
stop at the signature check (403) of the WhatsApp and Twilio channels and never reach
them. Checked, for arbitrary JSON-like values (``st.recursive`` of dicts, lists, text,
integers, floats, booleans and None, with the channels' own field names and values
mixed in so that deep branches are reached) and for mutations of the real webhook
bodies in ``tests/data/channels/whatsapp_cloud/``:

- ``integrations.whatsapp``: :func:`parse_body` always returns a list of well-formed
  :class:`Inbound` items and :func:`parse_message` an ``Inbound`` or None; neither raises.
- ``integrations.twilio_whatsapp``: :func:`parse_form_body` takes any bytes and gives
  text fields (and reads back what ``urlencode`` wrote, blank values kept);
  :func:`parse_form` takes any text form, returns an ``Inbound`` or None, never raises,
  and stays quick whatever ``NumMedia`` says.
- ``integrations.rest``: :func:`check_rest_body` takes any bytes and returns None or
  ``(400 | 413, text)``; when it returns None the body really is an object with a
  usable ``sender`` and ``message`` (the middleware then reads ``body["sender"]``);
  :func:`check_fields` takes any two JSON values.
- ``integrations.socketio``: :func:`parse_metadata` returns a dict or None for any value
  (also deeply nested JSON text), :func:`valid_session_id` a bool,
  :func:`session_id_problem` a text, :func:`parse_origins` a list, None or ValueError.

"Never raises" means no exception other than the documented one (only
``parse_origins`` documents one: ValueError). Also: every real fixture still parses to
exactly the same items after unknown keys are added anywhere in it (and to exactly one
item, so none is dropped), and likewise for Twilio forms built from the fields the
module docstring names.
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from integrations.rest import (
    MAX_BODY_BYTES,
    MAX_MESSAGE_CHARS,
    MAX_SENDER_CHARS,
    _sender_of,
    check_fields,
    check_rest_body,
)
from integrations.socketio import parse_metadata, parse_origins, session_id_problem, valid_session_id
from integrations.twilio_whatsapp import parse_form, parse_form_body
from integrations.whatsapp import PARENT_ACTIONS, Inbound, parse_body, parse_message

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "channels" / "whatsapp_cloud"
BODIES: Dict[str, Dict[str, Any]] = {
    path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(FIXTURES.glob("*.json"))
}
FUZZ = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

ACTIONS = ("dispatch", "voice_note", "not_understood", "reengage", "record")
KIND = re.compile(r"[a-z0-9_]{1,40}")
#: Deeper than json's C decoder (and Python's recursion limit) goes.
DEEP = 10_000


# ------------------------------------------------------------------ strategies


def _walk(node: Any, path: Tuple[Any, ...] = ()) -> List[Tuple[Tuple[Any, ...], Any]]:
    """Every ``(path, node)`` of a JSON value, the root first."""
    found = [(path, node)]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _walk(child, path + (key,))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _walk(child, path + (index,))
    return found


def _vocabulary() -> Tuple[List[str], List[Any]]:
    """Keys and scalar values of the real fixtures, plus the Graph constants parse_body
    looks for, so random values reach past the first checks."""
    keys, values = set(), set()
    for body in BODIES.values():
        for path, node in _walk(body):
            if path and isinstance(path[-1], str):
                keys.add(path[-1])
            if isinstance(node, (str, int, float, bool)):
                values.add(node)
    values.update(["whatsapp_business_account", "messages", "failed", "button_reply", "list_reply",
                   "text", "interactive", "audio", "image", "131047", 131047])
    return sorted(keys), sorted(values, key=repr)


FIELD_NAMES, FIELD_VALUES = _vocabulary()

keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(FIELD_VALUES)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=6),
    max_leaves=40,
)
json_objects = st.dictionaries(keys, json_values, max_size=6)


def _mutate(draw: st.DrawFn, value: Any, changes: int) -> Any:
    """A copy of ``value`` with ``changes`` changes: a node replaced by a random value, a
    key or list item deleted, or a random key/item added. The root stays what it was
    (the route answers 400 to a body that is not an object, before parsing)."""
    value = copy.deepcopy(value)
    for _ in range(changes):
        path, node = draw(st.sampled_from(_walk(value)))
        operation = draw(st.sampled_from(["replace", "delete", "add"]))
        if operation in ("replace", "delete") and path:
            parent = value
            for step in path[:-1]:
                parent = parent[step]
            if operation == "replace":
                parent[path[-1]] = draw(json_values)
            else:
                del parent[path[-1]]
        elif isinstance(node, dict):
            node[draw(keys)] = draw(json_values)
        elif isinstance(node, list):
            node.insert(draw(st.integers(0, len(node))), draw(json_values))
    return value


def _first_message(body: Any) -> Optional[Dict[str, Any]]:
    try:
        message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    except (KeyError, IndexError, TypeError):
        return None
    return message if isinstance(message, dict) else None


#: The ``messages[]`` items of the fixtures (the status fixtures have none).
MESSAGES = [m for m in map(_first_message, BODIES.values()) if m is not None]


@st.composite
def mutated_bodies(draw: st.DrawFn) -> Dict[str, Any]:
    """A real webhook body with 1-4 random changes."""
    return _mutate(draw, BODIES[draw(st.sampled_from(sorted(BODIES)))], draw(st.integers(1, 4)))


@st.composite
def mutated_messages(draw: st.DrawFn) -> Dict[str, Any]:
    """A real ``messages[]`` item with 1-3 random changes."""
    return _mutate(draw, draw(st.sampled_from(MESSAGES)), draw(st.integers(1, 3)))


#: Small values for the unknown keys (the properties above fuzz the big ones).
small_values = scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=5), scalars, max_size=3)


def _with_unknown_keys(draw: st.DrawFn, value: Any) -> Any:
    """A copy of ``value`` with 1-3 keys no webhook uses (``zz_...``) added to 1-5 of its
    objects (the root included)."""
    value = copy.deepcopy(value)
    objects = [node for _, node in _walk(value) if isinstance(node, dict)]
    for index in draw(st.lists(st.integers(0, len(objects) - 1), min_size=1, max_size=5, unique=True)):
        extra = draw(st.dictionaries(st.text(max_size=8).map(lambda k: "zz_" + k), small_values,
                                     min_size=1, max_size=3))
        objects[index].update(extra)
    return value


# ------------------------------------------------------------------ result checks


def assert_inbound(item: Any) -> None:
    """What the channels rely on in an :class:`Inbound` (WhatsApp Cloud and Twilio)."""
    assert isinstance(item, Inbound)
    assert isinstance(item.key, str) and item.key
    assert isinstance(item.kind, str) and KIND.fullmatch(item.kind), item.kind
    assert item.action in ACTIONS
    if item.action in PARENT_ACTIONS or item.action == "reengage":
        assert isinstance(item.sender, str) and item.sender.strip()
    if item.action == "dispatch":
        assert isinstance(item.text, str) and item.text.strip()
    if item.action == "reengage":
        assert isinstance(item.status_of, str) and item.status_of
    assert item.media_id is None or isinstance(item.media_id, str)
    assert isinstance(item.metadata, dict)
    json.dumps(item.metadata)  # goes into the tracker as message metadata


def assert_problem(problem: Any) -> None:
    assert problem is None or (
        isinstance(problem, tuple) and len(problem) == 2
        and problem[0] in (400, 413) and isinstance(problem[1], str) and problem[1]
    ), problem


# ------------------------------------------------------------------ WhatsApp Cloud


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


WHATSAPP_EXAMPLES = [
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": value}]}]}
    for value in (
        {"metadata": "x"}, {"metadata": [1]}, {"errors": "x"}, {"errors": [1, None, {"code": 1}]},
        {"errors": {"code": 1}}, {"messages": 5}, {"messages": {"id": "x"}}, {"statuses": True},
        {"statuses": [{"id": "a", "errors": [1]}]}, {"statuses": [{"id": "a", "errors": "oops"}]},
        {"statuses": [{"id": "a", "status": "failed", "errors": [{"code": 131047}], "recipient_id": 5}]},
        {"messages": [{"id": "a", "from": "b", "type": "interactive",
                       "interactive": {"type": "button_reply", "button_reply": "x"}}]},
        {"messages": [{"id": "a", "from": "", "type": "text", "text": {"body": "hi"}}]},
        {"messages": [{"id": "a", "from": "b", "type": "text", "text": {"body": _nest("x", 50)}}]},
    )
]


def _examples(examples: List[Any]):
    def decorate(test):
        for value in examples:
            test = example(value)(test)
        return test
    return decorate


@FUZZ
@given(json_objects | mutated_bodies())
@_examples(WHATSAPP_EXAMPLES)
def test_whatsapp_parse_body_returns_inbound_items_for_any_object(data: Dict[str, Any]) -> None:
    items = parse_body(data)
    assert isinstance(items, list)
    for item in items:
        assert_inbound(item)


@FUZZ
@given(json_objects | mutated_messages(), json_values)
@example({"id": "a", "from": "b", "type": "interactive",
          "interactive": {"type": "list_reply", "list_reply": ["x"]}}, None)
@example({"id": "a", "from": "", "from_user_id": "", "type": "text", "text": {"body": "hi"}}, "1")
def test_whatsapp_parse_message_returns_inbound_or_none(message: Dict[str, Any], phone_number_id: Any) -> None:
    # phone_number_id is whatever the body's metadata holds: any JSON value
    item = parse_message(message, phone_number_id)
    if item is not None:
        assert_inbound(item)
        assert item.key == message["id"]


@pytest.mark.parametrize("name", sorted(BODIES))
def test_whatsapp_every_fixture_gives_one_well_formed_item(name: str) -> None:
    items = parse_body(copy.deepcopy(BODIES[name]))
    assert len(items) == 1  # one message or status per fixture: none dropped
    assert_inbound(items[0])


@FUZZ
@given(st.data())
def test_whatsapp_fixtures_parse_the_same_with_unknown_keys(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(BODIES)))
    body = BODIES[name]
    extended = _with_unknown_keys(data.draw, body)
    assert parse_body(extended) == parse_body(copy.deepcopy(body)), name


# ------------------------------------------------------------------ Twilio WhatsApp

TWILIO_FIELDS = [
    "MessageSid", "SmsMessageSid", "MessageStatus", "From", "To", "Body", "ButtonPayload",
    "NumMedia", "MediaContentType0", "MediaContentType1", "MediaUrl0", "MediaUrl1",
    "Latitude", "Longitude", "ProfileName", "WaId", "MessageType",
]
#: Numbers in several scripts (int() reads them all), signs, blanks, huge and not numbers.
NUMBERS = st.sampled_from(["0", "1", "2", " 3 ", "-1", "+2", "١", "۲", "፪", "1e3", "0x1", "",
                           "x", "9" * 5000]) | st.integers(-5, 10**15).map(str)
twilio_values = (
    st.text(max_size=30)
    | NUMBERS
    | st.sampled_from(["received", "delivered", "failed", "whatsapp:+31612345678", "audio/ogg",
                       "image/jpeg", "video/mp4", "application/pdf", "/", "AUDIO/OGG", "SM1", " "])
)
twilio_forms = st.dictionaries(st.sampled_from(TWILIO_FIELDS) | st.text(max_size=12), twilio_values,
                               max_size=10)


def _sample_forms() -> List[Dict[str, str]]:
    """Forms of every case of the module docstring (Twilio's documented field names)."""
    base = {"MessageSid": "SM" + "a" * 32, "SmsMessageSid": "SM" + "a" * 32, "AccountSid": "AC" + "0" * 32,
            "From": "whatsapp:+31612345678", "To": "whatsapp:+14155238886", "NumMedia": "0",
            "Body": "hallo", "ProfileName": "Ouder", "WaId": "31612345678", "SmsStatus": "received"}
    return [
        base,
        {**base, "Body": "", "ButtonPayload": "/topic_school", "ButtonText": "School"},
        {**base, "Body": "", "NumMedia": "1", "MediaContentType0": "audio/ogg",
         "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1"},
        {**base, "Body": "de brief", "NumMedia": "1", "MediaContentType0": "image/jpeg", "MediaUrl0": "u"},
        {**base, "Body": "", "NumMedia": "1", "MediaContentType0": "image/jpeg", "MediaUrl0": "u"},
        {**base, "Body": "", "Latitude": "52.37", "Longitude": "4.89", "MessageType": "location"},
        {**base, "Body": ""},
        {"MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered", "To": "whatsapp:+31612345678"},
    ]


TWILIO_SAMPLES = _sample_forms()


@FUZZ
@given(twilio_forms | st.sampled_from(TWILIO_SAMPLES))
@example({"MessageSid": "SM1", "From": "f", "NumMedia": str(10**12)})
@example({"MessageSid": "SM1", "From": "f", "NumMedia": "9" * 5000})
@example({"MessageSid": "SM1", "From": "f", "NumMedia": "2", "MediaContentType1": "audio/ogg"})
@example({"MessageSid": " ", "MessageStatus": "failed"})
def test_twilio_parse_form_returns_inbound_or_none_quickly(form: Dict[str, str]) -> None:
    started = time.monotonic()
    item = parse_form(form)
    assert time.monotonic() - started < 1.0  # NumMedia is the sender's word, not a loop bound
    if item is not None:
        assert_inbound(item)
        assert len(item.metadata.get("twilio", {}).get("media_types", [])) <= len(form)


@FUZZ
@given(st.binary(max_size=300) | twilio_forms.map(lambda f: urlencode(f).encode()))
@example(b"Body&=x&&%ZZ=%E2%28&NumMedia=%FF")
def test_twilio_parse_form_body_takes_any_bytes(body: bytes) -> None:
    params = parse_form_body(body)
    for name, value in params.items():
        assert isinstance(name, str) and isinstance(value, str)
        assert params.getlist(name)[0] == value
    item = parse_form(params)
    if item is not None:
        assert_inbound(item)


@FUZZ
@given(st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=30), max_size=10))
def test_twilio_parse_form_body_reads_back_urlencode_blank_values_kept(form: Dict[str, str]) -> None:
    assert dict(parse_form_body(urlencode(form).encode("utf-8"))) == form


@FUZZ
@given(st.sampled_from(range(len(TWILIO_SAMPLES))),
       st.dictionaries(st.text(max_size=10).map(lambda k: "Zz" + k), twilio_values, min_size=1, max_size=4))
def test_twilio_sample_forms_parse_the_same_with_unknown_fields(index: int, extra: Dict[str, str]) -> None:
    form = TWILIO_SAMPLES[index]
    expected = parse_form(form)
    assert expected is not None
    assert parse_form({**form, **extra}) == expected
    assert parse_form(parse_form_body(urlencode({**form, **extra}).encode("utf-8"))) == expected


# ------------------------------------------------------------------ REST


def _rest_bodies() -> st.SearchStrategy[bytes]:
    fields = st.fixed_dictionaries(
        {},
        optional={"sender": json_values | st.text(max_size=140), "message": json_values | st.text(max_size=50),
                  "metadata": json_values, "input_channel": json_values | st.just("rest")},
    ).flatmap(lambda d: st.dictionaries(keys, json_values, max_size=3).map(lambda extra: {**extra, **d}))
    as_json = st.one_of(fields, json_values).map(
        lambda value: json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    )
    return as_json | st.binary(max_size=200)


@FUZZ
@given(_rest_bodies())
@example(b"")
@example(b"[" * DEEP)
@example(b'{"sender": "a", "message": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}')
@example(b'{"sender": "a", "message": "\\ud800"}')
@example(b'{"sender": "\\udfff", "message": "hi"}')
@example(b'{"sender": "a", "message": "hi", "metadata": [1]}')
@example(b'{"sender": "a", "message": "hi", "input_channel": "whatsapp"}')
@example(b'{"sender": "a", "message": 1' + b"0" * 5000 + b"}")
@example(b'\xef\xbb\xbf{"sender": "a", "message": "hi"}')
@example('{"sender": "a", "message": "hi"}'.encode("utf-16"))
@example(b'{"sender": "a", "message": NaN}')
def test_rest_body_check_takes_any_bytes(body: bytes) -> None:
    problem = check_rest_body(body)
    assert_problem(problem)
    sender = _sender_of(body)
    assert sender is None or (isinstance(sender, str) and 0 < len(sender) <= MAX_SENDER_CHARS)
    if problem is None:
        # what the middleware and Rasa's RestInput then read
        data = json.loads(body)
        assert isinstance(data, dict)
        assert isinstance(data["sender"], str) and 0 < len(data["sender"].strip()) <= MAX_SENDER_CHARS
        assert isinstance(data["message"], str) and 0 < len(data["message"].strip()) <= MAX_MESSAGE_CHARS
        assert isinstance(data.get("metadata") or {}, dict)
        assert sender == data["sender"]


@FUZZ
@given(json_values, json_values, st.text(min_size=1, max_size=12))
@example("a", "\ud800", "sender")
@example("a" * (MAX_SENDER_CHARS + 1), "hi", "session_id")
@example("a", "x" * (MAX_MESSAGE_CHARS + 1), "sender")
def test_rest_check_fields_takes_any_json_values(sender: Any, message: Any, field_name: str) -> None:
    problem = check_fields(sender, message, sender_field=field_name)
    assert_problem(problem)
    if problem is None:
        assert isinstance(sender, str) and isinstance(message, str)


# ------------------------------------------------------------------ socket.io


@FUZZ
@given(json_values | json_values.map(json.dumps) | st.text(max_size=40))
@example("[" * DEEP)
@example('{"a": ' * DEEP)
@example("1" * 5000)
@example("\ud800")
@example('"{}"')
def test_socketio_parse_metadata_returns_dict_or_none(value: Any) -> None:
    metadata = parse_metadata(value)
    assert metadata is None or isinstance(metadata, dict)
    if isinstance(value, dict):
        assert metadata == value
    if value is None:
        assert metadata == {}


@FUZZ
@given(json_values | st.text(alphabet="abcXYZ019_.:-/ <>\n", max_size=140))
@example("a" * MAX_SENDER_CHARS)
@example("a" * (MAX_SENDER_CHARS + 1))
@example("abc\n")
@example("")
def test_socketio_session_id_checks_take_any_value(value: Any) -> None:
    valid = valid_session_id(value)
    assert isinstance(valid, bool)
    problem = session_id_problem(value)
    assert isinstance(problem, str) and problem
    if valid:
        # a valid session id is a valid Rasa sender for the shared field checks
        assert check_fields(value, "hallo", sender_field="session_id") is None


@FUZZ
@given(st.none() | st.text(max_size=60) | st.lists(json_values, max_size=4))
@example("https://wegwijs.example.nl, http://localhost:5005/")
@example(["*", "https://a.example"])
@example("javascript:alert(1)")
def test_socketio_parse_origins_returns_list_or_none_or_value_error(value: Any) -> None:
    try:
        origins = parse_origins(value)
    except ValueError:
        return
    assert origins is None or (isinstance(origins, list) and origins and all(isinstance(o, str) for o in origins))
