# redis-server from Debian's archive, for the image-level queue tests (no registry needed).
ARG BASE_IMAGE=null-worker-base:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*
EXPOSE 6379
ENTRYPOINT ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", \
            "--appendonly", "no"]
