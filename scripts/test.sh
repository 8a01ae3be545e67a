#!/usr/bin/env bash
# Runs every Warren test on this machine: the Rust suites (cargo-nextest, with a private Postgres cluster
# started by the test harness when DATABASE_URL is unset) and the Python suites that drive the real agent and
# control plane with the official SDK (hopx-ai, pinned in tests/requirements.txt).
#
# Needs: the Rust toolchain with cargo-nextest, PostgreSQL server binaries (initdb/pg_ctl) on PATH, python3,
# and a Docker engine: scripts/docker-engine.sh uses a running one or installs and starts one (as root), then
# the base image and the template images are built locally when missing (no registry needed).
# The Rust part ends with a short run of every fuzz target (scripts/fuzz.sh, 10 s each; needs cargo-fuzz).
# Last, scripts/compose-test.sh runs docker-compose.yml end to end (Compose v1 `docker-compose`).
# Usage: scripts/test.sh            (everything)
#        scripts/test.sh --rust     (Rust suites and the short fuzz run only)
#        scripts/test.sh --python   (Python suites only)
#        scripts/test.sh --compose  (the Compose stack only)
set -euo pipefail
cd "$(dirname "$0")/.."

want_rust=1 want_python=1 want_compose=1
case "${1:-}" in
  --rust) want_python=0 want_compose=0 ;;
  --python) want_rust=0 want_compose=0 ;;
  --compose) want_rust=0 want_python=0 ;;
  "") ;;
  *) echo "usage: $0 [--rust|--python|--compose]" >&2; exit 2 ;;
esac

venv=.venv
# Prints how long each suite took (the CI log keeps them: docs/operations.md quotes them).
started=$SECONDS
took() { echo "test.sh: $1 took $((SECONDS - started)) s"; started=$SECONDS; }
ensure_venv() {
  if [ ! -x "$venv/bin/python" ] || ! cmp -s tests/requirements.txt "$venv/.requirements"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
    cp tests/requirements.txt "$venv/.requirements"
  fi
}

ensure_venv
# One venv for every suite: the Rust test that drives the control plane with the SDK uses it too.
export WARREN_TEST_PYTHON="$PWD/$venv/bin/python"

# The real-engine suites need an engine, the sandbox disk and the template images (idempotent, fast when
# everything is there already).
scripts/docker-engine.sh --sandbox-disk
scripts/base-image.sh
scripts/build-templates.sh
took "setup (venv, engine, images)"

if [ "$want_rust" = 1 ]; then
  # Build every binary first: the integration tests start the real `warren` and `warren-agent` processes.
  cargo build --workspace --all-targets --locked
  took "debug build"
  status=0
  cargo nextest run --workspace --locked --profile ci || status=$?
  # A test process's Docker runtime leaves its spare network holders when it ends (the next connect of
  # the same instance removes them): remove those of the tests' instances now.
  for instance in "${WARREN_TEST_INSTANCE:-warren-tests}" warren-tests-embedded warren-bench-smoke runtime-docker-tests \
    another-installation; do
    docker ps -aq --filter label=warren.holder --filter "label=warren.instance=$instance" \
      --filter 'name=^warren-spare-' | xargs -r docker rm -f >/dev/null
  done
  took "cargo nextest (every Rust suite)"
  [ "$status" = 0 ] || exit "$status"
  # Every parser of untrusted input, fuzzed briefly (docs/security.md, "Fuzzing").
  scripts/fuzz.sh "${WARREN_FUZZ_SECONDS:-10}"
  took "fuzz (build and run)"
fi

if [ "$want_python" = 1 ]; then
  cargo build --locked -p agent -p warren
  # tests/control_sdk is driven by the Rust test `sdk::official_python_sdk`, which starts the server.
  WARREN_AGENT_BIN="${WARREN_AGENT_BIN:-$PWD/target/debug/warren-agent}" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/agent_sdk
  took "Python agent SDK suite"
fi

if [ "$want_compose" = 1 ]; then
  scripts/compose-test.sh
  took "Compose"
fi
