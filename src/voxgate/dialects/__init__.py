"""Wire protocols, one pure module each: ``decode(frame) -> events``, ``encode(event) -> frames``."""
