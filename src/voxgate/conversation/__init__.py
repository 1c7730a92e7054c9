"""One conversation per call: pure turn-taking, the transcript, and the async engine."""
