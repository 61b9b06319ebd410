"""What supervisord says of the consumer program: the default healthcheck's answer.

supervisord tells every program it starts where its control socket is
(SUPERVISOR_SERVER_URL); the credentials are the ones in image/supervisord.conf.
"""

from __future__ import annotations

import asyncio
import os
import xmlrpc.client

from supervisor.xmlrpc import SupervisorTransport

SUPERVISOR_USER = "null-worker"
SUPERVISOR_PASSWORD = "null-worker"


def _consumer_state(server_url: str) -> str:
    transport = SupervisorTransport(SUPERVISOR_USER, SUPERVISOR_PASSWORD, server_url)
    proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
    return proxy.supervisor.getProcessInfo("consumer")["statename"]


async def consumer_health() -> tuple[bool, str]:
    """Unhealthy once supervisord has given up on the consumer (FATAL), healthy otherwise."""
    server_url = os.environ.get("SUPERVISOR_SERVER_URL", "")
    if not server_url.startswith("unix://") or not os.environ.get("CONSUMER_CMD"):
        return True, "ok"
    try:
        state = await asyncio.to_thread(_consumer_state, server_url)
    except (OSError, xmlrpc.client.Error) as error:
        return True, f"consumer state unknown: supervisord did not answer ({error})"
    if state == "FATAL":
        return False, ("the consumer is FATAL: it exited within two seconds of starting too many "
                       "times in a row and supervisord stopped restarting it")
    return True, f"consumer is {state}"
