#!/bin/sh
# Counts verihook's public surface from its rustdoc: the names at the crate root (index.html)
# and every public item (all.html), split into ours and octocrab's (the items rustdoc inlines
# under envelope::github_models from octocrab's re-exported models).
#
#   scripts/public-items.sh            # builds the docs (all features), then counts
#   scripts/public-items.sh DOC_DIR    # counts an existing target/doc/verihook directory
set -eu
if [ $# -ge 1 ]; then
    dir=$1
else
    cargo doc --no-deps --all-features --quiet
    dir=${CARGO_TARGET_DIR:-target}/doc/verihook
fi
python3 - "$dir" <<'PY'
import re, sys
d = sys.argv[1]
index = open(f"{d}/index.html", encoding="utf-8").read()
allh = open(f"{d}/all.html", encoding="utf-8").read()
# Root: one <dt> per name in each section (re-exports, modules, structs, ...).
body = index.split('id="reexports"', 1)[-1] if 'id="reexports"' in index else index
sections = re.findall(r'<h2 id="([a-z-]+)" class="section-header">.*?</h2>(.*?)(?=<h2 id=|</section>|$)', index, re.S)
root = {}
for name, html in sections:
    n = len(re.findall(r"<dt[ >]", html))
    if n:
        root[name] = n
items = []
for ul in re.findall(r'<ul class="all-items">(.*?)</ul>', allh, re.S):
    items += re.findall(r'href="([^"]+)"', ul)
octo = [h for h in items if h.startswith("envelope/github_models/")
        and not re.search(r"/(fn|trait)\.", h)]
print(f"root names: {sum(root.values())}  ({', '.join(f'{k} {v}' for k, v in root.items())})")
print(f"public items (all.html): {len(items)}  ours {len(items) - len(octo)}  octocrab's {len(octo)}")
PY
