#!/bin/sh
# rootfs.sh DIR [PROBE]
#
# Builds the integration-test root filesystem in DIR (replacing what was there): Debian's static
# busybox with its applet links, minimal /etc/passwd and /etc/group, and the test probe as
# /bin/probe (PROBE, default integration/probe/target/x86_64-unknown-linux-gnu/release/probe;
# `make probe` builds it; `none` leaves it out, as `make demo` does). Needs no registry: busybox comes from the busybox-static package,
# installed here if missing (root).
#
# Users and groups (the tests rely on these):
#   root   0:0     home /root
#   user   1000:1000  home /home/user, also in groups audio(29), users(100), wheel(10)
#   other  1001:1001  home /home/other, also in users(100)
#   nobody 65534:65534
set -eu

[ $# -ge 1 ] || { echo "usage: $0 DIR [PROBE]" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
PROBE=${2:-$HERE/probe/target/x86_64-unknown-linux-gnu/release/probe}
# absolute paths: the build below runs from inside the new tree
mkdir -p "$(dirname "$1")"
DIR=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
case $PROBE in /* | none) ;; *) PROBE=$(pwd)/$PROBE ;; esac

BUSYBOX=/bin/busybox
if ! dpkg -s busybox-static >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y busybox-static >&2 || { apt-get update >&2 && apt-get install -y busybox-static >&2; }
fi
[ -x "$BUSYBOX" ] || { echo "$0: $BUSYBOX missing after installing busybox-static" >&2; exit 1; }
[ "$PROBE" = none ] || [ -x "$PROBE" ] || { echo "$0: probe not found at $PROBE (run: make probe)" >&2; exit 1; }

# Build next to DIR and swap it in, so a failed build never leaves half a rootfs behind.
TMP=$DIR.tmp.$$
rm -rf "$TMP"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP"
cd "$TMP"

mkdir -p bin sbin usr/bin usr/sbin etc root home/user home/other tmp proc sys dev var/run run mnt opt
chmod 1777 tmp
chmod 0700 root
cp "$BUSYBOX" bin/busybox
chmod 0755 bin/busybox
# One symlink per applet, at the path busybox reports (bin/sh, sbin/ip, usr/bin/env, ...).
bin/busybox --list-full | while read -r applet; do
    case $applet in
        bin/busybox | linuxrc) continue ;;
    esac
    d=$(dirname "$applet")
    mkdir -p "$d"
    # relative link back to /bin/busybox
    up=$(echo "$d" | sed 's|[^/][^/]*|..|g')
    [ -e "$applet" ] || ln -s "$up/bin/busybox" "$applet"
done

if [ "$PROBE" != none ]; then
    cp "$PROBE" bin/probe
    chmod 0755 bin/probe
fi

cat > etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
other:x:1001:1001:other:/home/other:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > etc/group <<'EOF'
root:x:0:
daemon:x:1:
tty:x:5:
wheel:x:10:user
audio:x:29:user
users:x:100:user,other
user:x:1000:
other:x:1001:
nogroup:x:65534:
EOF
echo rt-test > etc/hostname
: > etc/hosts
: > etc/resolv.conf
chown 1000:1000 home/user
chown 1001:1001 home/other

cd /
rm -rf "$DIR"
mv "$TMP" "$DIR"
trap - EXIT
echo "rootfs: $DIR ($(ls "$DIR/bin" | wc -l) entries in /bin)"
