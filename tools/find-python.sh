#!/usr/bin/env bash
# Print the path of a Python >= 3.12 interpreter, or explain what is missing and exit 1.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }
candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
candidates+=(python3.12 python3.13 python3.14 python3)
for root in "${PYENV_ROOT:-$HOME/.pyenv}/versions" /usr/local/bin /opt/python; do
  for p in "$root"/3.1[2-9]*/bin/python3 "$root"/python3.1[2-9]; do candidates+=("$p"); done
done
for c in "${candidates[@]}"; do
  p=$(command -v "$c" 2>/dev/null) || continue
  if ok "$p"; then
    "$p" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
echo "livemarket needs Python >= 3.12 and found none (tried: ${candidates[*]})." >&2
echo "Install one (pyenv install 3.12, or your OS package) or set PYTHON=/path/to/python3.12." >&2
exit 1
