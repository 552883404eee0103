"""``pacsys-rx write DRF VALUE``: one setting and its acknowledgement, like acput."""

from __future__ import annotations

import argparse

from pacsys_rx.console.formatting import write_line
from pacsys_rx.console.targets import add_target_arguments, open_backend
from pacsys_rx.model import Value, WriteResult


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "write", help="write one setting and print its acknowledgement (like acput)",
        description="Write VALUE to DRF (READING becomes SETTING, STATUS becomes CONTROL, @N forced). "
                    "VALUE is a number, comma-separated numbers for an array, or text.")
    parser.add_argument("drf", metavar="DRF", help="device request, e.g. Z:ACLTST")
    parser.add_argument("value", metavar="VALUE", help="number, 1,2,3 for an array, or text")
    add_target_arguments(parser, writing=True)
    parser.set_defaults(handler=run)


def parse_value(text: str) -> Value:
    """A float, a tuple of floats for comma-separated numbers, else the text itself."""
    try:
        return float(text)
    except ValueError:
        pass
    if "," in text:
        try:
            return tuple(float(part) for part in text.split(","))
        except ValueError:
            pass
    return text


def run(args: argparse.Namespace) -> int:
    """Exit status 1 when the setting was refused."""
    with open_backend(args) as backend:
        result: WriteResult = backend.write(args.drf, parse_value(args.value)).run()
    print(write_line(result))
    return 0 if result.ok else 1
