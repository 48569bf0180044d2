"""Render the fault-injection summary (bench/results/chaos.json, written by every chaos run:
`make chaos`, and the short run in `make test`) into docs/PERFORMANCE.md, between the
`chaos:begin` / `chaos:end` markers (added before "## Scaling out" if missing; the prose
around them is kept). `make chaos` runs it after the tests, whatever their outcome.

    .venv/bin/python bench/chaos_report.py [--input bench/results/chaos.json] [--print]

Exit status: 0 when the run it renders passed, 1 when it did not (the section says so), 2
when there is no summary to render.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "PERFORMANCE.md"
DEFAULT_INPUT = ROOT / "bench" / "results" / "chaos.json"
BEGIN, END = "<!-- chaos:begin (written by bench/chaos_report.py) -->", "<!-- chaos:end -->"
ANCHOR = "## Scaling out"


def _states(states: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(states.items())) or "-"


def _purchase_rows(scenarios: list[dict]) -> list[str]:
    rows = ["| scenario | seed | purchases | final states | most deliveries for one purchase | late reversals "
            "| provider fates drawn | invariants |", "|---|---|---|---|---|---|---|---|"]
    for s in scenarios:
        rows.append(f"| {s['scenario']} | {s['seed']} | {s['purchases']} | {_states(s['final_states'])} "
                    f"| {s['max_deliveries_per_purchase']} | {s.get('reversals', 0)} "
                    f"| {_states(s.get('provider_fates', {}))} | {s['invariants']} |")
    return rows


def _deposit_rows(scenarios: list[dict]) -> list[str]:
    rows = ["| gateway | seed | deposits | paid | credited exactly once | credited but unpaid | deliveries "
            "(genuine + forged) | forged refused | invariants |", "|---|---|---|---|---|---|---|---|---|"]
    for s in scenarios:
        rows.append(f"| {s['gateway']} | {s['seed']} | {s['deposits']} | {s['paid']} | {s['credited_once']} "
                    f"| {s['credited_unpaid']} | {s['deliveries']} | {s['forged_refused']} | {s['invariants']} |")
    return rows


def render(summary: dict) -> str:
    tests = summary.get("tests", {})
    failed = sorted(node for node, outcome in tests.items() if outcome != "passed")
    purchases = [s for s in summary.get("scenarios", []) if "purchases" in s]
    deposits = [s for s in summary.get("scenarios", []) if "deposits" in s]
    machine = summary.get("machine", {})
    out = [BEGIN, "",
           f"Run of {summary['date']} ({summary['mode']} run{': `make chaos`' if summary['mode'] == 'long' else ''}) "
           f"on {machine.get('nproc', '?')} CPU ({machine.get('cpu', '?')}), {machine.get('memory_gb', '?')} GB RAM, Python {machine.get('python', '?')}, Linux {machine.get('kernel', '?')}: "
           f"{len(tests) - len(failed)}/{len(tests)} chaos tests passed."
           + (f" **Failed:** {', '.join(f'`{node}`' for node in failed)}." if failed else ""),
           "", "Replay any row with `CHAOS_SEED=<seed> make chaos`.", ""]
    if purchases:
        out += ["Purchases (provider chaos, workers killed, connections dropped): each recovered by the sweeper, "
                "then checked against the provider's record and the ledger.", ""]
        out += [*_purchase_rows(purchases), ""]
    if deposits:
        out += ["Gateway webhooks duplicated, reordered, delayed past the poller, and forged:", ""]
        out += [*_deposit_rows(deposits), ""]
    out.append(END)
    return "\n".join(out)


def write(block: str, report: Path = REPORT) -> None:
    text = report.read_text() if report.exists() else "# Performance\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    elif ANCHOR in text:
        section = f"## Fault injection: `make chaos` (issue 8)\n\n{block}\n\n"
        text = text.replace(ANCHOR, section + ANCHOR, 1)
    else:
        text = text.rstrip() + f"\n\n## Fault injection: `make chaos` (issue 8)\n\n{block}\n"
    report.write_text(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="render bench/results/chaos.json into docs/PERFORMANCE.md")
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--print", action="store_true", help="print the section instead of writing the report")
    args = parser.parse_args(argv)
    if not args.input.exists():
        print(f"chaos_report: no summary at {args.input} (run make chaos first)", file=sys.stderr)
        return 2
    summary = json.loads(args.input.read_text())
    block = render(summary)
    if args.print:
        print(block)
    else:
        write(block, args.report)
        print(f"chaos_report: wrote the fault-injection section of {args.report}")
    return 0 if summary.get("passed") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
