#!/usr/bin/env bash
# Builds the execution environment (EE) of docs/execution-environment/ with podman, on a Debian base image made
# locally, then runs the demo (playbooks/demo.sh) inside the image, with the collection installed in the image.
# Manual: neither `make test` nor CI runs it.
#
# Needs: root on a Debian 12 (bookworm) host; Debian's package mirror and PyPI reachable (no container registry
# needed); about 1 GB of disk under /var/lib/containers and build/ee/; the repository's .venv (`make venv`) or
# ansible-galaxy and ansible-builder 3 on the PATH.
# Usage, from the top of a clone:  tests/ee/build_and_run_demo.sh
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), WORK (default build/ee, ignored by git).
#
# What differs from docs/execution-environment/execution-environment.yml (the build uses a copy under $WORK):
# - the base image is localhost/debian-base:bookworm, made here with debootstrap and `podman import`;
# - options.package_manager_path is /usr/bin/apt-get (ansible-builder assumes dnf or microdnf);
# - options.skip_pip_install is true: Debian's python3.11 has no ensurepip; the base image has python3-pip instead.
# podman runs with runc, cgroupfs and no default ulimits (containers.conf below). The build uses the host's network
# (pip) and the host's CA bundle, so that a proxy the host trusts is trusted in the build too.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=${WORK:-$root/build/ee}
base=localhost/debian-base:bookworm
version=$(sed -n 's/^version: *//p' galaxy.yml)
image=localhost/piopiy-voice-ee:$version
[ -x .venv/bin/ansible-builder ] && export PATH=$root/.venv/bin:$PATH
step() { printf '\n==== %s ====\n' "$*"; }

step "1. podman, runc and debootstrap from Debian's packages; podman's configuration"
apt-get install -y podman runc debootstrap >/dev/null
mkdir -p "$work"
cat >"$work/containers.conf" <<'EOF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF
export CONTAINERS_CONF=$work/containers.conf
podman --version

step "2. The base image $base (debootstrap, then podman import)"
if podman image exists "$base"; then
    echo "$base exists: kept"
else
    rm -rf "$work/rootfs"
    debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
        bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log"
    chroot "$work/rootfs" apt-get clean
    tar -C "$work/rootfs" -c . | podman import - "$base"
    rm -rf "$work/rootfs"
fi

step "3. The EE image $image (ansible-builder build)"
rm -rf "$work/def"
mkdir -p "$work/def"
cp docs/execution-environment/execution-environment.yml docs/execution-environment/requirements.yml "$work/def/"
ansible-galaxy collection build --force --output-path "$work/def" >/dev/null
python3 - "$work/def/execution-environment.yml" "$base" <<'PY'
import sys
path, base = sys.argv[1], sys.argv[2]
text = open(path, encoding='utf-8').read()
edits = [('    name: quay.io/centos/centos:stream9\n', '    name: %s\n' % base),
         ('additional_build_steps:\n',
          'options:\n  package_manager_path: /usr/bin/apt-get\n  skip_pip_install: true\nadditional_build_steps:\n')]
for old, new in edits:
    if text.count(old) != 1:
        sys.exit('%s: expected once: %r' % (path, old))
    text = text.replace(old, new)
open(path, 'w', encoding='utf-8').write(text)
PY
start=$(date +%s)
(cd "$work/def" && ansible-builder build -v3 -t "$image" \
    --extra-build-cli-args='--network host --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro' \
    >"$work/build.log" 2>&1) || { tail -n 30 "$work/build.log" >&2; exit 1; }
echo "built in $(( $(date +%s) - start )) s (log: $work/build.log)"
podman image ls "$image"

step "4. The demo inside the image, with the collection the image installed"
podman run --rm "$image" ansible-galaxy collection list piopiy.voice
status=0
podman run --rm --network host -e NO_COLOR=1 "$image" bash -c '
    set -e
    export ANSIBLE_COLLECTIONS_PATH=/usr/share/ansible/collections
    cd "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/piopiy/voice"
    tests/utils/with_emulator.sh playbooks/demo.sh' >"$work/demo.log" 2>&1 || status=$?
tail -n 5 "$work/demo.log"
echo "demo inside the image: exit status $status (log: $work/demo.log)"
exit "$status"
