"""Fault injection for the chaos runs (`make chaos`, marker `chaos`): a seeded local VTpass
(chaos.vtpass), recovery and the verdict (chaos.scenarios). Scenarios live in tests/chaos/.
Nothing here is imported by the application."""
