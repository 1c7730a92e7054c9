"""Pure audio helpers: PCM conversions, base64, stateful resampling, WAV files."""
