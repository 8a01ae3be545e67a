# Warren template "nodejs": base + Node.js 18 and npm (Debian's). `npm install -g` works for the sandbox
# user (prefix ~/.npm-global, on PATH).
ARG BASE=warren/template-base:latest
FROM ${BASE}

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

ENV NPM_CONFIG_PREFIX=/home/user/.npm-global \
    PATH=/home/user/.npm-global/bin:/home/user/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

USER 1000:1000
