#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info` on this machine.
#
# Does nothing when the engine already answers. Otherwise installs docker.io
# with apt (root only), clears a pid file left by a killed dockerd, starts
# dockerd in the background (it outlives this script) and waits for it.
#
# Usage: scripts/ensure-docker.sh
set -euo pipefail

readonly PID_FILE=/var/run/docker.pid
# dockerd's own containerd: it trusts this pid file just like its own.
readonly CONTAINERD_PID_FILE=/var/run/docker/containerd/containerd.pid
readonly SOCKET=/var/run/docker.sock
readonly LOG_FILE=/var/log/null-worker-dockerd.log
readonly WAIT_SECONDS=60

info() { printf 'ensure-docker: %s\n' "$*"; }
err() { printf 'ensure-docker: ERROR: %s\n' "$*" >&2; }
die() {
    err "$@"
    exit 1
}

engine_answers() { docker info >/dev/null 2>&1; }

is_root() { [[ $(id -u) -eq 0 ]]; }

engine_installed() { command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1; }

check_docker_host() {
    # Starting a local dockerd cannot help a client pointed somewhere else.
    local host=${DOCKER_HOST:-unix:///var/run/docker.sock}
    if [[ $host != unix:///var/run/docker.sock && $host != unix:///run/docker.sock ]]; then
        die "DOCKER_HOST=$host does not answer 'docker info'; start that engine, or unset DOCKER_HOST to use a local one"
    fi
}

install_engine() {
    engine_installed && return 0
    if ! is_root; then
        die "Docker is not installed. Install it (e.g. 'sudo apt-get install docker.io'), start it, then run this again"
    fi
    info "dockerd not found: installing docker.io with apt-get"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io
    engine_installed || die "docker.io was installed but dockerd/docker are still not on PATH ($PATH)"
}

# True when process $1 runs (a zombie, killed but not yet reaped, does not count).
pid_alive() {
    local stat
    # kill -0 needs permission to signal; /proc shows any user that it exists.
    kill -0 "$1" 2>/dev/null || [[ -d /proc/$1 ]] || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    # /proc/PID/stat is "PID (COMM) STATE ..."
    [[ ${stat##*) } != Z* ]]
}

# True when $1 is a live dockerd (guards against a pid reused by another program).
pid_is_dockerd() {
    pid_alive "$1" && [[ $(cat "/proc/$1/comm" 2>/dev/null) == dockerd ]]
}

# Prints the pid of the running dockerd named in PID_FILE, if there is one.
running_daemon_pid() {
    local pid
    [[ -s $PID_FILE ]] || return 1
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] && pid_is_dockerd "$pid" && printf '%s\n' "$pid"
}

show_log_tail() {
    if [[ -f $LOG_FILE ]]; then
        err "last lines of $LOG_FILE:"
        tail -n 25 "$LOG_FILE" >&2 || true
    fi
}

remove_stale_pid_files() {
    local pid
    if [[ -e $PID_FILE ]]; then
        info "removing stale $PID_FILE (no dockerd is running)"
        rm -f "$PID_FILE"
    fi
    # A containerd killed with dockerd (or not yet reaped) would make dockerd
    # wait for it and give up with "timeout waiting for containerd to start".
    if [[ -s $CONTAINERD_PID_FILE ]]; then
        pid=$(<"$CONTAINERD_PID_FILE")
        if ! [[ $pid =~ ^[0-9]+$ ]] || ! pid_alive "$pid"; then
            info "removing stale $CONTAINERD_PID_FILE (no containerd is running)"
            rm -f "$CONTAINERD_PID_FILE"
        fi
    fi
}

start_daemon() {
    remove_stale_pid_files
    info "starting dockerd in the background, log: $LOG_FILE"
    mkdir -p "$(dirname "$LOG_FILE")"
    printf '\n===== %s ensure-docker starting dockerd =====\n' "$(date -u +%FT%TZ)" >>"$LOG_FILE"
    # setsid: own session, so a Ctrl-C aimed at the caller (make, CI) does not reach it.
    nohup setsid dockerd >>"$LOG_FILE" 2>&1 </dev/null &
    DAEMON_PID=$!
}

# Waits for `docker info` while process $1 (dockerd) stays alive.
wait_for_engine() {
    local pid=$1 deadline=$((SECONDS + WAIT_SECONDS))
    until engine_answers; do
        if ! pid_alive "$pid"; then
            show_log_tail
            die "dockerd (pid $pid) exited before answering; see $LOG_FILE"
        fi
        if ((SECONDS >= deadline)); then
            err "'docker info' still fails after ${WAIT_SECONDS}s: $(docker info 2>&1 | tail -n 1)"
            show_log_tail
            die "Docker engine did not come up; fix the problem shown above (full log: $LOG_FILE)"
        fi
        sleep 1
    done
}

main() {
    if engine_answers; then
        info "Docker engine already answers"
        return 0
    fi
    check_docker_host
    install_engine
    local pid start=$SECONDS
    if pid=$(running_daemon_pid); then
        if [[ -S $SOCKET && ! -w $SOCKET ]]; then
            die "dockerd (pid $pid) runs but $SOCKET is not writable by $(id -un): run as root, or add the user to the 'docker' group and log in again"
        fi
        info "dockerd (pid $pid) is running but not answering yet; waiting"
        wait_for_engine "$pid"
    else
        is_root || die "no Docker engine is running and starting dockerd needs root: start Docker (e.g. 'sudo systemctl start docker')"
        start_daemon
        wait_for_engine "$DAEMON_PID"
        info "dockerd (pid $DAEMON_PID) answered after $((SECONDS - start))s"
    fi
}

main "$@"
