#!/usr/bin/env bash
# End-to-end test of docker-compose.yml on the local engine (run by .ci/run after the Rust tests):
#   1. the engine, the sandbox disk and the Debian base image (made locally when missing),
#   2. the binaries (debug builds, as the test stage left them; --release: the release builds),
#   3. the images warren/postgres:15, warren/warren-agent and warren/warren (docker/*.Dockerfile),
#   4. `docker-compose up -d` with a bootstrap API key of its own (WARREN_BOOTSTRAP__API_KEY), until
#      Warren's health check passes (a first start without the template images builds them: minutes),
#   5. a sandbox created with curl, code run in it through the router
#      (`{id}.sandbox.localhost:PORT`), the sandbox deleted, its container gone,
#   6. `docker-compose down -v`, then nothing of the stack or its sandbox left: no container, network
#      or volume of the Compose project or the Warren instance, no sandbox volume, subvolume or secrets
#      file. Kept on purpose: the images, and the two sandbox networks Warren creates when missing
#      (shared by every installation on the engine; docs/deployment.md).
# On failure Warren's log is printed, and this instance's sandboxes (containers and subvolumes) and the
# stack are removed.
#
# Uses its own Compose project and Warren instance, so a real installation on the same engine is left
# alone. Environment: WARREN_PORT (default 18080), WARREN_INSTANCE (default compose-test),
# COMPOSE_PROJECT_NAME (default warren-compose-test), COMPOSE (default docker-compose; `docker compose`
# for Compose v2). Needs root.
#
# Usage: scripts/compose-test.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
case "${1:-}" in
  --release) profile=release ;;
  "") ;;
  *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac
export WARREN_PORT=${WARREN_PORT:-18080}
export WARREN_INSTANCE=${WARREN_INSTANCE:-compose-test}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-warren-compose-test}
read -r -a compose <<<"${COMPOSE:-docker-compose}"
# The legacy builder when BuildKit's client (buildx) is missing, as with Debian's engine and a newer CLI.
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0

t0=$SECONDS
step_start=$SECONDS
step() { printf 'compose-test: %s (%ss)\n' "$1" "$((SECONDS - step_start))" >&2; step_start=$SECONDS; }
fail() { printf 'compose-test: FAILED: %s\n' "$*" >&2; exit 1; }

# --- 1-3: prerequisites, binaries, images ------------------------------------------------------------
scripts/docker-engine.sh --sandbox-disk
scripts/base-image.sh
step "engine, sandbox disk and base image ready"

agent_target=x86_64-unknown-linux-gnu
if [ "$profile" = release ]; then
  cargo build --release --locked -p warren --bin warren
  scripts/build-agent.sh >/dev/null
else
  cargo build --locked -p warren --bin warren
  # The same build as test-support's static agent (crates/test-support/src/docker.rs): cached.
  RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --locked -p agent --bin warren-agent --target "$agent_target"
fi
step "binaries ($profile) built"

build() { docker build --quiet --force-rm "$@" . >/dev/null; }
build -t warren/postgres:15 -f docker/postgres.Dockerfile
build -t warren/warren-agent:latest -f docker/warren-agent.Dockerfile \
  --build-arg "AGENT_BINARY=target/$agent_target/$profile/warren-agent"
build -t warren/warren:latest -f docker/warren.Dockerfile \
  --build-arg "WARREN_BINARY=target/$profile/warren"
for image in warren/postgres:15 warren/warren-agent:latest warren/warren:latest; do
  printf 'compose-test: %s: %s MB\n' "$image" "$(($(docker image inspect -f '{{.Size}}' "$image") / 1000000))" >&2
done
step "images built"

# --- 4: up --------------------------------------------------------------------------------------------
cleanup() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    "${compose[@]}" logs --no-color --tail 50 warren >&2 || true
  fi
  # Warren first (so it starts no more spare holders), then the sandboxes and holders: they hold the
  # agent volume, which `down -v` then removes.
  "${compose[@]}" stop >/dev/null 2>&1 || true
  local c sid
  for c in $(docker ps -aq --filter "label=warren.instance=$WARREN_INSTANCE"); do
    sid=$(docker inspect -f '{{index .Config.Labels "warren.sandbox-id"}}' "$c")
    docker rm -f -v "$c" >/dev/null
    [ ! -d "/var/lib/warren/sandbox-disk/$sid" ] ||
      btrfs subvolume delete "/var/lib/warren/sandbox-disk/$sid" >/dev/null
  done
  "${compose[@]}" down -v >/dev/null 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT

key=$(python3 -c 'import secrets; print(f"wrn_{secrets.token_hex(8)}_{secrets.token_hex(32)}")')
export WARREN_BOOTSTRAP__API_KEY=$key
"${compose[@]}" up -d
warren_id=$("${compose[@]}" ps -q warren)
# The first start may build the template images: 20 minutes at most.
for _ in $(seq 1200); do
  health=$(docker inspect -f '{{.State.Health.Status}}' "$warren_id")
  [ "$health" = healthy ] && break
  [ "$(docker inspect -f '{{.RestartCount}}' "$warren_id")" = 0 ] || fail "warren exited"
  sleep 1
done
[ "$health" = healthy ] || fail "warren is not healthy: $health"
step "docker-compose up: healthy"

# The bootstrap organization was created on this first start; the create below uses its key.
grep -q 'Created organization' <<<"$("${compose[@]}" logs --no-color warren)" ||
  fail "Warren did not create the bootstrap organization"

# --- 5: a sandbox through the stack -------------------------------------------------------------------
api=http://localhost:$WARREN_PORT
json() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
created=$(curl -sS --fail-with-body "$api/v1/sandboxes" -H "X-API-Key: $key" \
  -H 'Content-Type: application/json' -d '{"template_name": "code-interpreter"}') ||
  fail "create: $created"
id=$(json id <<<"$created")
token=$(json auth_token <<<"$created")
step "sandbox $id created"

out=$(curl -sS --fail-with-body "http://$id.sandbox.localhost:$WARREN_PORT/execute" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"language": "python", "code": "import os; print(6 * 7, os.getuid())"}') || fail "execute: $out"
[ "$(json stdout <<<"$out")" = "42 1000" ] || fail "unexpected execute result: $out"
step "code run through the router"

curl -sS --fail-with-body -X DELETE "$api/v1/sandboxes/$id" -H "X-API-Key: $key" >/dev/null ||
  fail "delete"
# Its container and its network holder go; the instance's spare holders stay until Warren stops.
[ -z "$(docker ps -aq --filter "name=^warren-$id(-net)?\$")" ] ||
  fail "the sandbox's container or holder is still there after the delete"
step "sandbox deleted, its container gone"

# --- 6: down ------------------------------------------------------------------------------------------
"${compose[@]}" down -v
step "docker-compose down -v"
project=label=com.docker.compose.project=$COMPOSE_PROJECT_NAME
left=$(
  docker ps -aq --filter "$project"
  docker ps -aq --filter "label=warren.instance=$WARREN_INSTANCE"
  docker network ls -q --filter "$project"
  docker volume ls -q --filter "$project"
  docker volume ls -q --filter "name=warren-$WARREN_INSTANCE-agent"
  # The sandbox's workspace and home volumes are bound to its subvolume.
  docker volume ls -q | xargs -r docker volume inspect -f '{{.Name}} {{.Options.device}}' | grep "/$id/" || true
  ls -d "/var/lib/warren/sandbox-disk/$id" "/var/lib/warren/$WARREN_INSTANCE/runtime/secrets/$id" 2>/dev/null || true
)
[ -z "$left" ] || fail "left behind: $left"
printf 'compose-test: passed in %ss\n' "$((SECONDS - t0))" >&2
