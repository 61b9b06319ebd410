# The null-worker image: supervisord runs the null PyWorker (vastai's framework) beside the
# user's queue consumer. BASE_IMAGE may be any Debian or Ubuntu image with python3 >= 3.10
# and its venv module; CI here builds on a locally made Debian base (no registry).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
COPY requirements/worker.txt /tmp/worker.txt
# The worker's venv gets no pip of its own: a throwaway venv's pip installs into it.
RUN python3 -m venv --without-pip /opt/null-worker \
    && python3 -m venv /tmp/installer \
    && /tmp/installer/bin/pip --python /opt/null-worker/bin/python install \
        --no-cache-dir --no-deps --disable-pip-version-check -r /tmp/worker.txt \
    && rm -rf /tmp/installer
COPY worker /opt/null-worker/src/worker
RUN /opt/null-worker/bin/python -c \
        'import sysconfig; print(sysconfig.get_paths()["purelib"])' > /tmp/site \
    && echo /opt/null-worker/src > "$(cat /tmp/site)/null-worker.pth" \
    && /opt/null-worker/bin/python -m compileall -q /opt/null-worker/src \
    && mkdir -p /opt/null-worker/etc /opt/null-worker/libexec /opt/null-worker/run

FROM ${BASE_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl openssl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/null-worker /opt/null-worker
COPY image/supervisord.conf /opt/null-worker/etc/supervisord.conf
COPY image/run-consumer /opt/null-worker/libexec/run-consumer
COPY image/entrypoint.sh /usr/local/bin/null-worker-entrypoint
EXPOSE 3000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/null-worker-entrypoint"]
