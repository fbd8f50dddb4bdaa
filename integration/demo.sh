#!/bin/sh
# demo.sh RT BUNDLE: a busybox bundle made from Debian's busybox-static (no registry), its
# config from `rt spec`, run with `rt run BUNDLE/`. What the container prints shows that it is
# PID 1 with its own hostname, mount table and namespaces (the host's are printed first).
set -eu
RT=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
BUNDLE=$2
HERE=$(cd "$(dirname "$0")" && pwd)

rm -rf "$BUNDLE"
sh "$HERE/rootfs.sh" "$BUNDLE/rootfs" none
cat > "$BUNDLE/rootfs/demo.sh" <<'SCRIPT'
echo "inside:  pid $$, hostname $(hostname)"
echo "         namespaces: $(for n in cgroup ipc mnt net pid uts; do printf '%s ' "$(readlink /proc/self/ns/$n)"; done)"
echo "         mounts ($(wc -l < /proc/self/mountinfo)):"
awk '{ printf "           %-22s %s\n", $5, $9 }' /proc/self/mountinfo
echo "         interfaces: $(ls /sys/class/net | tr '\n' ' ')"
SCRIPT
(cd "$BUNDLE" && "$RT" spec)
# No terminal (the demo runs under make), and the script above as the process.
sed -i -e 's/"terminal": true/"terminal": false/' \
       -e 's|^\(\t*\)"sh"$|\1"/bin/sh", "/demo.sh"|' "$BUNDLE/config.json"

echo "host:    pid $$, hostname $(hostname)"
echo "         namespaces: $(for n in cgroup ipc mnt net pid uts; do printf '%s ' "$(readlink /proc/self/ns/$n)"; done)"
echo "         mounts: $(wc -l < /proc/self/mountinfo)"
echo "\$ rt run $BUNDLE/"
"$RT" run "$BUNDLE/"
