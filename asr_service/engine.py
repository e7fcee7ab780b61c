"""The models of one process and the two-tier policy: fast pass, accurate when needed."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from asr_service import models
from asr_service.transcribe import Options, Transcript, transcribe
from salescontrol import audio
from salescontrol.config import Settings
from salescontrol.errors import BadInput

FAST = "fast"
ACCURATE = "accurate"


def decode(data: bytes | Path, name: str) -> np.ndarray:
    """Audio bytes or a file as 16 kHz mono float32 (the pipeline's one decoder), or
    BadInput naming `name`."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    try:
        return audio.decode(raw)
    except audio.DecodeError as exc:
        raise BadInput(f"{name}: {exc}") from None


class Engine:
    """Both tiers' models, loaded once; `run()` transcribes one dialogue's audio."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fast_name = settings.whisper_model_fast
        self.accurate_name = settings.whisper_model_accurate or settings.whisper_model_fast
        self.fast, self.accurate = models.models_for(settings)
        # With one model for both tiers a second pass would give the same text.
        self.has_second_pass = self.accurate is not self.fast

    def run(
        self,
        audio: np.ndarray,
        tier: str = FAST,
        language: str | None = None,
        stop: threading.Event | None = None,
    ) -> tuple[Transcript, str]:
        """(transcript, tier used): the accurate model when asked or when unsure."""
        options = Options.from_settings(self.settings, language)
        if tier == ACCURATE and self.has_second_pass:
            return transcribe(self.accurate, self.accurate_name, audio, options, stop), ACCURATE
        first = transcribe(self.fast, self.fast_name, audio, options, stop)
        unsure = (
            first.avg_logprob is not None
            and first.avg_logprob < self.settings.asr_low_confidence_logprob
        )
        if not (unsure and self.has_second_pass):
            return first, FAST
        second = transcribe(self.accurate, self.accurate_name, audio, options, stop)
        second.processing_sec = round(second.processing_sec + first.processing_sec, 3)
        return second, ACCURATE
