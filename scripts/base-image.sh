#!/usr/bin/env bash
# Builds the Debian bookworm base image locally, with no registry: debootstrap (minbase) + the "slim"
# trims + `docker import`, tagged as the upstream image `debian:bookworm-slim`, so that Dockerfiles saying
# `FROM debian:bookworm-slim` build the same here and where a registry is reachable.
#
# Like the upstream slim image: deb822 sources for bookworm, bookworm-updates and bookworm-security
# (plain http; `docker build` RUN steps reach the mirror through the default bridge), security updates
# applied, dpkg told to keep docs, man pages and locales out of later installs, apt caches not kept,
# `PATH` set and `CMD ["bash"]`. No extra CA certificates are baked in: apt needs none over http.
#
# Skips the build when the tag already exists, unless --force. Makes the engine available first
# (scripts/docker-engine.sh) and installs debootstrap with apt if missing. Needs root.
#
# Environment:
#   WARREN_DEBIAN_MIRROR           (default http://deb.debian.org/debian)
#   WARREN_DEBIAN_SECURITY_MIRROR  (default http://deb.debian.org/debian-security)
#
# Usage: scripts/base-image.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."

tag=debian:bookworm-slim
suite=bookworm
mirror=${WARREN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${WARREN_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

say() { printf 'base-image: %s\n' "$*" >&2; }

scripts/docker-engine.sh

if [ "$force" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1; then
  say "$tag already exists; nothing to do (--force rebuilds it)"
  exit 0
fi
[ "$(id -u)" = 0 ] || { say "ERROR: debootstrap needs root"; exit 1; }

if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap with apt"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap; }
fi

work=$(mktemp -d /var/tmp/warren-base-image.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
rootfs=$work/rootfs
t0=$SECONDS

say "debootstrap --variant=minbase $suite from $mirror"
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log" >&2; say "ERROR: debootstrap failed"; exit 1; }
t_debootstrap=$((SECONDS - t0))

# --- Configure like the upstream slim image -------------------------------------------------------
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# "slim" variant: files normally unneeded in containers are kept out of every later install.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF

cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"

say "applying $suite-updates and $suite-security"
t1=$SECONDS
# The chroot resolves the mirror with the host's resolver (debootstrap copied resolv.conf in).
chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
  'apt-get update -qq && apt-get upgrade -y -qq && apt-get clean' >"$work/upgrade.log" 2>&1 ||
  { tail -n 30 "$work/upgrade.log" >&2; say "ERROR: upgrade in the chroot failed"; exit 1; }
t_upgrade=$((SECONDS - t1))

# --- Trim -------------------------------------------------------------------------------------------
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/var/lib/dpkg/*-old "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/var/tmp/* \
  "$rootfs"/usr/share/groff/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/linda/* \
  "$rootfs"/usr/share/lintian/overrides/* "$rootfs"/usr/share/man/*
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
# Host-specific files debootstrap leaves behind; the engine provides its own at run time.
: >"$rootfs/etc/resolv.conf"
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/etc/hostname"

say "docker import as $tag"
t2=$SECONDS
tar --numeric-owner --xattrs -C "$rootfs" \
  --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . |
  docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["bash"]' \
    -m "debootstrap --variant=minbase $suite (scripts/base-image.sh)" \
    - "$tag" >/dev/null
t_import=$((SECONDS - t2))

size=$(docker image inspect -f '{{.Size}}' "$tag")
say "built $tag: $((size / 1000000)) MB; debootstrap ${t_debootstrap}s, upgrade ${t_upgrade}s, import ${t_import}s, total $((SECONDS - t0))s"
