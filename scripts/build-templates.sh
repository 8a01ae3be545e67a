#!/usr/bin/env bash
# Builds the built-in template images from docker/templates/<name>.Dockerfile:
#   warren/template-base:latest, warren/template-python:latest, warren/template-nodejs:latest,
#   warren/template-code-interpreter:latest, warren/template-desktop:latest (FROM code-interpreter).
# The others are built FROM warren/template-base:latest, which is built FROM debian:bookworm-slim (made
# locally by scripts/base-image.sh when no registry has it). The engine is made available first
# (scripts/docker-engine.sh). Images that already exist are skipped unless --force, so after editing a
# Dockerfile pass --force (it re-runs `docker build`; unchanged steps come from the layer cache).
#
# Usage: scripts/build-templates.sh [--force] [NAME...]     (NAME: base python nodejs code-interpreter desktop;
#                                                           default all; base is built first when missing)
set -euo pipefail
cd "$(dirname "$0")/.."

all=(base python nodejs code-interpreter desktop)
force=0
names=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    base | python | nodejs | code-interpreter | desktop) names+=("$arg") ;;
    *) echo "usage: $0 [--force] [base|python|nodejs|code-interpreter|desktop]..." >&2; exit 2 ;;
  esac
done
[ "${#names[@]}" -gt 0 ] || names=("${all[@]}")

say() { printf 'build-templates: %s\n' "$*" >&2; }

scripts/base-image.sh

# The legacy builder when BuildKit's client (buildx) is missing, as with Debian's engine and a newer CLI.
if ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0
fi

image_of() { echo "warren/template-$1:latest"; }

# build NAME REBUILD: builds warren/template-NAME:latest unless it exists and REBUILD is 0.
build() {
  local name=$1 rebuild=$2 image t0 size
  image=$(image_of "$name")
  if [ "$rebuild" = 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
    say "$image exists; skipped (--force rebuilds)"
    return 0
  fi
  say "building $image"
  t0=$SECONDS
  # --quiet still prints the whole build log when a step fails; --force-rm leaves no failed container.
  docker build --quiet --force-rm -t "$image" -f "docker/templates/$name.Dockerfile" docker/templates >/dev/null
  size=$(docker image inspect -f '{{.Size}}' "$image")
  say "built $image in $((SECONDS - t0))s, $((size / 1000000)) MB"
}

# Base first, as the others build on it: rebuilt with --force only when it is asked for.
base_asked=0
for n in "${names[@]}"; do [ "$n" = base ] && base_asked=1; done
if [ "$base_asked" = 1 ]; then build base "$force"; else build base 0; fi
for n in "${names[@]}"; do
  [ "$n" = base ] || build "$n" "$force"
done
