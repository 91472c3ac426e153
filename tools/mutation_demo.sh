#!/usr/bin/env bash
# Break one engine formula at a time in a throw-away copy of HEAD and show that
# tests/test_analytical.py fails, then that it passes again once restored.
# Usage: tools/mutation_demo.sh [python]   (default: .venv/bin/python of this checkout)
# Exits 2 when a pattern is no longer in the source (the mutation would not be made: update
# the pattern), 1 when a mutation is not caught or the unbroken tests fail, 0 otherwise.
set -u
REPO=$(git rev-parse --show-toplevel)
PY=${1:-$REPO/.venv/bin/python}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
git -C "$REPO" archive HEAD | tar -x -C "$TMP"
cd "$TMP"
missed=0
run() {  # exit status of the tests; prints their summary line
  local log status
  log=$(PYTHONPATH="$TMP" "$PY" -m pytest -q -p no:cacheprovider tests/test_analytical.py 2>&1)
  status=$?
  echo "$log" | grep -E "passed|failed|error" | tail -1
  return $status
}
mutate() {  # file, original text, broken text, label
  cp "$1" "$1.orig"
  if ! "$PY" - "$1" "$2" "$3" <<'PY'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
if text.count(old) != 1:
    sys.exit(f"pattern found {text.count(old)} times (not once) in {path}: {old}")
open(path, "w").write(text.replace(old, new, 1))
PY
  then
    echo "== $4: NOT APPLIED"; exit 2
  fi
  echo "== broken: $4"
  if run; then echo "   NOT CAUGHT"; missed=$((missed + 1)); else echo "   caught"; fi
  mv "$1.orig" "$1"
}
echo "== baseline"; run || { echo "the tests fail before any mutation"; exit 1; }
mutate livemarket/core/rules.py "return beh.util_link + common + platform - beh.jump_friction - link_friction - markup" "return beh.util_link + common + platform + beh.jump_friction - link_friction - markup" "jump friction sign in the link utility"
mutate livemarket/core/rules.py "return e / e.sum(axis=-1, keepdims=True)" "return e / (1.0 + e.sum(axis=-1, keepdims=True))" "logit denominator counts the outside option twice"
mutate livemarket/core/rules.py "return prior + (1.0 - forgetting_per_day) * (x - prior)" "return prior + (1.0 - 2 * forgetting_per_day) * (x - prior)" "rules.beta_forget at twice the rate"
mutate livemarket/agents/consumers.py "self.decay *= 1.0 - beh.forgetting_per_day" "self.decay *= 1.0 - 2 * beh.forgetting_per_day" "engine forgetting (lazy decay) at twice the rate"
mutate livemarket/core/rules.py "return good, beh.evidence_bad * bad * (1.0 - beh.protection_soften * covered)" "return good, beh.evidence_bad * bad" "protection no longer softens bad evidence"
mutate livemarket/core/rules.py "return beh.word_of_mouth * evidence" "return 2 * beh.word_of_mouth * evidence" "word of mouth passes twice the evidence"
mutate livemarket/models/market.py "delayed[over] = rank >= capacity[b]" "delayed[over] = rank > capacity[b]" "capacity off by one"
mutate livemarket/agents/consumers.py "return sums / np.maximum(self.degree[rows], 1)" "return sums / np.maximum(self.degree.sum(), 1)" "neighbour share divided by total degree"
echo "== restored"; run || { echo "the tests fail after restoring"; exit 1; }
if [ "$missed" -gt 0 ]; then echo "$missed mutation(s) NOT caught by the tests"; exit 1; fi
echo "every mutation was caught"
