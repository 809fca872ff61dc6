"""Nothing a node sends can crash validation: any JSON value either validates or is refused
with a HeartbeatError naming the field."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from finops_bot.gpu.heartbeat import HeartbeatError, validate_batch
from tests.handlers.test_heartbeats import good_batch

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_is_validated_or_refused(value):
    try:
        validate_batch(value)
    except HeartbeatError as exc:
        assert exc.field and exc.why


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["schema", "batch_id", "node", "labels", "progress", "window", "gpus"]),
    json_values,
)
def test_any_field_replaced_by_anything(field, value):
    batch = copy.deepcopy(good_batch())
    batch[field] = value
    try:
        validate_batch(batch)
    except HeartbeatError as exc:
        assert exc.field.split(".")[0].split("[")[0] in (field, "(body)")
