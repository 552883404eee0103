"""``acl``: the simulator's ACL command-line interpreter, answering from the device model offline.

``python -m pacsys_rx.sim.acl_command [--seed N] [--devices FILE] ['read M:OUTTMP; read G:AMANDA']``
prints what the ``acl.pl`` CGI of the simulator prints for the same script (one interpreter). The
script is the arguments joined by blanks, or standard input when there are none; commands are
separated by ``;`` or line ends. The exit status is 1 when a command failed, else 0.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pacsys_rx.protocols.acl import error_message, split_lines
from pacsys_rx.sim.acl_server import ACLInterpreter
from pacsys_rx.sim.catalogue import load_catalogue
from pacsys_rx.sim.generators import CatalogueError
from pacsys_rx.sim.model import DeviceModel


def main(argv: Sequence[str] | None = None) -> int:
    """Run one script and print its output; the exit status says whether a command failed."""
    parser = argparse.ArgumentParser(prog="acl", description="Run ACL commands on the simulated devices.")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated values (default 0)")
    parser.add_argument("--devices", help="device catalogue file instead of the packaged one")
    parser.add_argument("script", nargs="*", help="ACL text; read from standard input when omitted")
    options = parser.parse_args(argv)
    try:
        model = DeviceModel(load_catalogue(options.devices), seed=options.seed)
    except CatalogueError as error:
        print(f"acl: {error}", file=sys.stderr)
        return 2
    script = " ".join(options.script) if options.script else sys.stdin.read()
    output = ACLInterpreter(model).run(script)
    sys.stdout.write(output)
    lines = split_lines(output)
    return 1 if lines and error_message(lines[-1]) is not None else 0


if __name__ == "__main__":
    sys.exit(main())
