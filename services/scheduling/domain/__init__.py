"""The rules of the programme calendar, in pure Python: no I/O, no framework."""
