# The `warren` runtime image from the host's release build (the path these machines test: no Rust
# image can be pulled here). Build the binary first, from the repository root:
#   cargo build --release --locked -p warren --bin warren
#   docker build -f docker/warren.Dockerfile -t warren/warren:latest .
# Where a registry is reachable, docker/warren-source.Dockerfile builds it from source instead.
# Holds no secret: the database URL and every other setting come from the environment at run time.
FROM debian:bookworm-slim
# iptables: the firewall rules that close sandboxes off from the host (run in the host's network
# namespace, see docs/deployment.md); btrfs-progs: each sandbox's bounded disk.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables btrfs-progs \
 && rm -rf /var/lib/apt/lists/*
# The binary to copy; scripts/compose-test.sh passes the debug build the test stage made.
ARG WARREN_BINARY=target/release/warren
COPY ${WARREN_BINARY} /usr/local/bin/warren
ENTRYPOINT ["warren"]
CMD ["serve"]
