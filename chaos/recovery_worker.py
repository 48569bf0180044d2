"""A freshly started process doing what a restarted worker and beat do after a crash:

    python -m chaos.recovery_worker --start 2026-12-04T15:00:00+00:00 [--rounds 12]

It runs the sweeper (beat's periodic task; the requery tasks it queues run inline, as the
test settings make Celery eager) with its own clock, started where the test's clock stands
and moved past every backoff each round, until no purchase is open (chaos.scenarios.recover).
Nothing of the crashed process survives into it: no module state, no connection, no cache of
ids. Prints the rounds used; exit status 0 once the sweeper has run. Used by
tests/chaos/test_crash_points.py with DJANGO_SETTINGS_MODULE, DATABASE_URL and the provider's
variables in its environment.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta


class Clock:
    """vtu.clock.now for this process, moved instead of slept."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", required=True, type=datetime.fromisoformat, help="the test clock's time (ISO 8601)")
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args(argv)

    import django

    django.setup()
    from chaos.scenarios import recover
    from vtu import clock as vtu_clock

    clock = Clock(args.start)
    vtu_clock.now = clock  # every "now" of the purchase flow reads this process's clock
    print(f"recovery_worker: {recover(clock, rounds=args.rounds)} round(s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
