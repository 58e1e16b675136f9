#!/usr/bin/env bash
# Imports each fixture in tests/fixtures/imports/ next to the bundled seeds and scores its question set
# with `maisky eval --without-keywords` (docs/importing.md). Usage: benchmarks/imports.sh [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$(mktemp -d)}
maisky=${MAISKY:-$here/.venv/bin/maisky}
fx=$here/tests/fixtures/imports
declare -A title=(
  [infogalactic]="Ivan Maisky" [wikisum]="Ivan Maisky" [mirror]="Ivan Maisky" [fullwiki]="Ivan Maisky"
  [everipedia]="Munich Agreement")
declare -A file=(
  [infogalactic]=infogalactic-ivan-maisky.txt [wikisum]=wikisum-ivan-maisky.txt [mirror]=mirror-ivan-maisky.html
  [fullwiki]=fullwiki-ivan-maisky.txt [everipedia]=everipedia-munich-agreement.txt)
for name in infogalactic wikisum mirror fullwiki everipedia; do
  seeds=$out/$name
  rm -rf "$seeds" && mkdir -p "$seeds" && cp "$here"/seeds/*.toml "$seeds"/
  MAISKY_SEEDS=$seeds "$maisky" import "$fx/${file[$name]}" --id "fixture-$name" --title "${title[$name]}" \
    --author "Wikipedia contributors" --publication "$name (a mirror of Wikipedia)" --retrieved 2026-12-06 \
    --url "https://example.org/$name" --licence "CC BY-SA 4.0" > "$out/$name-report.txt"
  echo "== $name"
  MAISKY_SEEDS=$seeds "$maisky" eval -v --without-keywords "$fx/questions-$name.yaml" > "$out/$name-eval.txt" 2>&1 || true
  grep -E "overall|top-1|top1|declined" "$out/$name-eval.txt" | head -5
done
echo "reports and evals in $out"
