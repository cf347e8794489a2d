"""dreamlib: SleepNet and DreamNet ("Dreaming is All You Need") for vision and text."""

__version__ = "0.1.0"

import warnings as _warnings

# tqdm.auto warns on import inside Jupyter when ipywidgets is absent (plain bars work fine)
_warnings.filterwarnings("ignore", message="IProgress not found")
