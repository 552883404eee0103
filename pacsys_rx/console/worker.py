"""``pacsys-rx worker MODULE:FUNCTION --devices FILE --shard K/N --stream NAME``: one scale-out worker."""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
from types import FrameType

from pacsys_rx.console.scaleout_options import add_stream_arguments, stream_broker
from pacsys_rx.console.targets import add_target_arguments, open_backend, positive_seconds
from pacsys_rx.scaleout import Worker, WorkerOptions, parse_shard
from pacsys_rx.scaleout.worker import Pipeline, read_devices_file, shard_drfs


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "worker", help="run a pipeline as shard K of N, publishing alarm state to a RabbitMQ stream",
        description="Import FUNCTION from MODULE (a pipeline: ShardInput -> Observable of alarm events and "
                    "other outputs), "
                    "take the devices of --devices whose CRC-32 shard is K of N, restore the shard's alarm "
                    "state from the stream, acquire the devices and publish transitions and periodic "
                    "snapshots until SIGTERM or Ctrl-C. Logs the shard, device count and rates on stderr.")
    parser.add_argument("function", metavar="MODULE:FUNCTION", help="the pipeline function")
    parser.add_argument("--devices", required=True, metavar="FILE", help="DRFs, one per line (# comments)")
    parser.add_argument("--shard", required=True, type=_shard, metavar="K/N", help="this worker's shard")
    parser.add_argument("--replica", default="a", help="name of this replica of the shard (default a)")
    parser.add_argument("--snapshot-interval", type=positive_seconds, default=5.0, metavar="SECONDS",
                        help="seconds between snapshots of the shard's alarm state (default 5)")
    parser.add_argument("--retention", type=positive_seconds, metavar="SECONDS",
                        help="maximum age of the stream's messages when this worker creates it")
    parser.add_argument("--recent-readings", type=_count, default=4, metavar="N",
                        help="last readings per device published after each snapshot and replayed into the "
                             "pipeline after a restart, so tries counters resume (default 4; 0: none)")
    parser.add_argument("--log-interval", type=positive_seconds, default=10.0, metavar="SECONDS",
                        help="seconds between rate log lines (default 10)")
    add_stream_arguments(parser)
    add_target_arguments(parser)
    parser.set_defaults(handler=run)


def _shard(text: str) -> object:
    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if count < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {count}")
    return count


def load_pipeline(spec: str) -> Pipeline:
    module_name, colon, function_name = spec.partition(":")
    if not colon or not module_name or not function_name:
        raise SystemExit(f"pacsys-rx worker: error: the pipeline is MODULE:FUNCTION, got {spec!r}")
    function = getattr(importlib.import_module(module_name), function_name, None)
    if not callable(function):
        raise SystemExit(f"pacsys-rx worker: error: {module_name} has no function {function_name}")
    return function


def run(args: argparse.Namespace) -> int:
    logging.getLogger("pacsys_rx.worker").setLevel(logging.INFO)
    pipeline = load_pipeline(args.function)
    drfs = shard_drfs(read_devices_file(args.devices), args.shard)
    options = WorkerOptions(args.stream, args.shard, args.replica, args.snapshot_interval,
                            log_interval_s=args.log_interval, retention_s=args.retention,
                            recent_readings=args.recent_readings)
    with open_backend(args) as backend:
        worker = Worker(pipeline, backend, drfs, options, stream_broker(args))

        def request_stop(signum: int, frame: FrameType | None) -> None:
            worker.stop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, request_stop)
        worker.run()
    return 0
