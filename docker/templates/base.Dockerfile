# Warren template "base": Debian bookworm with bash, curl, ca-certificates and procps.
# Every template image follows the same conventions (the runtime relies on them):
#   - an unprivileged user `user`, uid/gid 1000, home /home/user; the image's USER is 1000:1000, the
#     identity user code runs as (the runtime starts its agent as root and drops user code to it);
#   - /workspace owned by 1000, the working directory;
#   - an idle CMD the agent supervises. The agent is not in the image: the runtime bind-mounts
#     warren-agent read-only at /opt/warren/warren-agent and makes it the entrypoint, with this CMD as its
#     arguments.
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends bash ca-certificates curl procps \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1000 user \
 && useradd --uid 1000 --gid 1000 --create-home --home-dir /home/user --shell /bin/bash user \
 && install -d -o 1000 -g 1000 -m 0755 /workspace

ENV LANG=C.UTF-8 \
    HOME=/home/user \
    USER=user \
    SHELL=/bin/bash \
    PATH=/home/user/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

WORKDIR /workspace
USER 1000:1000
CMD ["sleep", "infinity"]
