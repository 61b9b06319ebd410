from dataclasses import dataclass, field


@dataclass(frozen=True)
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    endpoint_name: str = "null-demo"
    endpoint_id: int = 1
    api_key: str = "emulator-key"
    cert_ips: tuple[str, ...] = field(default=("127.0.0.1",))
    max_queue_time: float = 1.0
    stale_after: float = 20.0
