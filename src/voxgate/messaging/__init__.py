"""The messaging channel: session event logs with sequences (:mod:`.log`), the agent
answering in text (:mod:`.service`), the session states (:mod:`.states`), handoff queues
to live agents (:mod:`.handoff`), and the fan-out to sockets (:mod:`.hub`)."""
