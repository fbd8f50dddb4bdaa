#!/bin/bash
# Installs what the cgroup v2 VM lane (integration/vm/run.sh) needs on a Debian 12 machine, as root:
#   - qemu-system-x86 (software emulation: nested KVM does not work on these machines),
#   - the current Debian kernel image, plain -amd64 flavour (the -cloud one has no 9p), found
#     through `apt-cache depends linux-image-amd64`,
#   - busybox-static (virtme-ng's initramfs and the smoke test's rootfs), runc and jq (smoke test),
#   - virtme-ng from PyPI in a venv (default /opt/vng-venv, override with RT_VM_VENV).
# Idempotent and quiet: prints nothing and exits 0 when everything is in place; on failure it
# prints the log of the step that failed.
set -euo pipefail

VENV=${RT_VM_VENV:-/opt/vng-venv}
VNG_VERSION=${RT_VM_VNG_VERSION:-1.42}

if [ "$(id -u)" != 0 ]; then
    echo "install.sh: must run as root" >&2
    exit 1
fi

log=$(mktemp /tmp/rt-vm-install.XXXXXX)
trap 'rm -f "$log"' EXIT
run() { # run a step quietly; show its output only if it fails
    if ! "$@" >>"$log" 2>&1; then
        echo "install.sh: failed: $*" >&2
        cat "$log" >&2
        exit 1
    fi
}
installed() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed; }

export DEBIAN_FRONTEND=noninteractive
updated=
apt_update() { [ -n "$updated" ] || { run apt-get update -q; updated=1; }; }

# The kernel: whatever image the linux-image-amd64 metapackage points at today.
kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | grep -v -- -cloud- | head -n1
}
kpkg=$(kernel_pkg)
if [ -z "$kpkg" ]; then
    apt_update
    kpkg=$(kernel_pkg)
fi
if [ -z "$kpkg" ]; then
    echo "install.sh: apt-cache depends linux-image-amd64 names no kernel image" >&2
    exit 1
fi

missing=()
for p in qemu-system-x86 "$kpkg" busybox-static python3-venv runc jq; do
    installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt_update
    run apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! "$VENV/bin/vng" --version 2>/dev/null | grep -q "$VNG_VERSION"; then
    [ -x "$VENV/bin/pip" ] || run /usr/bin/python3 -m venv "$VENV"
    run "$VENV/bin/pip" install -q --disable-pip-version-check "virtme-ng==$VNG_VERSION"
fi
