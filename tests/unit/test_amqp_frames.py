"""The DMQ client's AMQP delivery reader against frames marshalled by pika, whole and in pieces."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pika import frame, spec

from pacsys_rx.errors import ProtocolError
from pacsys_rx.protocols.amqp import Delivery, DeliveryReader, publish_frames

CHOSEN = 3


def delivery_frames(channel: int, key: str, body: bytes, properties: spec.BasicProperties | None = None,
                    frame_body: int = 131_064) -> list[bytes]:
    """Basic.Deliver, its content header and its body frames as a broker sends them."""
    method = spec.Basic.Deliver(consumer_tag="ctag1.abc", delivery_tag=7, redelivered=False,
                                exchange="e9f1", routing_key=key)
    frames = [frame.Method(channel, method).marshal(),
              frame.Header(channel, len(body), properties or spec.BasicProperties()).marshal()]
    frames += [frame.Body(channel, body[i:i + frame_body]).marshal() for i in range(0, len(body), frame_body)]
    return frames


def feed_all(chunks: list[bytes]) -> list[Delivery | bytes]:
    reader = DeliveryReader({CHOSEN})
    out: list[Delivery | bytes] = []
    for chunk in chunks:
        out += reader.feed(chunk)
    return out


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i:i + 1] for i in range(len(data))]


def test_a_delivery_on_a_chosen_channel_comes_out_whole_however_it_is_split() -> None:
    stream = b"".join(delivery_frames(CHOSEN, "R.Z:BNK001@p,200", b"\x53\x44\x44body"))
    expected = [Delivery(CHOSEN, "R.Z:BNK001@p,200", None, b"\x53\x44\x44body")]
    assert feed_all([stream]) == expected
    assert feed_all(one_byte_at_a_time(stream)) == expected


def test_the_correlation_id_is_read_among_other_properties() -> None:
    properties = spec.BasicProperties(content_type="x", delivery_mode=2, priority=1, correlation_id="init-1",
                                      reply_to="mailbox", message_id="m", timestamp=1_700_000_000,
                                      type="t", app_id="app")
    stream = b"".join(delivery_frames(CHOSEN, "R", b"pending", properties))
    assert feed_all([stream]) == [Delivery(CHOSEN, "R", "init-1", b"pending")]


def test_an_empty_body_ends_the_delivery_at_its_content_header() -> None:
    frames = delivery_frames(CHOSEN, "Q", b"")
    assert len(frames) == 2
    assert feed_all([b"".join(frames)]) == [Delivery(CHOSEN, "Q", None, b"")]


def test_a_body_in_several_frames_is_joined() -> None:
    body = bytes(range(256)) * 3
    stream = b"".join(delivery_frames(CHOSEN, "R.X", body, frame_body=100))
    assert feed_all([stream]) == [Delivery(CHOSEN, "R.X", None, body)]


def test_frames_of_other_channels_and_unchosen_deliveries_pass_through_raw_in_order() -> None:
    heartbeat = frame.Heartbeat().marshal()
    other = delivery_frames(5, "R.Y", b"elsewhere")
    mine = delivery_frames(CHOSEN, "R.X", b"mine")
    out = feed_all([b"".join([mine[0], mine[1], heartbeat, *other, mine[2]])])
    assert out == [heartbeat, *other, Delivery(CHOSEN, "R.X", None, b"mine")]
    assert isinstance(frame.decode_frame(other[0])[1], frame.Method)


def test_a_delivery_with_a_headers_table_is_left_to_pika_as_raw_frames() -> None:
    frames = delivery_frames(CHOSEN, "R", b"x", spec.BasicProperties(headers={"a": 1}, correlation_id="c"))
    assert feed_all([b"".join(frames)]) == frames
    assert feed_all(one_byte_at_a_time(b"".join(frames))) == frames


def test_the_protocol_header_a_broker_answers_with_passes_through() -> None:
    header = b"AMQP\x00\x00\x09\x01"
    assert feed_all([header + frame.Heartbeat().marshal()]) == [header, frame.Heartbeat().marshal()]


def test_a_frame_without_its_end_marker_is_a_protocol_error() -> None:
    damaged = frame.Heartbeat().marshal()[:-1] + b"\x00"
    with pytest.raises(ProtocolError):
        DeliveryReader({CHOSEN}).feed(damaged)


@pytest.mark.parametrize("cut", [4, 5, 20, 26, 27])
def test_a_truncated_delivery_method_is_a_protocol_error(cut: int) -> None:
    payload = delivery_frames(CHOSEN, "R.X", b"")[0][7:-1][:cut]
    with pytest.raises(ProtocolError):
        DeliveryReader({CHOSEN}).feed(b"\x01\x00\x03" + len(payload).to_bytes(4, "big") + payload + b"\xce")


def test_a_forgotten_channel_drops_the_rest_of_its_half_received_delivery() -> None:
    frames = delivery_frames(CHOSEN, "R.X", b"body", frame_body=2)
    heartbeat = frame.Heartbeat().marshal()
    for cut in (1, 2, 3):  # after the method frame, the content header, the first body frame
        reader = DeliveryReader({CHOSEN})
        assert reader.feed(b"".join(frames[:cut])) == []
        reader.forget(CHOSEN)
        assert reader.feed(b"".join(frames[cut:]) + heartbeat) == [heartbeat]
        assert reader.feed(frames[0]) == []  # a new delivery on a chosen channel is read again


def test_a_forgotten_channel_passes_on_the_rest_of_a_delivery_already_passed_on_raw() -> None:
    frames = delivery_frames(CHOSEN, "R", b"xy", spec.BasicProperties(headers={"a": 1}), frame_body=1)
    reader = DeliveryReader({CHOSEN})
    assert reader.feed(b"".join(frames[:3])) == frames[:3]
    reader.forget(CHOSEN)
    assert reader.feed(frames[3]) == [frames[3]]


_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=40)


@st.composite
def broker_streams(draw: st.DrawFn) -> tuple[list[bytes], list[Delivery | bytes]]:
    """Deliveries on chosen and other channels and heartbeats, cut into random pieces."""
    frames: list[bytes] = []
    expected: list[Delivery | bytes] = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            frames.append(frame.Heartbeat().marshal())
            expected.append(frames[-1])
            continue
        channel = draw(st.sampled_from([CHOSEN, 4]))
        key, body = draw(_TEXT), draw(st.binary(max_size=300))
        correlation_id = draw(st.none() | _TEXT)
        properties = spec.BasicProperties(correlation_id=correlation_id, message_id=draw(st.none() | _TEXT))
        parts = delivery_frames(channel, key, body, properties, frame_body=draw(st.integers(1, 400)))
        frames += parts
        if channel == CHOSEN:
            expected.append(Delivery(channel, key, correlation_id, body))
        else:
            expected += parts
    stream = b"".join(frames)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    return pieces, expected


@settings(max_examples=300, deadline=None)
@given(broker_streams())
def test_random_streams_cut_anywhere_give_the_same_deliveries_and_frames(
        case: tuple[list[bytes], list[Delivery | bytes]]) -> None:
    pieces, expected = case
    assert feed_all(pieces) == expected


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_garbage_gives_frames_or_a_protocol_error(chunks: list[bytes]) -> None:
    reader = DeliveryReader({CHOSEN})
    try:
        for chunk in chunks:
            reader.feed(chunk)
    except ProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 65535), _TEXT, _TEXT, st.binary(max_size=600), st.none() | _TEXT, st.integers(9, 300))
def test_publish_frames_decode_with_pika_as_the_publish_they_describe(
        channel: int, exchange: str, key: str, body: bytes, correlation_id: str | None,
        frame_max: int) -> None:
    data = publish_frames(channel, exchange, key, body, correlation_id, frame_max)
    decoded = []
    while data:
        used, value = frame.decode_frame(data)
        decoded.append(value)
        data = data[used:]
    method, header, *bodies = decoded
    assert isinstance(method.method, spec.Basic.Publish)
    assert method.channel_number == channel
    assert (method.method.exchange, method.method.routing_key) == (exchange, key)
    assert not method.method.mandatory and not method.method.immediate
    assert (header.body_size, header.properties.correlation_id) == (len(body), correlation_id)
    assert header.properties.headers is None and header.properties.message_id is None
    assert b"".join(part.fragment for part in bodies) == body
    assert all(len(part.fragment) <= frame_max - 8 for part in bodies)
