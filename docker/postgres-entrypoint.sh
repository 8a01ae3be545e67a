#!/bin/sh
# Entrypoint of warren/postgres (docker/postgres.Dockerfile): on the first start an empty cluster
# in $PGDATA with the database `warren`, then the server in the foreground, on its Unix socket only.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb --auth-local=trust --auth-host=reject --username=postgres --encoding=UTF8 -D "$PGDATA" >/dev/null
  echo "CREATE DATABASE warren" | postgres --single -D "$PGDATA" postgres >/dev/null
  echo "postgres-entrypoint: initialised $PGDATA with the database warren"
fi
exec postgres -D "$PGDATA" -c jit=off -c listen_addresses= -c unix_socket_directories=/run/postgresql "$@"
