"""The server secret and signed values."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from voxgate.config import Settings
from voxgate.server.signing import SECRET_FILE, Signer, server_secret

SECRET = b"s" * 32


def test_round_trip_and_expiry() -> None:
    signer = Signer(SECRET, "web-session")
    value = signer.sign({"key": "key_1"}, ttl_s=60, now=1000)
    assert signer.unsign(value, now=1059) == {"key": "key_1", "exp": 1060}
    assert signer.unsign(value, now=1060) is None


def test_forgeries_are_refused() -> None:
    signer = Signer(SECRET, "web-session")
    value = signer.sign({"key": "key_1"}, ttl_s=60, now=1000)
    body, _, mac = value.partition(".")
    other = Signer(SECRET, "web-session").sign({"key": "key_2"}, ttl_s=60, now=1000)
    for forged in (
        other.partition(".")[0] + "." + mac,  # another payload, this signature
        body + "." + mac[:-2],
        body,
        "",
        "not base64!.x",
        "é." + mac,
    ):
        assert signer.unsign(forged, now=1000) is None, forged
    # Another purpose or another secret: another key.
    assert Signer(SECRET, "access-token").unsign(value, now=1000) is None
    assert Signer(b"t" * 32, "web-session").unsign(value, now=1000) is None
    with pytest.raises(ValueError, match="reserved"):
        signer.sign({"exp": 1}, ttl_s=1)


def test_secret_is_generated_once_with_private_permissions(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = server_secret(settings)
    assert len(first) >= 32
    path = tmp_path / "data" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert server_secret(settings) == first


def test_configured_secret_wins(tmp_path: Path) -> None:
    configured = "c" * 40
    settings = Settings(data_dir=tmp_path, secret_key=SecretStr(configured))
    assert server_secret(settings) == configured.encode()
    assert not (tmp_path / SECRET_FILE).exists()
    with pytest.raises(ValueError, match="shorter than 32"):
        server_secret(Settings(data_dir=tmp_path, secret_key=SecretStr("short")))
