"""The registration domain: pure Python, no I/O."""
