#!/usr/bin/env bash
# Build a Debian bookworm base image with python3 and python3-venv, without any
# container registry: debootstrap a root file system and `docker import` it.
#
# Usage: scripts/build-base-image.sh [--force] [TAG]
#   TAG      image tag to create (default: null-worker-base:bookworm)
#   --force  rebuild even if TAG already exists
#
# The host's CA bundle is copied into the image and PIP_CERT points at it, so
# pip inside builds can verify PyPI on machines that need the host's CAs.
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), DEBIAN_SUITE
# (default bookworm), BASE_PACKAGES (default python3,python3-venv,ca-certificates).
set -euo pipefail

readonly DEFAULT_TAG=null-worker-base:bookworm
readonly SUITE=${DEBIAN_SUITE:-bookworm}
readonly MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
readonly PACKAGES=${BASE_PACKAGES:-python3,python3-venv,ca-certificates}
readonly HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
readonly IMAGE_CA_BUNDLE=/etc/ssl/certs/host-ca-certificates.crt
readonly DEBOOTSTRAP_LOG=/var/log/null-worker-debootstrap.log
readonly IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

ROOTFS_DIR=""

info() { printf 'build-base-image: %s\n' "$*"; }
die() {
    printf 'build-base-image: ERROR: %s\n' "$*" >&2
    exit 1
}

usage() {
    sed -n '5,7s/^# \{0,1\}//p' "$0"
}

cleanup() {
    [[ -n $ROOTFS_DIR && -d $ROOTFS_DIR ]] || return 0
    # debootstrap mounts /proc and /sys in the target; never delete through them.
    local mnt
    while read -r mnt; do
        umount -l "$mnt" 2>/dev/null || true
    done < <(awk -v d="$ROOTFS_DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
    rm -rf --one-file-system "$ROOTFS_DIR"
}

ensure_engine() {
    "$(dirname "${BASH_SOURCE[0]}")/ensure-docker.sh"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 && return 0
    info "debootstrap not found: installing it with apt-get"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap
}

bootstrap_rootfs() {
    info "debootstrap $SUITE ($PACKAGES) from $MIRROR into $ROOTFS_DIR (log: $DEBOOTSTRAP_LOG)"
    if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS_DIR" "$MIRROR" \
        >"$DEBOOTSTRAP_LOG" 2>&1; then
        tail -n 20 "$DEBOOTSTRAP_LOG" >&2
        if [[ -f $ROOTFS_DIR/debootstrap/debootstrap.log ]]; then
            tail -n 20 "$ROOTFS_DIR/debootstrap/debootstrap.log" >&2
        fi
        die "debootstrap failed (log above); check that $MIRROR is reachable and there is free disk space"
    fi
}

add_host_ca_bundle() {
    [[ -r $HOST_CA_BUNDLE ]] || die "$HOST_CA_BUNDLE not found on this host; install ca-certificates (apt-get install ca-certificates)"
    install -m 0644 "$HOST_CA_BUNDLE" "$ROOTFS_DIR$IMAGE_CA_BUNDLE"
}

slim_rootfs() {
    local r=${ROOTFS_DIR:?} f # never let an empty path reach rm -rf
    rm -rf "$r"/var/cache/apt/archives/*.deb \
        "$r"/var/cache/apt/*.bin \
        "$r"/var/lib/apt/lists/* \
        "$r"/var/log/*.log \
        "$r"/tmp/* \
        "$r"/debootstrap \
        "$r"/usr/share/locale/* \
        "$r"/usr/share/man/* \
        "$r"/usr/share/info/*
    find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    # Keep packages installed later in builds just as lean.
    cat >"$r/etc/dpkg/dpkg.cfg.d/null-worker-slim" <<'EOF'
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
EOF
    # No .deb archive or package cache is kept after apt-get runs in a build.
    cat >"$r/etc/apt/apt.conf.d/null-worker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    # debootstrap copies these from the host; Docker provides its own at run time.
    # rm first: writing through a symlink here could land on the host's file.
    for f in etc/resolv.conf etc/hostname; do
        rm -f "$r/$f"
        : >"$r/$f"
    done
}

import_rootfs() {
    local tag=$1
    info "importing the root file system as $tag"
    tar --numeric-owner -C "$ROOTFS_DIR" -c . | docker import \
        -c "ENV PIP_CERT=$IMAGE_CA_BUNDLE" \
        -c 'ENV LANG=C.UTF-8' \
        -c "ENV PATH=$IMAGE_PATH" \
        -c 'CMD ["/bin/bash"]' \
        -m "debootstrap $SUITE minbase + $PACKAGES (scripts/build-base-image.sh)" \
        - "$tag" >/dev/null
}

# After --force: drop the previous image unless something still uses it.
remove_replaced_image() {
    local old_id=$1
    [[ -n $old_id ]] || return 0
    if docker image rm "$old_id" >/dev/null 2>&1; then
        info "removed the replaced image ${old_id#sha256:}"
    fi
}

main() {
    local force=false tag=$DEFAULT_TAG
    while (($#)); do
        case $1 in
        --force) force=true ;;
        -h | --help)
            usage
            return 0
            ;;
        -*) die "unknown option $1 (usage: $0 [--force] [TAG])" ;;
        *) tag=$1 ;;
        esac
        shift
    done

    ensure_engine
    if image_exists "$tag" && ! $force; then
        info "image $tag already exists (use --force to rebuild)"
        return 0
    fi
    [[ $(id -u) -eq 0 ]] || die "debootstrap needs root: run this script as root (e.g. with sudo)"

    local start=$SECONDS old_id
    old_id=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    ensure_debootstrap
    trap cleanup EXIT
    trap 'exit 1' INT TERM HUP
    ROOTFS_DIR=$(mktemp -d /var/tmp/null-worker-rootfs.XXXXXX)
    chmod 0755 "$ROOTFS_DIR" # becomes the image's /, and mktemp makes it 0700
    bootstrap_rootfs
    add_host_ca_bundle
    slim_rootfs
    import_rootfs "$tag"
    remove_replaced_image "$old_id"
    info "built $tag in $((SECONDS - start))s ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
}

main "$@"
