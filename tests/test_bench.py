"""`bench` measures a training step of any configuration; it never asserts a time."""

import json

import pytest

from dreamlib.bench import bench, encoder_seconds
from dreamlib.cli import main
from dreamlib.config import ModelConfig
from dreamlib.errors import ConfigError

TINY = ModelConfig(model="dreamnet", blocks=2, image_size=16, width=8)


def test_bench_reports_step_time_throughput_and_memory(one_thread):
    result = bench(TINY, batch_size=2, steps=2, warmup=1)
    assert result["step_seconds"] > 0
    assert result["examples_per_second"] == pytest.approx(2 / result["step_seconds"])
    assert result["peak_rss_mb"] > 0 and result["steps"] == 2
    assert 0 < result["encoder_params"] < result["trainable_params"] + result["encoder_params"]


def test_bench_bf16_runs_and_bad_options_are_one_error(one_thread):
    assert bench(TINY, batch_size=2, steps=1, warmup=0, precision="bf16")["step_seconds"] > 0
    for kwargs, culprit in (({"precision": "fp8"}, "fp8"), ({"batch_size": 0}, "0"),
                            ({"device": "tpu"}, "tpu")):
        with pytest.raises(ConfigError, match=culprit):
            bench(TINY, **kwargs)


@pytest.mark.parametrize("name, autoencoder", [("mae-small", False), ("mae-small", True),
                                               ("mlm-small", True)])
def test_encoder_alone_is_timed(name, autoencoder, one_thread):
    assert encoder_seconds(name, autoencoder, batch_size=2, steps=1, warmup=0, seq_len=8) > 0


def test_bench_cli_prints_one_json_line(capsys, one_thread):
    code = main(["bench", "--width", "8", "--image-size", "16", "--steps", "1", "--warmup", "0"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip())
    assert {"step_seconds", "examples_per_second", "peak_rss_mb"} <= set(result)
