"""Handlers by aggregate: gatherings, meetings (dialogue, supervision), attendance, and the
invitations that follow registration's events. The command registry is in `app.py`."""
