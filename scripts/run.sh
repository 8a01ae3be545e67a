#!/usr/bin/env bash
# Runs Warren on this machine from a fresh clone, idempotently:
#   1. a Docker engine and the sandbox disk (scripts/docker-engine.sh --sandbox-disk),
#   2. the Debian base image, made locally when no registry has it (scripts/base-image.sh), and the
#      PostgreSQL server package when no `initdb` is installed,
#   3. release builds of `warren` and the static `warren-agent`, side by side in target/run/,
#   4. then `warren` itself (arguments are passed on: default `serve`). With no WARREN_DATABASE__URL
#      that is the embedded mode (docs/operations.md): its own Postgres in the data directory
#      (WARREN_EMBEDDED__DATA_DIR, default /var/lib/warren), migrations, the template images built
#      when missing, on first start an organization `dev` and its API key (printed once), then the API
#      on port 8080 until Ctrl-C, which stops Postgres too. The data stays for the next start.
# Needs root on Debian 12 (apt, iptables, btrfs). Other commands: scripts/run.sh key create --org dev
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/docker-engine.sh --sandbox-disk
scripts/base-image.sh
# The embedded mode runs the PostgreSQL server binaries installed here.
if [ -z "${WARREN_DATABASE__URL:-}" ] && ! command -v initdb >/dev/null &&
  ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; }
fi

cargo build --release --locked -p warren --bin warren
agent=$(scripts/build-agent.sh | tail -1)
install -D -m 0755 target/release/warren target/run/warren
install -D -m 0755 "$agent" target/run/warren-agent

# This build's agent, not one installed earlier at docker.agent_binary's default path.
export WARREN_DOCKER__AGENT_BINARY=${WARREN_DOCKER__AGENT_BINARY:-$PWD/target/run/warren-agent}
exec target/run/warren "$@"
