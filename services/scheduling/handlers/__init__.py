"""Handlers by aggregate: gatherings, meetings (dialogue, supervision), attendance, rounds,
mellomarbeid, and the invitations that follow registration's events. Each loads through the
unit of work (adapters/unit.py), lets the domain decide, saves and emits. The one registry of
commands and followed events is in `app.py`."""
