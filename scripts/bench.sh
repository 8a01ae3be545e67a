#!/usr/bin/env bash
# Runs `warren-bench` (crates/bench; docs/BENCHMARKS.md) against a private Warren it starts and removes:
#   1. release builds of `warren`, `warren-bench` and the static agent (used from target/ or
#      $CARGO_TARGET_DIR, not installed),
#   2. a private Postgres cluster in a temporary directory on 127.0.0.1:$BENCH_PG_PORT (as `postgres`),
#   3. migrations, an organization `bench` with raised limits and an API key,
#   4. `warren serve` with config/bench.toml (Docker runtime, instance `bench`, pools for `python` and `desktop`),
#   5. the bench (arguments are passed on, e.g. `--n 5 --only 1,3`), which writes docs/BENCHMARKS.md
#      and target/bench/results.json,
#   6. cleanup on any exit: the server, its leftover containers (warm pool) and their disks, Postgres.
# Needs root, the Docker engine with the sandbox disk (scripts/docker-engine.sh --sandbox-disk) and the
# template images (scripts/build-templates.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

pg_port=${BENCH_PG_PORT:-5442}
work=$(mktemp -d /tmp/warren-bench.XXXXXX)
chmod 755 "$work"
pg_dir=$work/postgres
pg_ctl() { su postgres -s /bin/sh -c "pg_ctl -D '$pg_dir' $*"; }
server=
bin=${CARGO_TARGET_DIR:-target}/release

cleanup() {
  set +e
  [ -n "$server" ] && kill "$server" && wait "$server"
  for c in $(docker ps -aq --filter label=warren.instance=bench); do
    id=$(docker inspect -f '{{index .Config.Labels "warren.sandbox-id"}}' "$c")
    docker rm -f -v "$c" >/dev/null
    [ -n "$id" ] && [ -d "/var/lib/warren/sandbox-disk/$id" ] &&
      btrfs subvolume delete "/var/lib/warren/sandbox-disk/$id" >/dev/null
  done
  [ -s "$pg_dir/PG_VERSION" ] && pg_ctl stop -m fast >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --locked -p warren --bin warren -p bench --bin warren-bench
# The agent of this tree: an installed one may be older than the `warren` just built.
WARREN_DOCKER__AGENT_BINARY=$(realpath "$(scripts/build-agent.sh | tail -1)")
export WARREN_DOCKER__AGENT_BINARY

mkdir -p "$pg_dir"
chown postgres "$pg_dir"
su postgres -s /bin/sh -c "initdb -A trust -U postgres -D '$pg_dir'" >/dev/null
pg_ctl "-o \"-p $pg_port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off\" -l '$pg_dir/log' -w start" >/dev/null
su postgres -s /bin/sh -c "createdb -h 127.0.0.1 -p $pg_port warren"

export WARREN_CONFIG=config/bench.toml
export WARREN_DATABASE__URL="postgres://postgres@127.0.0.1:$pg_port/warren"
warren=$bin/warren
"$warren" migrate >/dev/null
"$warren" org create bench --rate-limit 100000000 --max-sandboxes 1000 >/dev/null
key=$("$warren" key create --org bench --name bench | tail -1)

"$warren" serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -sf http://127.0.0.1:8090/health >/dev/null && break
  sleep 0.2
done
curl -sf http://127.0.0.1:8090/health >/dev/null || { cat "$work/serve.log"; exit 1; }

WARREN_API_KEY=$key "$bin/warren-bench" --url http://127.0.0.1:8090 "$@" ||
  { status=$?; tail -50 "$work/serve.log"; exit "$status"; }
