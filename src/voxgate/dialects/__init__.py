"""Wire protocols, one pure module each: frames decode to events, events encode to frames."""
