"""Settings acknowledged through the Observable: one write, a batch with refusals, a read back.

    python examples/write_with_ack.py [--seconds 5]

gRPC writes need a JWT: the example starts its own simulator with an HS256 secret and has it sign a
token whose ``realm_access.roles`` holds ``testing``, the role allowed to set Z:ACLTST and Z:ACLTS*.
``--seconds`` bounds the wait for each acknowledgement and read.
(DPM/HTTP writes use Kerberos instead: ``prx.dpm(auth=prx.KerberosAuth(), role="testing")``.)
"""

from __future__ import annotations

import argparse
import secrets

from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx.sim import Simulator


def describe(result: prx.WriteResult) -> str:
    return f"{result.drf}: " + ("ok" if result.ok else f"refused, {result.status.describe()}")


def main(seconds: float) -> None:
    with Simulator(jwt_secret=secrets.token_hex(32)) as sim:
        token = sim.jwt_token("me@FNAL.GOV", roles=["testing"])          # "testing" may set Z:ACLTS*
        with prx.grpc(**sim.client_options("grpc"), auth=prx.JWTAuth(token), timeout=seconds) as grpc:
            print(describe(grpc.write("Z:ACLTST", 45.0).run()))   # run() blocks for the acknowledgement

            grpc.write("Z:ACLTS7", 1.2).subscribe(                 # or react to it when it arrives
                on_next=lambda result: print(describe(result)),
                on_error=lambda error: print(f"write failed: {error}"),
            )

            batch = [("Z:ACLTS1", 3.5), ("Z:ACLTS4", "new text"), ("Z:ACLTS2", 1e6), ("G:AMANDA", 1.0)]
            for result in grpc.write_many(batch).pipe(rxops.to_list()).run():
                print(describe(result))

            read_back = grpc.read_many(["Z:ACLTST.SETTING", "Z:ACLTS1.SETTING", "Z:ACLTS4"])
            for reading in read_back.pipe(rxops.to_list()).run():
                print(f"{reading.drf} = {reading.value}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="longest wait for each acknowledgement and read (default 5)")
    main(parser.parse_args().seconds)
