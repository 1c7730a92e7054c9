"""Server settings: environment variables (``VOXGATE_*``) over an optional ``voxgate.toml``.

Precedence, highest first: explicit keyword arguments, environment, ``voxgate.toml`` (in the
working directory, or the file named by ``VOXGATE_CONFIG``), defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_PORT = 8700


class Settings(BaseSettings):
    """Everything the server reads at start. Build with ``Settings()``; fields are final."""

    model_config = SettingsConfigDict(env_prefix="VOXGATE_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    data_dir: Path = Path(".voxgate")
    database_url: str | None = None
    """SQLAlchemy async URL; default: a SQLite file in ``data_dir``."""
    dev_api_key: SecretStr | None = None
    """When set, this value is the development key of the ``default`` tenant."""
    agents_dir: Path = Path("agents")
    max_frame_bytes: int = Field(default=1 << 20, ge=1024)
    """Largest WebSocket message accepted; bigger ones close the socket with 1009."""
    inference_threads: int = Field(default=0, ge=0)
    """Threads for STT/TTS inference; 0 means one per CPU core."""
    tts_cache_entries: int = Field(default=256, ge=0, le=100_000)
    """Sentences whose speech is kept for reuse (0: synthesize every time)."""
    call_token_ttl_s: int = Field(default=30, ge=1, le=3600)
    drain_timeout_s: float = Field(default=10.0, ge=0)
    """On SIGTERM: how long live sessions get to close and save before exit."""
    metrics_token: SecretStr | None = None
    """Bearer token for ``GET /metrics``; unset: loopback clients only."""
    secret_key: SecretStr | None = None
    """Signs the browser client's session cookies; unset: generated once and kept in
    ``data_dir/secret_key``. Give servers that share a database the same value."""
    web_session_ttl_s: int = Field(default=12 * 3600, ge=60, le=30 * 24 * 3600)
    """How long a browser client login lasts."""
    log_level: str = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("VOXGATE_CONFIG", "voxgate.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file))

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'voxgate.db').resolve()}"

    @property
    def thread_count(self) -> int:
        return self.inference_threads or (os.cpu_count() or 2)
