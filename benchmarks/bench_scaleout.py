"""Scale-out client choice: confirmed publish rate of 20,000 transitions to a RabbitMQ stream through the
stream protocol (rstream, as ``StreamPublisher`` uses it) and through AMQP 0-9-1 (pika) to a stream queue.

Needs the local broker with the rabbitmq_stream plugin (port 5552). Prints one line per client.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import pika
from pacsys_rx.operators import AlarmEvent, AlarmState, Severity

from pacsys_rx.scaleout import Shard, StreamBroker, Transition, create_stream, delete_stream, encode
from pacsys_rx.scaleout.broker import StreamPublisher

COUNT = 20_000
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def messages() -> list[bytes]:
    now = datetime.now(timezone.utc)
    return [encode(Transition(Shard(0, 1), "a", AlarmEvent(f"Z:BANK{i % 1000:03d}", AlarmState.ALARM,
                                                              Severity.MAJOR, 57.5, now, "above 55")))
            for i in range(COUNT)]

def bench_rstream(data: list[bytes]) -> float:
    broker, stream = StreamBroker(), f"bench-rstream-{uuid.uuid4().hex[:8]}"
    create_stream(broker, stream)
    try:
        publisher = StreamPublisher(broker, stream, f"{stream}.bench")
        began = time.perf_counter()
        for message in data:
            publisher.publish(message)
        assert publisher.flush(60.0)
        elapsed = time.perf_counter() - began
        publisher.close()
        return len(data) / elapsed
    finally:
        delete_stream(broker, stream)


def bench_pika(data: list[bytes]) -> float:
    queue = f"bench-pika-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "stream"})
    channel.confirm_delivery()
    try:
        began = time.perf_counter()
        for message in data:  # BlockingChannel confirms each publish before returning
            channel.basic_publish("", queue, message, pika.BasicProperties(delivery_mode=2))
        return len(data) / (time.perf_counter() - began)
    finally:
        channel.queue_delete(queue)
        connection.close()


def main() -> None:
    data = messages()
    print(f"rstream (stream protocol, confirms, de-duplication ids): {bench_rstream(data):,.0f} messages/s")
    print(f"pika (AMQP 0-9-1 stream queue, confirms):                {bench_pika(data):,.0f} messages/s")


if __name__ == "__main__":
    main()
