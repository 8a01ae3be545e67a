#!/usr/bin/env bash
# Makes a Docker engine available on this machine, idempotently.
#
# - If `docker info` already answers, nothing is changed (whatever engine that is, it is used as is).
# - Else, on Debian 12 as root without systemd: installs `docker.io` (Debian's engine, containerd, runc),
#   `runsc` (gVisor, for templates that ask for it) and `btrfs-progs` with apt if `dockerd` is missing, writes
#   /etc/docker/daemon.json if there is none (gVisor runtimes, see below), starts `dockerd` detached
#   (own session, so it outlives the calling job) with a log file and a pidfile, and waits until the API
#   answers. It fails loudly, with the end of the daemon log, otherwise.
#
# Runtimes written to a new daemon.json (runsc from Debian works here only with these arguments; see
# docs/runtime-research.md):  runsc-nonet = gVisor without network (for internet_access=false sandboxes),
#                             runsc-hostnet = gVisor using the container's own network namespace, with
#                             --oci-seccomp so that it applies Warren's seccomp profile inside gVisor
#                             (without it runsc ignores the profile; docs/runtime-docker.md, "Seccomp").
# An existing daemon.json is left alone: add "--oci-seccomp" to its runsc-hostnet runtimeArgs and send
# dockerd SIGHUP (runtimes reload without a restart).
#
# Never starts a second daemon, and never passes `--bridge=none` (that deletes docker0 under any other
# daemon on the host).
#
# With --sandbox-disk it also makes (idempotently) the filesystem that bounds what sandboxes write: btrfs
# with quotas on, on a sparse loop file, mounted at $WARREN_SANDBOX_DISK_DIR. The runtime gives each
# sandbox a subvolume there with a qgroup limit and mounts it over the sandbox's writable paths (see
# docs/runtime-research.md §1). The loop file caps all sandboxes together, so they cannot fill the host
# disk. Loop mounts do not survive a reboot: run the script again at boot.
#
# Environment:
#   WARREN_DOCKERD_LOG         daemon log file              (default /var/log/warren-dockerd.log)
#   WARREN_DOCKERD_PIDFILE     daemon pidfile               (default /var/run/docker.pid, dockerd's own)
#   WARREN_DOCKERD_WAIT        seconds to wait for the API  (default 60)
#   WARREN_SANDBOX_DISK_DIR    btrfs mount point            (default /var/lib/warren/sandbox-disk)
#   WARREN_SANDBOX_DISK_IMAGE  its sparse backing file      (default /var/lib/warren/sandbox-disk.img)
#   WARREN_SANDBOX_DISK_SIZE   its size, all sandboxes together (default 20G; only used when creating it).
#                              The control plane promises it capacity.disk_overcommit (default 128) times
#                              over to the sandboxes' disk quotas (docs/configuration.md, [capacity]).
#
# Usage: scripts/docker-engine.sh [--sandbox-disk]   Exit status 0 when `docker info` answers (and the
#                                                    sandbox disk is mounted with quotas on, if asked).
set -euo pipefail

log_file=${WARREN_DOCKERD_LOG:-/var/log/warren-dockerd.log}
pid_file=${WARREN_DOCKERD_PIDFILE:-/var/run/docker.pid}
wait_secs=${WARREN_DOCKERD_WAIT:-60}
daemon_json=/etc/docker/daemon.json
disk_dir=${WARREN_SANDBOX_DISK_DIR:-/var/lib/warren/sandbox-disk}
disk_image=${WARREN_SANDBOX_DISK_IMAGE:-/var/lib/warren/sandbox-disk.img}
disk_size=${WARREN_SANDBOX_DISK_SIZE:-20G}

say() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

engine_up() { docker info >/dev/null 2>&1; }

# Waits (bounded) until the API answers; returns 1 on timeout or when the daemon process died.
wait_for_api() {
  local pid=$1 deadline=$((SECONDS + wait_secs))
  while [ "$SECONDS" -lt "$deadline" ]; do
    engine_up && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      return 1
    fi
    sleep 0.2
  done
  return 1
}

running_dockerd_pid() {
  local pid
  [ -s "$pid_file" ] || return 1
  pid=$(cat "$pid_file")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

install_engine() {
  [ "$(id -u)" = 0 ] || die "dockerd is not installed and installing it needs root"
  command -v apt-get >/dev/null || die "dockerd is not installed and there is no apt-get to install it"
  say "installing docker.io, runsc and btrfs-progs with apt"
  # Package scripts must not try to start services (there is no init system to start them with): a
  # policy-rc.d that denies every start. Keep an existing one, else add one for the install only.
  local own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local rc=0
  { apt-get update -qq &&
    apt-get install -y -qq --no-install-recommends docker.io runsc btrfs-progs; } || rc=$?
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get install failed (exit $rc)"
}

write_daemon_json() {
  [ -e "$daemon_json" ] && return 0
  mkdir -p "$(dirname "$daemon_json")"
  cat >"$daemon_json" <<'EOF'
{
  "runtimes": {
    "runsc-nonet": { "path": "/usr/bin/runsc", "runtimeArgs": ["--network=none"] },
    "runsc-hostnet": { "path": "/usr/bin/runsc", "runtimeArgs": ["--network=host", "--oci-seccomp"] }
  }
}
EOF
  say "wrote $daemon_json (gVisor runtimes runsc-nonet, runsc-hostnet)"
}

# btrfs with quotas on a sparse loop file, mounted at $disk_dir. Idempotent.
ensure_sandbox_disk() {
  [ "$(id -u)" = 0 ] || die "--sandbox-disk needs root (mount)"
  exec 8>/var/run/warren-sandbox-disk.lock
  flock -w "$wait_secs" 8 || die "another docker-engine.sh holds /var/run/warren-sandbox-disk.lock"
  if ! command -v mkfs.btrfs >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends btrfs-progs ||
      die "cannot install btrfs-progs"
  fi
  if [ "$(stat -f -c %T "$disk_dir" 2>/dev/null)" != btrfs ]; then
    mkdir -p "$disk_dir" "$(dirname "$disk_image")"
    if [ ! -e "$disk_image" ]; then
      truncate -s "$disk_size" "$disk_image"
      mkfs.btrfs -q "$disk_image" >/dev/null || die "mkfs.btrfs $disk_image failed"
      say "made btrfs on $disk_image ($disk_size, sparse)"
    fi
    mount -o loop "$disk_image" "$disk_dir" || die "cannot mount $disk_image on $disk_dir"
  fi
  # Quotas must be on for qgroup limits; enabling is a no-op when they already are.
  btrfs quota enable "$disk_dir" || die "cannot enable btrfs quotas on $disk_dir"
  say "sandbox disk: btrfs with quotas at $disk_dir ($(df -h --output=size "$disk_dir" | tail -n 1 | tr -d ' '))"
}

ensure_engine() {
  if engine_up; then
    say "engine already answering; nothing to do"
    return 0
  fi
  case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in
    unix:///var/run/docker.sock | unix:///run/docker.sock) ;;
    *) die "DOCKER_HOST=$DOCKER_HOST does not answer; this script only starts the local default engine" ;;
  esac

  # One caller at a time past this point (parallel CI steps may call us together).
  exec 9>/var/run/warren-docker-engine.lock
  flock -w "$wait_secs" 9 || die "another docker-engine.sh holds /var/run/warren-docker-engine.lock"
  engine_up && return 0

  local pid
  if pid=$(running_dockerd_pid); then
    say "dockerd (pid $pid) is running but not answering yet; waiting up to ${wait_secs}s"
    wait_for_api "$pid" && return 0
    die "dockerd (pid $pid) does not answer; see $log_file"
  fi

  command -v dockerd >/dev/null || install_engine
  command -v dockerd >/dev/null || die "dockerd still missing after install"
  write_daemon_json

  mkdir -p "$(dirname "$log_file")"
  say "starting dockerd (log $log_file, pidfile $pid_file)"
  local started=$SECONDS
  # setsid: its own session, so the job that called us can end (or be killed) without taking it along.
  # 9>&-: the daemon must not inherit (and so hold) our lock.
  setsid nohup dockerd --pidfile "$pid_file" >>"$log_file" 2>&1 </dev/null 9>&- &
  pid=$!
  if ! wait_for_api "$pid"; then
    say "dockerd did not answer within ${wait_secs}s; last lines of $log_file:"
    tail -n 30 "$log_file" >&2 || true
    die "no Docker engine"
  fi
  say "engine up after $((SECONDS - started))s (dockerd pid $(cat "$pid_file" 2>/dev/null || echo "$pid"))"
}

main() {
  local want_disk=0
  case "${1:-}" in
    --sandbox-disk) want_disk=1 ;;
    "") ;;
    *) echo "usage: $0 [--sandbox-disk]" >&2; exit 2 ;;
  esac
  ensure_engine
  [ "$want_disk" = 0 ] || ensure_sandbox_disk
}

main "$@"
