#!/usr/bin/env bash
# Extracts the GNOME extension's translatable strings into gnome-extension/po/DOMAIN.pot and
# merges them into each translation listed in po/LINGUAS. Run it after changing a string;
# test/packaging/gnome-extension.test.ts fails while the template or a translation is behind the code.
set -euo pipefail
cd "$(dirname "$0")/../gnome-extension"
domain=$(node -p 'require("./metadata.json")["gettext-domain"]')
xgettext --from-code=UTF-8 --language=JavaScript --keyword=_ --keyword=ngettext:1,2 \
  --add-comments=TRANSLATORS --sort-by-file --package-name="$domain" --msgid-bugs-address= \
  --output="po/$domain.pot" src/*.ts 2>/dev/null
sed -i '/^"POT-Creation-Date:/d' "po/$domain.pot"
for lang in $(sed 's/#.*//' po/LINGUAS); do
  [ -s "po/$lang.po" ] || msginit --no-translator --locale="$lang" --input="po/$domain.pot" --output-file="po/$lang.po"
  msgmerge --quiet --update --backup=none --no-fuzzy-matching "po/$lang.po" "po/$domain.pot"
done
