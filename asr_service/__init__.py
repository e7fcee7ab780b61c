"""The ASR worker: faster-whisper fed by the asr-requests subscription (`python -m asr_service`)."""
