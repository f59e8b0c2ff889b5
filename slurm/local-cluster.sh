#!/usr/bin/env bash
# A real single-node Slurm (munge, slurmctld, slurmd) on localhost for tests and trials.
#   bash slurm/local-cluster.sh start|stop|status
# Installs slurm-wlm and munge if missing. State lives in $CLEANMIX_SLURM_DIR (default
# /tmp/cleanmix-slurm); `start` is idempotent; `stop` ends only the daemons it started (by pid).
# After `start`, export the SLURM_CONF it prints (or source "$CLEANMIX_SLURM_DIR/env").
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
state="${CLEANMIX_SLURM_DIR:-/tmp/cleanmix-slurm}"
conf="$state/slurm.conf"
cmd="${1:-status}"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return 0
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    slurm-wlm munge >/dev/null
}

start() {
  install
  mkdir -p "$state"/{munge,ctld,spool}
  chmod 700 "$state/munge"
  if ! alive "$state/munged.pid"; then
    [ -f "$state/munge/munge.key" ] || { dd if=/dev/urandom bs=1 count=1024 of="$state/munge/munge.key" 2>/dev/null; chmod 400 "$state/munge/munge.key"; }
    munged --force --key-file="$state/munge/munge.key" --socket="$state/munge/munge.socket" \
      --pid-file="$state/munged.pid" --log-file="$state/munged.log" --seed-file="$state/munge/seed"
  fi
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc --all)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
  sed -e "s|@HOST@|$host|g" -e "s|@STATE@|$state|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEM@|$mem|g" \
      -e "s|@CTLD_PORT@|${CLEANMIX_SLURMCTLD_PORT:-16817}|g" \
      -e "s|@SLURMD_PORT@|${CLEANMIX_SLURMD_PORT:-16818}|g" \
      "$repo/slurm/slurm.conf.in" > "$conf"
  : > "$state/plugstack.conf"
  printf 'export SLURM_CONF=%s\n' "$conf" > "$state/env"
  export SLURM_CONF="$conf"
  alive "$state/slurmctld.pid" || slurmctld -f "$conf"
  alive "$state/slurmd.pid" || slurmd -f "$conf"
  for _ in $(seq 1 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE "idle|mixed|allocated"; then
      scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
      echo "local Slurm up: export SLURM_CONF=$conf"
      sinfo
      return 0
    fi
    sleep 1
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
  done
  echo "local Slurm did not come up; logs in $state" >&2
  tail -5 "$state"/slurmctld.log "$state"/slurmd.log >&2 || true
  return 1
}

stop() {
  for d in slurmd slurmctld munged; do
    if alive "$state/$d.pid"; then
      kill "$(cat "$state/$d.pid")" 2>/dev/null || true
      for _ in $(seq 1 30); do alive "$state/$d.pid" || break; sleep 0.2; done
    fi
    rm -f "$state/$d.pid"
  done
  echo "local Slurm stopped"
}

status() {
  for d in munged slurmctld slurmd; do
    if alive "$state/$d.pid"; then echo "$d: running (pid $(cat "$state/$d.pid"))"; else echo "$d: stopped"; fi
  done
  if alive "$state/slurmctld.pid"; then SLURM_CONF="$conf" sinfo; fi
}

case "$cmd" in
  start) start;; stop) stop;; status) status;;
  *) echo "usage: bash slurm/local-cluster.sh start|stop|status" >&2; exit 2;;
esac
