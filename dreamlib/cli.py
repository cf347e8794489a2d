"""``python -m dreamlib COMMAND``: the stable command line (DESIGN.md §7b).

Bad input never shows a traceback: it prints one line naming the culprit and the fix and
exits with status 2 (``--debug`` shows the full traceback instead).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .config import HEADS, MODELS, TASKS, ModelConfig
from .errors import DreamlibError

EXIT_USER_ERROR = 2


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that define a model (shared by count, train and bench)."""
    parser.add_argument("--task", choices=TASKS, default="vision")
    parser.add_argument("--model", choices=MODELS, default="sleepnet")
    parser.add_argument("--chain", help="resnet18|resnet34|resnet50 (vision), lstm[-k]|wordcnn|charcnn (text)")
    parser.add_argument("--blocks", type=int, default=None, help="number of sleep/dream blocks M (1..4)")
    parser.add_argument("--encoder", help="hub name, local folder, mae-small, mlm-small or minilm")
    parser.add_argument("--head", choices=HEADS, default=None, help="connection output head")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--in-channels", type=int, default=None)
    parser.add_argument("--seq-len", type=int, default=None)
    parser.add_argument("--num-classes", type=int, default=None)
    parser.add_argument("--width", type=int, default=None, help="chain width (ResNet base channels / text hidden)")
    parser.add_argument("--mask-ratio", type=float, default=None, help="MAE mask ratio in the connections")
    parser.add_argument("--unfrozen", action="store_true", default=None, help="train the encoder too")
    parser.add_argument("--straight-through", action="store_true", default=None,
                        help="text: straight-through gradients through the argmax")


MODEL_FLAG_FIELDS = {
    "task": "task", "model": "model", "chain": "chain", "blocks": "blocks", "encoder": "encoder",
    "head": "head", "image_size": "image_size", "in_channels": "in_channels", "seq_len": "seq_len",
    "num_classes": "num_classes", "width": "width", "mask_ratio": "mask_ratio",
    "unfrozen": "unfrozen", "straight_through": "straight_through",
}


def model_overrides(args: argparse.Namespace) -> dict:
    """The model fields the user set explicitly (None means 'not given')."""
    return {field: getattr(args, flag) for flag, field in MODEL_FLAG_FIELDS.items()
            if getattr(args, flag, None) is not None}


def model_config(args: argparse.Namespace) -> ModelConfig:
    return ModelConfig(**model_overrides(args)).resolved()


def cmd_count(args: argparse.Namespace) -> int:
    from .counting import count

    print(json.dumps(count(model_config(args))))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dreamlib", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        sub.add_argument("--debug", action="store_true", help="show full tracebacks")
        sub.set_defaults(func=func)
        return sub

    add_model_flags(command("count", cmd_count, "params and FLOPs of a configuration (offline)"))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DreamlibError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
