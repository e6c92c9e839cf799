"""Personal data out of texts that are logged or stored: reasons, errors, log lines.

Reasons and error texts outlive the data they came from (a dead letter, a failed delivery's
`last_error`, a log archive), and erasure cannot reach them. So an e-mail address or a phone
number in such a text is replaced before it is written.
"""

from __future__ import annotations

import re

# A domain with a dot and a top-level name of letters: `topic@2:15` (a place in a log) is no
# address.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&*+/=?^_`|~-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b")
# Norwegian numbers (8 digits, optionally +47/0047 and spaces), and other international ones.
_PHONE = re.compile(r"(?<![\w-])(?:(?:\+|00)\d{1,3}[ -]?)?(?:\d ?){7,11}\d(?![\w-])")

EMAIL_MASK = "<e-mail>"
PHONE_MASK = "<phone>"


def redact(text: str) -> str:
    """`text` with every e-mail address and phone number masked."""
    return _PHONE.sub(PHONE_MASK, _EMAIL.sub(EMAIL_MASK, text))
