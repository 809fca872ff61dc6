"""Series answers as pictures and text: the sparkline, the PNG (decoded back, its size,
bytes and drawing time), the alt text, and the text and Block Kit renderers of a series."""

from __future__ import annotations

import io
import json
import time

import pytest
from slack_sdk.models.blocks import Block

from finops_bot.questions.answer import Answer
from finops_bot.render.blocks import SHOW_CHART_ACTION, answer_blocks, image_block
from finops_bot.render.charts import (
    BARS,
    CHART_SIZE,
    chart_alt,
    chart_filename,
    chart_png,
    is_series,
    sparkline,
)
from finops_bot.render.json import render_json
from finops_bot.render.text import render_text
from tests.series import series_answer

PIL = pytest.importorskip("PIL.Image")


def decode(png: bytes):
    image = PIL.open(io.BytesIO(png))
    image.load()
    return image


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], ""),
        ([5.0], "▄"),
        ([3, 3, 3], "▄▄▄"),
        ([0, 0, 0], "▁▁▁"),
        ([0, 7], "▁█"),
        ([1, 2, 3, 4, 5, 6, 7, 8], BARS),
        ([-10, 0, 10], "▁▅█"),
        ([-3, -2, -1], "▁▅█"),
        ([1, None, 3], "▁ █"),
        ([float("nan"), 2, 4], " ▁█"),
        ([None, None], "  "),
    ],
)
def test_sparkline(values, expected):
    assert sparkline(values) == expected


def test_sparkline_scales_to_the_extremes_whatever_the_magnitude():
    line = sparkline([1e9, 1e9 + 1, 1e9 + 2])
    assert line[0] == "▁" and line[-1] == "█" and len(line) == 3


def test_chart_png_decodes_at_the_fixed_size_small_and_quick():
    answer = series_answer(values=[float(i % 9) * 37.5 for i in range(90)])
    chart_png(answer)  # the first one pays for importing matplotlib
    times = []
    for _ in range(5):
        began = time.perf_counter()
        png = chart_png(answer)
        times.append((time.perf_counter() - began) * 1000)
    image = decode(png)
    assert image.format == "PNG" and image.size == CHART_SIZE
    assert len(png) < 100_000
    times.sort()
    print(f"chart_png: {times[2]:.0f} ms median of 5 (90 daily points), {len(png):,} bytes")
    assert times[2] < 1500  # generous for a loaded CI machine; ~100 ms on a laptop


@pytest.mark.parametrize(
    "answer",
    [
        series_answer(),
        series_answer(values=[1.0]),
        series_answer(values=[0.0] * 7),
        series_answer(values=[-50.0, 20.0, -5.0, 100.0]),  # credits
        series_answer(currencies=("USD", "EUR", "JPY")),
        series_answer(granularity="week", values=[10, 20, 30, 25]),
        series_answer(granularity="month", values=[1000, 1200, 900]),
        series_answer(granularity="week", values=[float(i) for i in range(40)]),  # lines
        series_answer(unit="gpu_hours", values=[12.5, 30.0, 0.0, 48.0]),
        series_answer(title="x" * 400),
    ],
    ids=[
        "week",
        "one",
        "zeros",
        "negative",
        "3 currencies",
        "weeks",
        "months",
        "40 weeks",
        "gpu hours",
        "long title",
    ],  # fmt: skip
)
def test_every_shape_draws_at_the_same_size(answer):
    png = chart_png(answer)
    assert decode(png).size == CHART_SIZE and len(png) < 100_000


def test_the_same_answer_gives_the_same_bytes():
    assert chart_png(series_answer()) == chart_png(series_answer())


def test_a_non_series_answer_has_no_chart():
    answer = Answer(question="top 5 projects", kind="top")
    assert not is_series(answer)
    with pytest.raises(ValueError):
        chart_png(answer)
    assert not is_series(series_answer(values=[]))


def test_alt_text_says_what_period_min_max_and_last():
    alt = chart_alt(series_answer())
    assert alt.startswith("Line chart of Daily spend · project bert-training · last 7 days")
    assert "15–21 Nov 2026" in alt and "7 days" in alt
    assert "min $60.00 (2026-11-19)" in alt and "max $180.00 (2026-11-18)" in alt
    assert "last $140.00 (2026-11-21)" in alt
    two = chart_alt(series_answer(currencies=("USD", "EUR")))
    assert "USD: min $60.00" in two and "EUR: min €660.00" in two
    hours = chart_alt(series_answer(unit="gpu_hours", values=[1.0, 2.5]))
    assert "max 2.5 GPU-h" in hours and "$" not in hours
    assert chart_alt(series_answer(granularity="week", values=[1, 2])).startswith("Bar chart")


def test_chart_filename():
    assert chart_filename(series_answer()) == (
        "daily-spend-project-bert-training-last-7-days-2026-11-15-2026-11-21.png"
    )
    assert chart_filename(series_answer(title="<!channel> ../../etc")).startswith("channel-etc-")


def test_text_shows_the_sparkline_then_the_rows():
    text = render_text(series_answer())
    lines = text.splitlines()
    spark = next(i for i, line in enumerate(lines) if "▁" in line or "█" in line)
    assert lines[spark].strip().startswith(sparkline([120, 95.5, 130.25, 180, 60, 75, 140]))
    assert "min $60.00 · max $180.00 · last $140.00" in lines[spark]
    first_row = next(i for i, line in enumerate(lines) if line.strip().startswith("2026-11-15"))
    assert first_row > spark and "$120.00" in lines[first_row]
    assert "2026-11-21" in lines[first_row + 6] and "$140.00" in lines[first_row + 6]


def test_text_of_two_currencies_has_a_line_each_never_added():
    text = render_text(series_answer(currencies=("USD", "EUR")))
    assert any(line.strip().startswith("USD ") for line in text.splitlines())
    assert any(line.strip().startswith("EUR ") for line in text.splitlines())
    assert "never added together" in text


def test_text_of_gpu_hours_has_no_currency():
    text = render_text(series_answer(unit="gpu_hours", values=[10.0, 32.5]))
    assert "42.5 GPU-hours" in text and "32.5 GPU-h" in text
    assert "$" not in text and "No spend" not in text


def test_blocks_carry_the_sparkline_and_a_show_chart_button():
    share = json.dumps({"q": "daily spend last 7 days", "d": "2026-11-22"})
    blocks = answer_blocks(series_answer(), share=share, chart=share)
    for block in blocks:
        Block.parse(block).validate_json()
    text = json.dumps(blocks, ensure_ascii=False)
    assert sparkline([120, 95.5, 130.25, 180, 60, 75, 140]) in text
    buttons = [b for b in blocks if b["type"] == "actions"][0]["elements"]
    assert [b["text"]["text"] for b in buttons][:2] == ["Share in channel", "Show chart"]
    assert buttons[1]["action_id"] == SHOW_CHART_ACTION and buttons[1]["value"] == share
    # no Show chart button on an answer that is not a series
    top = Answer(question="q", kind="top", totals={"USD": 1.0})
    assert "Show chart" not in json.dumps(answer_blocks(top, share=share, chart=share))


def test_blocks_of_a_long_series_show_its_latest_buckets():
    answer = series_answer(values=[float(i) for i in range(30)])
    text = json.dumps(answer_blocks(answer), ensure_ascii=False)
    assert "20 earlier" in text and answer.rows[-1].key in text
    assert answer.rows[0].key not in text


def test_an_image_block_goes_after_the_totals():
    image = image_block("F123", "Daily spend", "Line chart of …")
    blocks = answer_blocks(series_answer(), image=image)
    assert blocks[3] == image and blocks[3]["slack_file"] == {"id": "F123"}
    Block.parse(image).validate_json()
    assert "Show chart" not in json.dumps(blocks)


def test_json_lists_files_and_keeps_every_field():
    answer = series_answer()
    before = answer.to_dict()
    payload = json.loads(render_json(answer))
    assert payload["files"] == [] and {k: payload[k] for k in before} == json.loads(
        json.dumps(before)
    )
    files = [{"path": "/x.png", "mimetype": "image/png", "title": "t", "alt_text": "a",
              "bytes": 3}]  # fmt: skip
    assert json.loads(render_json(answer, files))["files"] == files


def test_hostile_names_in_a_series_stay_escaped_in_every_slack_string():
    from finops_bot.render.blocks import answer_fallback_text
    from tests.finops_bot.render.test_escaping import UNESCAPED, mrkdwn_texts

    answer = series_answer(title="<!channel> spend", currencies=("<@U1>", "USD"))
    blocks = answer_blocks(answer, image=image_block("F1", answer.title, chart_alt(answer)))
    for text in [*mrkdwn_texts(blocks), answer_fallback_text(answer)]:
        assert not UNESCAPED.search(text), text
    assert decode(chart_png(answer)).size == CHART_SIZE  # odd currency codes draw too
