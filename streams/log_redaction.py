"""Lead ids (often e-mail addresses) stay out of logs: each is shown as a short keyed hash.

``lead_ref("ada@acme.io")`` is ``lead~3f9a1c07e2``: the same lead gives the same tag throughout
one process's log, so its lines can still be followed, but the key is drawn afresh by every
process and never written down, so a tag cannot be tested against a list of guessed e-mails.
``LEADSTREAM_LOG_LEAD_IDS=true`` shows ids as they are, for debugging.

Call sites that name a lead use ``lead_ref``. As a backstop, once ``install`` has run every log
record (its message, arguments and traceback: an exception's text can hold an id) has the
e-mail addresses in it replaced the same way before any handler sees it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import traceback
from typing import Any

_EMAIL = re.compile(r"[\w.+%-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


class _Redaction:
    key = secrets.token_bytes(16)
    show = False  # LEADSTREAM_LOG_LEAD_IDS
    installed = False


def lead_ref(lead_id: str) -> str:
    """How a log names a lead: the id itself only with LEADSTREAM_LOG_LEAD_IDS=true."""
    if _Redaction.show:
        return lead_id
    return "lead~" + hashlib.blake2b(lead_id.encode("utf-8", "replace"), key=_Redaction.key, digest_size=5).hexdigest()


def without_emails(text: str) -> str:
    if _Redaction.show or "@" not in text:
        return text
    return _EMAIL.sub(lambda found: lead_ref(found.group()), text)


def install(show_lead_ids: bool) -> None:
    """Redact every log record of this process from now on (once; later calls only change ``show``)."""
    _Redaction.show = show_lead_ids
    if _Redaction.installed:
        return
    _Redaction.installed = True
    make_record = logging.getLogRecordFactory()

    def redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if _Redaction.show:
            return record
        message = record.getMessage()
        if "@" in message:
            # Args emptied, not None: Faust's console formatter wraps a None into (None,) and the line is lost.
            record.msg, record.args = without_emails(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            # Formatted now, redacted: a handler's formatter uses exc_text when it is set.
            record.exc_text = without_emails("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        return record

    logging.setLogRecordFactory(redacted_record)
