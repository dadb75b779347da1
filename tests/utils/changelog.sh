#!/usr/bin/env bash
# CHANGELOG.rst as antsibull-changelog will publish the version in galaxy.yml, rendered in a scratch copy of the
# staged collection so that neither changelogs/ nor the fragments change (no release is recorded).
# Usage: changelog.sh write|check STAGE   (write: update CHANGELOG.rst; check: fail when it is out of date)
set -euo pipefail

action=$1
stage=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
copy="$scratch/ansible_collections/piopiy/voice"
mkdir -p "$copy"
cp -a "$stage/." "$copy/"
version=$(sed -n 's/^version: *//p' "$copy/galaxy.yml")
cd "$copy"
export ANSIBLE_COLLECTIONS_PATH="$scratch"
if grep -q "^  ${version//./\\.}:" changelogs/changelog.yaml; then
    antsibull-changelog generate
else
    # Not yet released: render the release that the fragments will make, dated today (the date is not shown).
    antsibull-changelog release --version "$version"
fi
case $action in
    write) cp CHANGELOG.rst "$root/CHANGELOG.rst" ;;
    check) diff -u "$root/CHANGELOG.rst" CHANGELOG.rst >&2 || { echo "CHANGELOG.rst is out of date: run make changelog" >&2; exit 1; } ;;
    *) echo "usage: $0 write|check STAGE" >&2; exit 2 ;;
esac
