#!/usr/bin/env bash
# Least-privilege etcd users and roles for cdn-sched, created with etcdctl (etcd v3 API).
#
#   deploy/etcd/roles.sh [--prefix /cdn/] [--password-dir DIR] [--enable-auth]
#
# etcdctl reads its connection from the environment: ETCDCTL_ENDPOINTS, ETCDCTL_CACERT,
# ETCDCTL_CERT, ETCDCTL_KEY, and ETCDCTL_USER=root:<password> once auth is enabled.
#
# One user per service, named like the service, holding one role of the same name:
#   config-watcher     read <prefix> (documents, weights, members), write <prefix>heartbeat/
#   prober             write <prefix>members/prober/ (its leased membership key; watched by all probers)
#   weight-calculator  write <prefix>weights/ and <prefix>election/weight-calculator/, read
#                      <prefix>members/prober/ (only members may report probes)
#   cdnctl             read <prefix>, write <prefix>nodes/ and <prefix>domains/
# (`write` here is etcd's readwrite: a writer also reads what it writes and watches it.)
# Leases need no permission to grant; revoking one needs write access to its keys, which each
# owner has.
#
# Passwords: <password-dir>/<user> is used if it exists, else a random one is written there (mode
# 0600) for the service's ETCD_PASSWORD_FILE. With etcd's --client-cert-auth, a client certificate
# whose common name is the user name authenticates as that user without a password.
#
# --enable-auth also creates the root user (password from <password-dir>/root) and runs
# `etcdctl auth enable`. Re-running is safe: existing users, roles and grants are kept.
set -euo pipefail

prefix=/cdn/
password_dir=./etcd-passwords
enable_auth=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --password-dir) password_dir=$2; shift 2 ;;
    --enable-auth) enable_auth=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "roles.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$prefix" in */) ;; *) echo "roles.sh: --prefix must end with / (got $prefix)" >&2; exit 2 ;; esac
command -v etcdctl >/dev/null || { echo "roles.sh: etcdctl not found (Debian: apt-get install etcd-client)" >&2; exit 1; }
export ETCDCTL_API=3
mkdir -p "$password_dir"
chmod 700 "$password_dir"

# "already exists" is fine on a re-run; anything else is an error.
tolerate_exists() {
  local out
  if ! out=$("$@" 2>&1); then
    case "$out" in *"already"*) ;; *) echo "$out" >&2; return 1 ;; esac
  fi
}

password_of() {
  local file="$password_dir/$1"
  if [ ! -s "$file" ]; then
    (umask 077; openssl rand -base64 24 | tr -d '\n' > "$file")
  fi
  cat "$file"
}

add_user() {
  local user=$1
  tolerate_exists etcdctl user add "$user" --new-user-password="$(password_of "$user")"
  tolerate_exists etcdctl role add "$user"
  tolerate_exists etcdctl user grant-role "$user" "$user"
}

grant() {
  local role=$1 perm=$2 key=$3
  etcdctl role grant-permission --prefix=true "$role" "$perm" "$key" >/dev/null
}

add_user config-watcher
grant config-watcher read "$prefix"
grant config-watcher readwrite "${prefix}heartbeat/"

add_user prober
grant prober readwrite "${prefix}members/prober/"

add_user weight-calculator
grant weight-calculator readwrite "${prefix}weights/"
grant weight-calculator readwrite "${prefix}election/weight-calculator/"
# ReportProbes is accepted only from current prober members: the weight-calculator watches them.
grant weight-calculator read "${prefix}members/prober/"

add_user cdnctl
grant cdnctl read "$prefix"
grant cdnctl readwrite "${prefix}nodes/"
grant cdnctl readwrite "${prefix}domains/"
# A traced write leaves its traceparent here, in the same transaction (docs/architecture.md, traces).
grant cdnctl readwrite "${prefix}traces/"

if [ "$enable_auth" = 1 ]; then
  tolerate_exists etcdctl user add root --new-user-password="$(password_of root)"
  tolerate_exists etcdctl user grant-role root root
  etcdctl auth enable >/dev/null
fi
echo "etcd roles for prefix $prefix: config-watcher prober weight-calculator cdnctl (passwords in $password_dir)"
