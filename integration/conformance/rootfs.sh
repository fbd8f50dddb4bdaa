#!/bin/sh
# rootfs.sh OUT.tar.gz — busybox rootfs in the layout of runtime-tools' own
# rootfs-amd64.tar.gz: /bin/busybox + one /bin/<applet> symlink per applet, empty /dev /proc /sys,
# /etc/passwd and /etc/group. Busybox from Debian's busybox-static.
set -eu
OUT=$(readlink -f "$1")
dpkg -s busybox-static >/dev/null 2>&1 || apt-get install -y busybox-static >&2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
chmod 0755 "$T"; cd "$T"
mkdir -p bin dev proc sys etc
cp /bin/busybox bin/busybox; chmod 0755 bin/busybox
for a in $(bin/busybox --list); do
    [ "$a" = busybox ] || [ "$a" = linuxrc ] || ln -s busybox "bin/$a"
done
cat > etc/passwd <<'P'
root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/bin/false
daemon:x:2:2:daemon:/sbin:/bin/false
nobody:x:65534:65534:nobody:/var/empty:/bin/false
P
cat > etc/group <<'G'
root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
tty:x:5:
wheel:x:10:root
users:x:100:
nogroup:x:65533:
nobody:x:65534:
G
tar --numeric-owner --owner=0 --group=0 -czf "$OUT.tmp" . && mv -f "$OUT.tmp" "$OUT"
echo "$OUT: $(tar -tzf "$OUT" | wc -l) entries"
