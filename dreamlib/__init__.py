"""dreamlib: SleepNet and DreamNet ("Dreaming is All You Need") for vision and text."""

__version__ = "0.1.0"
