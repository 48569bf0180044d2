"""Run every benchmark scenario in turn (`make bench`). A scenario is a module in bench/ with
`main(argv) -> int`; add yours to SCENARIOS. Extra arguments are passed to every scenario
(e.g. `--duration 5 --rounds 1` for a quick look). Exit status: non-zero if any scenario
missed a target, saw a failure or left a ledger finding."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SCENARIOS = [
    "bench.transfers",
    "bench.webhooks",
    "bench.purchases",
]


def main(argv: list[str]) -> int:
    failed = []
    for name in SCENARIOS:
        print(f"\n=== {name} ===", flush=True)
        if importlib.import_module(name).main(argv) != 0:
            failed.append(name)
    print(f"\nbenchmarks: {len(SCENARIOS) - len(failed)}/{len(SCENARIOS)} met their targets" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
