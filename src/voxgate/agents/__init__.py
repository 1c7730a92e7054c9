"""Agents: what answers a user turn. Brains plug in behind :class:`~voxgate.agents.base.Agent`."""
