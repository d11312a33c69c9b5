#!/usr/bin/env bash
# The portal's translations: extract the English messages, merge them into the Romanian and
# Russian catalogs, and compile. Run after changing a page or a message; then translate what
# `update` marked new or fuzzy and run it again (tests/unit/test_translations.py checks).
set -euo pipefail
cd "$(dirname "$0")/.."
pybabel=".venv/bin/pybabel"
folder=guardian_portal/translations
"$pybabel" extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
    --project Tutela -o "$folder/messages.pot" guardian_portal
for language in ro ru; do
    if [[ -f "$folder/$language/LC_MESSAGES/messages.po" ]]; then
        "$pybabel" update -i "$folder/messages.pot" -d "$folder" -l "$language"
    else
        "$pybabel" init -i "$folder/messages.pot" -d "$folder" -l "$language"
    fi
done
"$pybabel" compile --statistics -d "$folder" || true
