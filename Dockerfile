# The null-worker image: supervisord runs the null PyWorker (vastai's framework) beside the
# user's queue consumer. BASE_IMAGE may be any Debian or Ubuntu image; python3 (>= 3.10)
# and its venv module are installed from the base's own archive when it lacks them, as
# NVIDIA's CUDA runtime images do. CI here builds on a locally made Debian base.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
RUN if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
        apt-get update \
        && apt-get install -y --no-install-recommends python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*; \
    fi
COPY requirements/worker.txt /tmp/worker.txt
# The worker's venv gets no pip of its own: a throwaway venv's pip installs into it. The
# vastai CLI's scripts go: their dependencies are deliberately not installed.
RUN python3 -m venv --without-pip /opt/null-worker \
    && python3 -m venv /tmp/installer \
    && /tmp/installer/bin/pip --python /opt/null-worker/bin/python install \
        --no-cache-dir --no-deps --disable-pip-version-check -r /tmp/worker.txt \
    && rm -rf /tmp/installer \
    && rm -f /opt/null-worker/bin/vastai /opt/null-worker/bin/serve-vast-deployment
COPY worker /opt/null-worker/src/worker
RUN /opt/null-worker/bin/python -c \
        'import sysconfig; print(sysconfig.get_paths()["purelib"])' > /tmp/site \
    && echo /opt/null-worker/src > "$(cat /tmp/site)/null-worker.pth" \
    && /opt/null-worker/bin/python -m compileall -q /opt/null-worker/src \
    && mkdir -p /opt/null-worker/etc /opt/null-worker/libexec /opt/null-worker/run

FROM ${BASE_IMAGE}
# curl is how consumers release; openssl makes the TLS key and CSR when USE_SSL=true.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl openssl \
    && { command -v python3 >/dev/null || apt-get install -y --no-install-recommends python3; } \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/null-worker /opt/null-worker
COPY image/supervisord.conf image/help.txt /opt/null-worker/etc/
COPY image/run-consumer /opt/null-worker/libexec/run-consumer
COPY image/entrypoint.sh /usr/local/bin/null-worker-entrypoint
RUN ln -s /usr/local/bin/null-worker-entrypoint /usr/local/bin/null-worker
EXPOSE 3000
STOPSIGNAL SIGTERM
# Healthy while the worker's control server answers and its consumer is not FATAL.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/bin/sh", "-c", "curl -fsS -o /dev/null http://127.0.0.1:${NULL_CONTROL_PORT:-18999}/health"]
ENTRYPOINT ["/usr/local/bin/null-worker-entrypoint"]
