# The warren and warren-agent images built from source, for machines that reach a registry (the
# official Rust image and crates.io). These machines reach neither: they use docker/warren.Dockerfile
# and docker/warren-agent.Dockerfile with the host's build, and never build this file. From the
# repository root:
#   docker build -f docker/warren-source.Dockerfile --target warren -t warren/warren:latest .
#   docker build -f docker/warren-source.Dockerfile --target warren-agent -t warren/warren-agent:latest .
# (The classic builder builds every stage before the target; BuildKit only those the target needs.)
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
COPY .sqlx .sqlx
COPY crates crates
COPY migrations migrations
COPY docker docker
# SQLX_OFFLINE=true (from .cargo/config.toml): the queries are checked against the committed .sqlx/.
RUN cargo build --release --locked -p warren --bin warren \
 && RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked -p agent \
      --bin warren-agent --target x86_64-unknown-linux-gnu

# Same content as docker/warren-agent.Dockerfile.
FROM debian:bookworm-slim AS warren-agent
COPY --from=build /src/target/x86_64-unknown-linux-gnu/release/warren-agent /opt/warren/warren-agent
CMD ["sh", "-c", "cp /opt/warren/warren-agent /agent/.warren-agent.new && mv -f /agent/.warren-agent.new /agent/warren-agent && echo 'warren-agent copied to the agent volume'"]

# Same content as docker/warren.Dockerfile.
FROM debian:bookworm-slim AS warren
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables btrfs-progs \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/warren /usr/local/bin/warren
ENTRYPOINT ["warren"]
CMD ["serve"]
