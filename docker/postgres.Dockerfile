# PostgreSQL 15 from Debian's packages, on the local Debian base (scripts/base-image.sh makes
# debian:bookworm-slim when no registry has it), for docker-compose.yml. No password and no TCP port:
# the server listens only on its Unix socket in /run/postgresql, a volume shared with Warren's
# container, and trusts who can open it (docs/deployment.md). The data directory is a volume.
FROM debian:bookworm-slim
# The server needs neither LLVM (JIT, off here) nor Perl (postgresql-common's cluster tools, unused:
# the entrypoint runs initdb and postgres itself); removing them past their dependants more than halves
# the image. apt in this image then reports broken dependencies: it is not meant to be extended.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* /usr/lib/postgresql/15/lib/llvmjit* /usr/lib/postgresql/15/lib/bitcode \
 && dpkg --purge --force-depends libllvm14 libz3-4 perl perl-modules-5.36 libperl5.36 \
 && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
 && install -d -o postgres -g postgres -m 0755 /run/postgresql
COPY docker/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
USER postgres
STOPSIGNAL SIGINT
ENTRYPOINT ["postgres-entrypoint"]
