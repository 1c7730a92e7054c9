"""The live-agent console at ``/console``: humans sign in (:mod:`.signin`), watch their
handoff queues, accept a waiting chat, read its history, type, send messages with
suggestions, and end it over a socket (:mod:`.socket`), and read the calls the agent
handed over on the phone side (:mod:`.calls`). :mod:`voxgate.server.app` mounts the
routers and the console's static files (:data:`.signin.CONSOLE_DIR`)."""
