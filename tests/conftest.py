import os

# testcontainers reads its settings when first imported. These machines are themselves
# containers with no registry: no reaper image can be pulled, and every connection a test
# makes must go to a port mapped on 127.0.0.1 rather than through the bridge gateway.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
os.environ.setdefault("TC_HOST", "127.0.0.1")
