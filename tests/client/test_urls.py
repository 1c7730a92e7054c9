"""voxgate.client.urls: the server URLs users type."""

from __future__ import annotations

import pytest

from voxgate.client.urls import server_base


@pytest.mark.parametrize(
    ("url", "ws", "http"),
    [
        ("http://h:1", "ws://h:1", "http://h:1"),
        ("https://h/", "wss://h", "https://h"),
        ("ws://h:8700/prefix/", "ws://h:8700/prefix", "http://h:8700/prefix"),
        ("wss://h?x=1", "wss://h", "https://h"),
    ],
)
def test_both_ways(url: str, ws: str, http: str) -> None:
    assert server_base(url, websocket=True) == ws
    assert server_base(url, websocket=False) == http


@pytest.mark.parametrize("url", ["h:8700", "ftp://h", "http://", ""])
def test_not_a_server_url(url: str) -> None:
    with pytest.raises(ValueError, match="not a server URL"):
        server_base(url, websocket=True)
