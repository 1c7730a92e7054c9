"""The messaging channel: session event logs with sequences, the agent answering in text,
and (later) handoff queues and live agents."""
