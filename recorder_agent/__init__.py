"""The seed's name for the recorder agent; see `recorder`."""
