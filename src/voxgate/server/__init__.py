"""The HTTP/WebSocket server: thin I/O around the conversation engine."""
