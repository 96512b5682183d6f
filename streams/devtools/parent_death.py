"""Children that die with the process that started them, even when it is killed outright.

``leadstream dev`` stops its broker, worker and collector itself on SIGHUP, SIGTERM or Ctrl-C;
a SIGKILL or a crash gives it no chance to, so on Linux each child also asks the kernel for
SIGTERM when its parent goes (prctl PR_SET_PDEATHSIG). Elsewhere that half is skipped and
only the parent's own stopping remains.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def _libc_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Resolved here, in the parent: the child, between fork and exec, only makes the call.
_PRCTL = _libc_prctl()


def dies_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` for subprocess.Popen: the child gets SIGTERM when this process ends (None off Linux).

    The kernel ties the signal to the thread that forks: start children from the main thread.
    """
    if _PRCTL is None:
        return None
    parent = os.getpid()
    prctl = _PRCTL

    def ask_for_sigterm() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call: nothing will signal us
            os.kill(os.getpid(), signal.SIGTERM)

    return ask_for_sigterm
