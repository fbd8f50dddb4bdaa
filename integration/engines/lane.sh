#!/bin/sh
# The engine lane: containerd, Podman and Docker drive RUNTIME through one scenario each.
# usage: integration/engines/lane.sh RUNTIME [containerd|podman|docker ...] [--keep-going] [--record]
# See README.md beside this file. Needs root; installs the Debian packages it needs.
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 -u "$here/lane.py" "$@"
