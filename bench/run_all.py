"""Run every benchmark scenario in turn (`make bench`) and write the figures to
docs/PERFORMANCE.md. A scenario is a module in bench/ with `main(argv) -> int` that saves its
results with `harness.save_report(<name>, ...)`; add yours to SCENARIOS. Extra arguments are
passed to every scenario (e.g. `--duration 5 --rounds 1` for a quick look).

While a scenario runs, a sampler reads /proc every half second for the gunicorn and Celery
processes this run started (descendants of this process) and keeps each one's peak resident
memory: the report lists every web and worker process's peak. Where a scenario misses a
target, its profile (PROFILES: bench/transfers_profile.py, bench/webhooks_profile.py,
bench/purchases_profile.py) is run and its top lines go into the report: where the time
goes, not just the number. The mixed workload has no target of its own, so no profile.

When a scenario crashes or saves no result, its section is not replaced by an empty one: the
previous figures stay, under a line saying that this run crashed and which run they are from.

Exit status: non-zero if any scenario missed a target, saw a failure or left a ledger finding
(after any round or at the end). Only the block between the `bench:begin` / `bench:end`
markers of docs/PERFORMANCE.md is rewritten; the prose around it is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
REPORT = ROOT / "docs" / "PERFORMANCE.md"
BEGIN, END = "<!-- bench:begin (written by bench/run_all.py) -->", "<!-- bench:end -->"

# (module, name its results are saved under)
SCENARIOS = [
    ("bench.transfers", "transfers"),
    ("bench.webhooks", "webhooks"),
    ("bench.purchases", "purchases"),
    ("bench.mixed", "mixed"),
]
# Run after a scenario that did not pass (and saved a result), on the database it left behind.
PROFILES = {
    "transfers": [["bench/transfers_profile.py", "--auth", "apikey", "--requests", "200", "--top", "20"],
                  ["bench/transfers_profile.py", "--auth", "jwt", "--requests", "200", "--top", "20"]],
    "webhooks": [["bench/webhooks_profile.py", "--requests", "300", "--top", "25"]],
    "purchases": [["bench/purchases_profile.py", "--requests", "200", "--top", "25"],
                  ["bench/purchases_profile.py", "--worker", "--requests", "100", "--top", "25"]],
}


# --- peak memory per process ---------------------------------------------------------------------


@dataclass
class Peaks:
    web_kb: dict[int, int] = field(default_factory=dict)
    worker_kb: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Every process's peak (MB, largest first), and the largest of each role."""
        web = sorted((round(kb / 1024, 1) for kb in self.web_kb.values()), reverse=True)
        workers = sorted((round(kb / 1024, 1) for kb in self.worker_kb.values()), reverse=True)
        return {"web_processes": len(web), "web_peak_mb": web[0] if web else 0.0, "web_mb": web,
                "worker_processes": len(workers), "worker_peak_mb": workers[0] if workers else 0.0,
                "worker_mb": workers}


def _proc(pid: str, name: str) -> str:
    try:
        return (Path("/proc") / pid / name).read_text()
    except OSError:
        return ""


class Sampler(threading.Thread):
    """Peak RSS (VmHWM, the kernel's own high-water mark) of every gunicorn and Celery
    process descending from this one, sampled until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks = Peaks()
        self.stopping = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self.stopping.wait(0.5):
            parents = {}
            for pid in filter(str.isdigit, os.listdir("/proc")):
                stat = _proc(pid, "stat")
                if stat:
                    parents[int(pid)] = int(stat.rsplit(")", 1)[1].split()[1])
            for pid in parents:
                ancestor, hops = parents.get(pid), 0
                while ancestor not in (None, 0, 1, me) and hops < 10:
                    ancestor, hops = parents.get(ancestor), hops + 1
                if ancestor != me:
                    continue
                command = _proc(str(pid), "cmdline").replace("\0", " ")
                role = "web" if "gunicorn" in command else "worker" if "celery" in command and " worker" in command else None
                if role is None:
                    continue
                hwm = next((int(line.split()[1]) for line in _proc(str(pid), "status").splitlines()
                            if line.startswith("VmHWM:")), 0)
                bucket = self.peaks.web_kb if role == "web" else self.peaks.worker_kb
                bucket[pid] = max(bucket.get(pid, 0), hwm)

    def stop(self) -> Peaks:
        self.stopping.set()
        self.join(timeout=5)
        return self.peaks


# --- running --------------------------------------------------------------------------------------


def latest_result(name: str, since: float) -> dict | None:
    files = sorted((p for p in RESULTS.glob(f"{name}*.json") if p.stat().st_mtime >= since), key=lambda p: p.stat().st_mtime)
    return json.loads(files[-1].read_text()) if files else None


def run_profile(name: str) -> str:
    chunks = []
    for command in PROFILES.get(name, []):
        # Request log lines go to stdout too and would push the profile out of the excerpt.
        env = {**os.environ, "LOG_LEVEL": "ERROR"}
        done = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
        chunks.append(f"$ {' '.join(command)}\n" + "\n".join(done.stdout.splitlines()[:45]))
    return "\n\n".join(chunks)


def machine() -> dict:
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), "0")
    try:
        postgres = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version"],
                                  capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        postgres = "?"
    try:
        redis_version = subprocess.run(["redis-cli", "INFO", "server"], capture_output=True, text=True, timeout=10).stdout
        redis_version = next((line.split(":")[1].strip() for line in redis_version.splitlines()
                              if line.startswith("redis_version")), "?")
    except OSError:
        redis_version = "?"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"nproc": os.cpu_count(), "memory_gb": round(int(memory) / 1024 / 1024, 1), "cpu": cpu,
            "postgresql": postgres, "redis": redis_version, "python": platform.python_version(),
            "kernel": platform.release()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="run every benchmark and write docs/PERFORMANCE.md")
    parser.add_argument("--only", action="append", help="run only these scenario names (repeatable)")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite docs/PERFORMANCE.md")
    known, passthrough = parser.parse_known_args(argv)
    started_at = time.strftime("%Y-%m-%d %H:%M %Z")
    outcomes = []
    for module, name in SCENARIOS:
        if known.only and name not in known.only:
            continue
        print(f"\n=== {module} ===", flush=True)
        since = time.time()
        sampler = Sampler()
        sampler.start()
        # Its own process: Django is configured once per process, for one scenario's database.
        status = subprocess.run([sys.executable, "-m", module, *passthrough], cwd=ROOT).returncode
        peaks = sampler.stop()
        result = latest_result(name, since)
        if result is not None and any(check["findings"] for check in result.get("invariants_per_round", [])):
            status = status or 1  # a ledger finding after any round fails the scenario
        profile = run_profile(name) if status != 0 and result is not None else ""
        outcomes.append({"name": name, "status": status, "result": result, "memory": peaks.as_dict(), "profile": profile})
        print(f"  peak memory: {peaks.as_dict()}", flush=True)
    failed = [o["name"] for o in outcomes if o["status"] != 0]
    print(f"\nbenchmarks: {len(outcomes) - len(failed)}/{len(outcomes)} met their targets"
          + (f"; failed: {failed}" if failed else ""))
    if not known.no_report:
        write_report(outcomes, started_at, passthrough)
        print(f"wrote {REPORT.relative_to(ROOT)}")
    return 1 if failed else 0


# --- the report -----------------------------------------------------------------------------------


def _bare_for(label: str, labels: list[str]) -> str | None:
    """'transfer many' -> 'bare many'; 'paystack webhooks' / 'mixed' -> 'bare'."""
    suffix = label.split(" ", 1)[1] if " " in label else ""
    for candidate in (f"bare {suffix}".strip(), "bare"):
        if candidate in labels and candidate != label:
            return candidate
    return None


def _rows(result: dict) -> list[str]:
    summaries = result.get("summaries") or result.get("phase1", {}).get("summaries") or {}
    labels = list(summaries)
    rows = []
    for label, s in summaries.items():
        bare = _bare_for(label, labels)
        ratio = f"{s['ok_per_s'] / summaries[bare]['ok_per_s']:.2f}" if bare and summaries[bare]["ok_per_s"] else "1.00" if label.startswith("bare") else ""
        rows.append(f"| {label} | {s['ok_per_s']:.1f} | {s['p50_ms']:.1f} | {s.get('p95_ms', 0):.1f} | {s['p99_ms']:.1f} "
                    f"| {ratio} | {s['failures']} |")
    return rows


def _extras(name: str, result: dict) -> list[str]:
    lines = []
    for row in result.get("ratios", []) or result.get("phase1", {}).get("ratios", []):
        if row.get("target"):
            verdict = "meets" if row.get("met") else "**misses**"
            extra = f", {row['per_s']}/s" if "per_s" in row else ""
            lines.append(f"- {row['name']}: ratio {row['ratio']:.2f}{extra} (target ≥ {row['target']:.2f}: {verdict})")
    if name == "purchases":
        for label, drains in result.get("drains", {}).items():
            per_s = sorted(d["per_s"] for d in drains)
            if per_s:
                lines.append(f"- {label} by one worker process: median {per_s[len(per_s) // 2]:.1f} purchases/s "
                             f"({', '.join(f'{p:.1f}' for p in per_s)})")
    if name == "webhooks" and "crediting" in result:
        c = result["crediting"]
        lines.append(f"- crediting: {c['credits_per_s']} credits/s (worker -c {result['config'].get('worker_concurrency')}), "
                     f"ratio to bare {c['ratio_to_bare']:.2f}, {c['credited']}/{c['expected']} credited")
    if name == "mixed" and "phase2" in result:
        p = result["phase2"]
        lines.append(f"- scaled out (2 gunicorn x 1 worker, 2 Celery worker processes, one database and Redis): "
                     f"median {p['ok_per_s_median']} ok req/s, p50 {p['p50_ms_median']} ms, "
                     f"p95 {p.get('p95_ms_median', '?')} ms, p99 {p['p99_ms_median']} ms, "
                     f"{p['failures']} failures; drained {p['drained']}; accounting {p['accounting'] or 'ok'}; "
                     f"invariants {'all hold' if not p['findings'] else p['findings']}")
        lines.append(f"- mix (weights): {', '.join(f'{k} {v}' for k, v in result.get('mix', {}).items())}")
    accounting = result.get("accounting")
    lines.append(f"- accounting after the load: {accounting if accounting else 'ok'}")
    findings = result.get("findings", [])
    lines.append(f"- ledger invariants after the load: {'all hold' if not findings else f'{len(findings)} finding(s): ' + ', '.join(sorted({f['code'] for f in findings}))}")
    rounds = result.get("invariants_per_round", [])
    if rounds:
        broken = [f"{check['after']}: {', '.join(check['findings'])}" for check in rounds if check["findings"]]
        lines.append(f"- ledger invariants after each of {len(rounds)} rounds: "
                     + ("; ".join(broken) if broken else "all hold"))
    return lines


def _memory_line(memory: dict) -> str:
    def listed(values: list[float]) -> str:
        return ", ".join(f"{mb}" for mb in values) if values else "none"

    return (f"- peak memory (VmHWM) per process, MB: web [{listed(memory.get('web_mb', []))}] "
            f"(largest {memory['web_peak_mb']}); worker [{listed(memory.get('worker_mb', []))}] "
            f"(largest {memory['worker_peak_mb']})")


def previous_sections(text: str) -> tuple[str, dict[str, str]]:
    """The date of the block's run and each scenario's section ("### name ..." up to the next)."""
    if BEGIN not in text or END not in text:
        return "", {}
    block = text[text.index(BEGIN) + len(BEGIN): text.index(END)]
    date = re.search(r"Run of (.+?) by `make bench`", block)
    sections = {}
    for chunk in re.split(r"(?m)^(?=### )", block):
        heading = re.match(r"### (\S+)", chunk)
        if heading:
            sections[heading.group(1)] = chunk.strip()
    return (date.group(1) if date else ""), sections


def carried_over(name: str, status: int, previous_date: str, previous: str | None) -> list[str]:
    """A crashed scenario's section: the previous figures, marked, with the run they are from."""
    heading = f"### {name} — **crashed in this run** (exit status {status}, no result saved; see the console output)"
    body = previous.split("\n", 1)[1].strip() if previous and "\n" in previous else ""
    earlier = re.match(r"_The figures below are from the run of (.+?), not this one\._", body)
    if earlier:  # carried before: keep the original run's date, drop the old marker line
        date, body = earlier.group(1), body[earlier.end():].strip()
    else:
        date = previous_date
    if not body or body.startswith(("No result saved", "No earlier figures")):
        return [heading, "", "No earlier figures for this scenario in this report.", ""]
    return [heading, "", f"_The figures below are from the run of {date}, not this one._", "", body, ""]


def write_report(outcomes: list[dict], started_at: str, passthrough: list[str]) -> None:
    info = machine()
    out = [BEGIN, "",
           f"Run of {started_at} by `make bench`{' with ' + ' '.join(passthrough) if passthrough else ''} on "
           f"{info['nproc']} CPU ({info['cpu']}), {info['memory_gb']} GB RAM, PostgreSQL {info['postgresql']}, "
           f"Redis {info['redis']}, Python {info['python']}, Linux {info['kernel']}. Load generator (wrk) on the same "
           "machine. ok req/s = 2xx answers per second, median of the alternating rounds; latencies in ms; ratio = "
           "to the same run's bare endpoint (HTTP + auth + one guarded UPDATE and one INSERT).", ""]
    previous_date, previous = previous_sections(REPORT.read_text() if REPORT.exists() else "")
    for outcome in outcomes:
        result, name = outcome["result"], outcome["name"]
        if result is None:
            out += carried_over(name, outcome["status"], previous_date, previous.get(name))
            continue
        out += [f"### {name} — {'passed' if outcome['status'] == 0 else '**did not pass**'}", ""]
        config = result.get("config", {})
        out.append(f"gunicorn {config.get('workers')} x {config.get('worker_class')}, wrk -c {config.get('connections')} "
                   f"-d {config.get('duration')}s x {config.get('rounds')} rounds.")
        out += ["", "| run | ok req/s | p50 | p95 | p99 | ratio to bare | failures |", "|---|---|---|---|---|---|---|"]
        out += _rows(result)
        out.append("")
        out += _extras(name, result)
        out.append(_memory_line(outcome["memory"]))
        if outcome["profile"]:
            out += ["", "Where the time goes (profile run after the miss):", "", "```", outcome["profile"], "```"]
        out.append("")
    out.append(END)
    block = "\n".join(out)
    text = REPORT.read_text() if REPORT.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    REPORT.write_text(text)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
