#!/usr/bin/env bash
# Mirador 4.0.0 (Apache-2.0), the IIIF viewer the tests open Lantai's manifests in: its
# self-contained UMD build from the npm registry, checked against the registry's integrity
# hash. Only dist/mirador.min.js is kept (the npm install of its sources is 375 MB).
set -euo pipefail
cd "$(dirname "$0")"
[ -f mirador.min.js ] && exit 0
INTEGRITY="sha512-uWsE9e2oqSc/lUu+vVwDGhTsycuhGsfZ2KfX6CLfXiT3wgGy6qT9+q5M3V9Zz72hkdIgsJugKesaowmRtYmvrA=="
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack mirador@4.0.0 --silent >/dev/null)
got=$(python3 -c 'import base64, hashlib, sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tmp/mirador-4.0.0.tgz")
[ "$got" = "$INTEGRITY" ] || { echo "mirador-4.0.0.tgz: integrity $got, expected $INTEGRITY" >&2; exit 1; }
tar xzf "$tmp/mirador-4.0.0.tgz" -C "$tmp" package/dist/mirador.min.js package/LICENSE
mv "$tmp/package/dist/mirador.min.js" mirador.min.js
mv "$tmp/package/LICENSE" LICENSE.mirador
