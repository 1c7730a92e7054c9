"""Python client SDK for voxgate's wire protocols."""

from voxgate.client.atoms import AtomsClient, AtomsConnectError, TalkResult, talk

__all__ = ["AtomsClient", "AtomsConnectError", "TalkResult", "talk"]
