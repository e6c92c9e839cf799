"""The notification domain: who is told what, in which language. No I/O."""
