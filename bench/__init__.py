"""Benchmarks: scripts, not tests. `python bench/run_all.py` runs every scenario; each scenario
module reuses `bench.harness` (a dedicated PostgreSQL database, gunicorn, wrk with a Lua
driver, alternating bare/real runs, medians, invariant checks). See docs/PERFORMANCE.md."""
