#!/usr/bin/env bash
# A real local Slurm (munge, slurmctld, slurmd) for tests and trials.
#   bash slurm/local-cluster.sh start [--nodes N] | stop | status | kill-node NAME
# --nodes 1 (default): one slurmd on this host, under its own hostname.
# --nodes N > 1: N slurmd, each in its own network and UTS namespace (hostnames cm-node1..N,
#   addresses 10.77.<net>.11.. on a bridge whose host side, 10.77.<net>.1, is slurmctld's), so
#   Slurm, PMIx and Open MPI treat them as separate hosts and talk TCP between them. One munge
#   key; munged's socket is a file every namespace sees. $CLEANMIX_SLURM_NET (default 77.0)
#   picks the subnet 10.<net>.0/24.
# Installs slurm-wlm and munge if missing. State lives in $CLEANMIX_SLURM_DIR (default
# /var/tmp/cleanmix-slurm). Each node's node-local scratch (slurm.conf TmpFS, where PMIx keeps
# per-step folders under names that would collide between nodes) is $CLEANMIX_SLURM_DIR/tmp.NODE;
# the rest of the file system, /tmp included, is shared, like a cluster's parallel file system.
# `start` is idempotent; `stop` ends only the daemons it started (by pid)
# and deletes only the namespaces and links it recorded in $CLEANMIX_SLURM_DIR/made, also after
# a crash. `kill-node NAME` simulates losing a node: its link goes down and every process in
# its namespace (its slurmd and every rank on it) gets SIGKILL.
# After `start`, export the SLURM_CONF it prints (or source "$CLEANMIX_SLURM_DIR/env").
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
state="${CLEANMIX_SLURM_DIR:-/var/tmp/cleanmix-slurm}"
conf="$state/slurm.conf"
cmd="${1:-status}"; shift || true
nodes=1
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes="$2"; shift 2;;
    *) [ "$cmd" = kill-node ] && { victim="$1"; shift; continue; }
       echo "unknown argument $1" >&2; exit 2;;
  esac
done
net="${CLEANMIX_SLURM_NET:-77.0}"
# Names derived from the state folder, so two test clusters (different CLEANMIX_SLURM_DIR and
# CLEANMIX_SLURM_NET) do not collide.
tag=$(printf '%s' "$state" | md5sum | cut -c1-6)
bridge="cmbr$tag"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return 0
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    slurm-wlm munge >/dev/null
}

made() { echo "$1 $2" >> "$state/made"; }  # KIND NAME: what stop removes

make_network() {  # the bridge and one namespace + veth per node
  ip link show "$bridge" >/dev/null 2>&1 || { ip link add "$bridge" type bridge; made link "$bridge"; }
  ip addr replace "10.$net.1/24" dev "$bridge"
  ip link set "$bridge" up
  for i in $(seq 1 "$nodes"); do
    local ns="cm$tag-n$i" veth="cmv$tag$i"
    ip netns list | grep -qw "$ns" || { ip netns add "$ns"; made netns "$ns"; }
    if ! ip link show "$veth" >/dev/null 2>&1; then
      ip link add "$veth" type veth peer name eth0 netns "$ns"; made link "$veth"
    fi
    ip link set "$veth" master "$bridge" up
    ip -n "$ns" addr replace "10.$net.$((10 + i))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
}

start() {
  install
  mkdir -p "$state"/{munge,ctld}
  chmod 700 "$state/munge"
  if ! alive "$state/munged.pid"; then
    [ -f "$state/munge/munge.key" ] || { dd if=/dev/urandom bs=1 count=1024 of="$state/munge/munge.key" 2>/dev/null; chmod 400 "$state/munge/munge.key"; }
    munged --force --key-file="$state/munge/munge.key" --socket="$state/munge/munge.socket" \
      --pid-file="$state/munged.pid" --log-file="$state/munged.log" --seed-file="$state/munge/seed"
  fi
  local host cpus mem node_lines="" list ctld suffix=""
  host=$(hostname -s)
  cpus=$(nproc --all)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
  if [ "$nodes" -gt 1 ]; then
    make_network
    mem=$(( mem / nodes ))
    for i in $(seq 1 "$nodes"); do
      node_lines+="NodeName=cm-node$i NodeAddr=10.$net.$((10 + i)) NodeHostname=cm-node$i CPUs=$cpus Sockets=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN"$'\n'
    done
    list="cm-node[1-$nodes]"; ctld="$host(10.$net.1)"; suffix=".%n"
  else
    node_lines="NodeName=$host CPUs=$cpus Sockets=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN"
    list="$host"; ctld="$host"
  fi
  echo "$nodes" > "$state/nodes"
  /usr/bin/python3 - "$repo/slurm/slurm.conf.in" "$conf" <<PY
import sys
s = open(sys.argv[1]).read()
for k, v in {"CTLD_HOST": "$ctld", "STATE": "$state", "NODE_SUFFIX": "$suffix",
             "CTLD_PORT": "${CLEANMIX_SLURMCTLD_PORT:-16817}",
             "SLURMD_PORT": "${CLEANMIX_SLURMD_PORT:-16818}",
             "SLURMD_TIMEOUT": "${CLEANMIX_SLURMD_TIMEOUT:-30}",
             "NODE_LINES": """$node_lines""".rstrip("\n"), "NODE_LIST": "$list"}.items():
    s = s.replace("@" + k + "@", v)
open(sys.argv[2], "w").write(s)
PY
  : > "$state/plugstack.conf"
  printf 'export SLURM_CONF=%s\n' "$conf" > "$state/env"
  export SLURM_CONF="$conf"
  alive "$state/slurmctld.pid" || slurmctld -f "$conf"
  if [ "$nodes" -gt 1 ]; then
    for i in $(seq 1 "$nodes"); do
      mkdir -p "$state/spool.cm-node$i"
      alive "$state/slurmd.cm-node$i.pid" && continue
      # Its own hostname (UTS namespace) and network; slurmd daemonises and writes its pid file.
      # nsenter, not `ip netns exec`: that remounts /sys, hiding the cgroup file system slurmd needs.
      # Node-local scratch: TmpFS=$state/tmp.%n (slurm.conf), where PMIx puts spmix_appdir_*.
      mkdir -p "$state/tmp.cm-node$i"; chmod 1777 "$state/tmp.cm-node$i"
      nsenter --net="/run/netns/cm$tag-n$i" unshare --uts sh -c \
        "hostname cm-node$i && exec slurmd -f '$conf' -N cm-node$i"
    done
  else
    mkdir -p "$state/spool" "$state/tmp"; chmod 1777 "$state/tmp"
    alive "$state/slurmd.pid" || slurmd -f "$conf"
  fi
  for _ in $(seq 1 90); do
    if [ "$(sinfo -h -N -o %T 2>/dev/null | grep -cE '^(idle|mixed|allocated)$')" -ge "$nodes" ]; then
      echo "local Slurm up ($nodes node(s)): export SLURM_CONF=$conf"
      sinfo
      return 0
    fi
    sleep 1
    scontrol update nodename="$list" state=resume >/dev/null 2>&1 || true
  done
  echo "local Slurm did not come up; logs in $state" >&2
  tail -5 "$state"/slurmctld.log "$state"/slurmd*.log >&2 || true
  return 1
}

stop() {
  local pids=("$state"/slurmd*.pid)
  for f in "${pids[@]}" "$state/slurmctld.pid" "$state/munged.pid"; do
    [ -f "$f" ] || continue
    if alive "$f"; then
      kill "$(cat "$f")" 2>/dev/null || true
      for _ in $(seq 1 30); do alive "$f" || break; sleep 0.2; done
      alive "$f" && kill -KILL "$(cat "$f")" 2>/dev/null || true
    fi
    rm -f "$f"
  done
  if [ -f "$state/made" ]; then
    # Whatever still runs inside our namespaces (ranks of a killed job) goes with them.
    while read -r kind name; do
      [ "$kind" = netns ] || continue
      ip netns pids "$name" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    done < "$state/made"
    tac "$state/made" | while read -r kind name; do
      case "$kind" in
        netns) ip netns del "$name" 2>/dev/null || true;;
        link) ip link del "$name" 2>/dev/null || true;;
      esac
    done
    rm -f "$state/made"
  fi
  echo "local Slurm stopped"
}

kill_node() {  # NAME: link down, then SIGKILL to every process in the node's namespace
  local i="${victim#cm-node}" ns
  ns="cm$tag-n$i"
  ip netns list | grep -qw "$ns" || { echo "no such node: $victim" >&2; exit 2; }
  ip link set "cmv$tag$i" down
  ip netns pids "$ns" | xargs -r kill -KILL
  echo "node $victim lost: link down, $(ip netns pids "$ns" | wc -l) processes left in $ns"
}

status() {
  for f in "$state/munged.pid" "$state/slurmctld.pid" "$state"/slurmd*.pid; do
    [ -e "$f" ] || continue
    d=$(basename "$f" .pid)
    if alive "$f"; then echo "$d: running (pid $(cat "$f"))"; else echo "$d: stopped"; fi
  done
  if alive "$state/slurmctld.pid"; then SLURM_CONF="$conf" sinfo; fi
}

case "$cmd" in
  start) start;; stop) stop;; status) status;; kill-node) kill_node;;
  *) echo "usage: bash slurm/local-cluster.sh start [--nodes N]|stop|status|kill-node NAME" >&2; exit 2;;
esac
