#!/usr/bin/env bash
# Runs Warren on this machine with the Docker runtime, from a fresh clone, idempotently:
#   1. a Docker engine and the sandbox disk (scripts/docker-engine.sh --sandbox-disk),
#   2. the base and template images, built locally when missing,
#   3. release builds of `warren` and the static `warren-agent`,
#   4. Postgres: $WARREN_DATABASE__URL if set, else a private cluster in $WARREN_DATA/postgres on
#      127.0.0.1:$WARREN_PG_PORT, started as the `postgres` user (initdb/pg_ctl from PostgreSQL 15),
#   5. migrations, and on first run an organization `dev` with an API key (printed once),
#   6. `warren serve` on port 8080 with runtime.kind = docker, until Ctrl-C (Postgres keeps running;
#      `scripts/run.sh stop` stops it). The data stays in $WARREN_DATA for the next start.
# Needs root on Debian 12 (apt, iptables, btrfs).
set -euo pipefail
cd "$(dirname "$0")/.."

data=${WARREN_DATA:-/var/lib/warren}
pg_port=${WARREN_PG_PORT:-5439}
pg_dir=$data/postgres
pg_ctl() { su postgres -s /bin/sh -c "pg_ctl -D '$pg_dir' $*"; }

if [ "${1:-}" = stop ]; then
  pg_ctl stop -m fast
  exit 0
fi

scripts/docker-engine.sh --sandbox-disk
scripts/base-image.sh
scripts/build-templates.sh

cargo build --release --locked -p control-plane --bin warren
agent=$(scripts/build-agent.sh | tail -1)
install -D -m 0755 "$agent" /usr/local/lib/warren/warren-agent

if [ -z "${WARREN_DATABASE__URL:-}" ]; then
  mkdir -p "$pg_dir"
  chown postgres "$pg_dir"
  if [ ! -s "$pg_dir/PG_VERSION" ]; then
    su postgres -s /bin/sh -c "initdb -A trust -U postgres -D '$pg_dir'" >/dev/null
  fi
  if ! pg_ctl status >/dev/null 2>&1; then
    pg_ctl "-o \"-p $pg_port -k /tmp -c listen_addresses=127.0.0.1\" -l '$pg_dir/log' -w start" >/dev/null
  fi
  su postgres -s /bin/sh -c "psql -h 127.0.0.1 -p $pg_port -tAc \"SELECT 1 FROM pg_database WHERE datname = 'warren'\"" \
    | grep -q 1 || su postgres -s /bin/sh -c "createdb -h 127.0.0.1 -p $pg_port warren"
  export WARREN_DATABASE__URL="postgres://postgres@127.0.0.1:$pg_port/warren"
fi

warren=target/release/warren
export WARREN_RUNTIME__KIND=docker
"$warren" migrate
if ! "$warren" key list --org dev >/dev/null 2>&1; then
  "$warren" org create dev
  echo "Your API key (shown once):"
  "$warren" key create --org dev --name dev | tail -1
fi
echo "Warren: http://localhost:8080  (sandboxes at http://{id}.sandbox.localhost:8080)"
exec "$warren" serve
