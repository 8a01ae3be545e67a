# The `warren-agent` image: the static agent (scripts/build-agent.sh), which Warren makes every
# sandbox's entrypoint. Run once, it copies the agent into the volume mounted at /agent, the volume
# `docker.agent_volume` names (docs/deployment.md); the copy replaces the file atomically, so running
# sandboxes keep the binary they started with and new ones get this one. Build from the repository root:
#   scripts/build-agent.sh
#   docker build -f docker/warren-agent.Dockerfile -t warren/warren-agent:latest .
# On the Debian base for `sh` and `cp`; its layers are shared with the warren image's.
FROM debian:bookworm-slim
# The binary to copy; scripts/compose-test.sh passes the static debug build the test stage made.
ARG AGENT_BINARY=target/x86_64-unknown-linux-gnu/release/warren-agent
COPY ${AGENT_BINARY} /opt/warren/warren-agent
CMD ["sh", "-c", "cp /opt/warren/warren-agent /agent/.warren-agent.new && mv -f /agent/.warren-agent.new /agent/warren-agent && echo 'warren-agent copied to the agent volume'"]
