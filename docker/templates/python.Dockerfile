# Warren template "python": base + python3 with pip and venv. `pip install` works for the sandbox user
# (into ~/.local, PEP 668's guard relaxed with PIP_BREAK_SYSTEM_PACKAGES).
ARG BASE=warren/template-base:latest
FROM ${BASE}

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip python3-venv \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

USER 1000:1000
