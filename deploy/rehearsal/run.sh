#!/usr/bin/env bash
# The multi-host rehearsal by hand: builds three etcd hosts and three service hosts as Linux network
# namespaces on this machine, runs the mesh on them with the prod overlay's settings and mutual TLS,
# puts it through latency/loss, an etcd partition, a host cut off and a host crash, prints the
# figures and tears everything down (also when it fails). See deploy/README.md, "Multi-host rehearsal".
#
#   sudo deploy/rehearsal/run.sh            # build, run, report
#   sudo deploy/rehearsal/run.sh --cleanup  # only remove what a killed run left behind
set -euo pipefail
cd "$(dirname "$0")/../.."

# Namespaces, bridges and /etc/netns files are named cdnrh<pid>…: remove those whose run is gone.
cleanup_abandoned() {
  local owners
  owners=$( { ip netns list | sed -n 's/^cdnrh\([0-9]\+\)h.*/\1/p'; ip -o link show type bridge | sed -n 's/^[0-9]*: cdnrh\([0-9]\+\)\(br\|pb\).*/\1/p'; } | sort -u)
  for owner in $owners; do
    if kill -0 "$owner" 2>/dev/null; then continue; fi
    for ns in $(ip netns list | awk '{print $1}' | grep "^cdnrh${owner}h" || true); do
      for pid in $(ip netns pids "$ns"); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns del "$ns"
      rm -rf "/etc/netns/$ns"
      echo "removed namespace $ns"
    done
    ip link del "cdnrh${owner}br" 2>/dev/null || true
    ip link del "cdnrh${owner}pb" 2>/dev/null || true
  done
  rmdir /etc/netns 2>/dev/null || true
}

if [ "$(id -u)" != 0 ]; then echo "rehearsal: needs root (network namespaces and links)" >&2; exit 1; fi
for cmd in ip etcd openssl kubectl dig; do
  command -v "$cmd" >/dev/null || { echo "rehearsal: $cmd is missing (Debian: iproute2, etcd-server, openssl, kubectl, bind9-dnsutils)" >&2; exit 1; }
done
cleanup_abandoned
if [ "${1:-}" = "--cleanup" ]; then exit 0; fi

NX_DAEMON=false npx nx run-many -t build --outputStyle=static >/dev/null
status=0
(cd test && npx vitest run chaos/multi-host.spec.ts) || status=$?
cleanup_abandoned
left=$(ip netns list | grep -c '^cdnrh' || true)
if [ "$left" != 0 ]; then echo "rehearsal: $left namespaces left behind:" >&2; ip netns list >&2; exit 1; fi
exit "$status"
