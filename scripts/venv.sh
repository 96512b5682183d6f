# Sourced by ./run-dev and ./run-tests: makes .venv with the pinned stack, once per change of pins.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

find_python() {
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "leadstream needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

ensure_venv() {  # $1: the extras to install ("" or "test")
    local extras="${1:-}" python stamp wanted
    python="$(find_python)"
    [ -x "$VENV/bin/python" ] || "$python" -m venv "$VENV"
    wanted="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -c1-16)-${extras}"
    stamp="$VENV/.installed"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        # pip and the build backend talk at length (setuptools warns on every editable install): their
        # output goes to a log, shown only when the install fails.
        local log="$VENV/install.log"
        echo "installing leadstream and its pinned dependencies into .venv (once per change of pins; log: $log)" >&2
        if ! { "$VENV/bin/python" -m pip install --quiet --upgrade pip &&
               "$VENV/bin/python" -m pip install --quiet -c "$ROOT/constraints.txt" -e "$ROOT${extras:+[$extras]}"; } \
                >"$log" 2>&1; then
            echo "the install failed; the end of $log:" >&2
            tail -n 40 "$log" >&2
            return 1
        fi
        echo "$wanted" > "$stamp"
    fi
}
