#!/usr/bin/env bash
# Shows the two rules that judge a change rather than a state: mtls-weakened and in-place-upgrade.
# Builds a throw-away git repository whose first commit is the mesh before the change (STRICT mTLS,
# Istio 1.23) and whose second commit is examples/footguns as it is, then runs `footgun diff`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
footgun="${FOOTGUN:-footgun}"
repo="$(mktemp -d)"
trap 'rm -rf "$repo"' EXIT

cp -R "$here/footguns" "$repo/mesh"
sed -i.bak 's/mode: PERMISSIVE /mode: STRICT     /; s/tag: 1.24.2/tag: 1.23.4/' \
    "$repo/mesh/security.yaml" "$repo/mesh/istio-operator.yaml"
rm -f "$repo"/mesh/*.bak
git -C "$repo" init -q
git -C "$repo" -c user.name=demo -c user.email=demo@example.com add -A
git -C "$repo" -c user.name=demo -c user.email=demo@example.com commit -qm "before"
cp "$here/footguns/security.yaml" "$here/footguns/istio-operator.yaml" "$repo/mesh/"
git -C "$repo" -c user.name=demo -c user.email=demo@example.com commit -qam "PERMISSIVE for the migration; Istio 1.24 in place"

cd "$repo"
"$footgun" diff HEAD~1 HEAD "$@"
