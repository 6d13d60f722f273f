"""The model bench's harness: verdicts per attribute, and what a clip showed instead of what was asked."""

from collections import Counter
from dataclasses import replace

from bench.prompt_checker import evaluate, ground_truth
from models.kinora_dit.scenes import render


def test_the_report_counts_what_was_drawn_instead_of_each_stated_value():
    truth = ground_truth(36, seed=5)
    # A stand-in model that draws every ball as a square and renders everything else as asked.
    drawn = {prompt: replace(scene, shape="square") if scene.shape == "ball" else scene for prompt, scene, _ in truth}
    report = evaluate(lambda prompt, seed: render(drawn[prompt]), list(drawn), seed=0)

    balls = sum(scene.shape == "ball" for _, scene, _ in truth)
    assert balls >= 2 and report.count("shape") == len(truth)  # every caption names its shape
    by_shape = {value: (right, total, wrong) for value, right, total, wrong in report.by_value("shape")}
    assert by_shape["ball"] == (0, balls, Counter(square=balls))
    others = [(right, total) for value, (right, total, _) in by_shape.items() if value != "ball"]
    assert sum(total - right for right, total in others) <= 1  # the judge misreads few clean renders

    merged = report.merged(report)
    assert merged.count("shape") == 2 * report.count("shape")
    assert merged.by_value("shape") == [(v, 2 * r, 2 * t, w + w) for v, r, t, w in report.by_value("shape")]


def test_the_noise_probe_gives_each_level_a_reading_per_clip_and_the_clip_back_under_little_noise():
    from bench.shape_by_noise import readings, scenes_of
    from models.kinora_dit.pipeline import load_builtin

    scenes = scenes_of("ball", 4, seed=1)
    assert {s.shape for s in scenes} == {"ball"} and len({(s.color, s.background, s.seed) for s in scenes}) == 4
    out = readings(load_builtin(), scenes, [0.9, 0.02], size=32, seed=0)
    assert list(out) == [0.9, 0.02] and all(sum(seen.values()) == 4 for seen, _ in out.values())
    # Under almost no noise the shipped network hands back the clip it was given; under nearly pure noise it
    # can only guess.
    assert out[0.02][0]["ball"] == 4 and out[0.02][1] < 0.01 < out[0.9][1]
    # Captions that name another shape: under almost no noise the clip in front of the network still wins;
    # under nearly pure noise the words change what it draws.
    told = readings(load_builtin(), scenes, [0.9, 0.02], size=32, seed=0, say="square")
    assert told[0.02][0]["ball"] == 4 and told[0.02][1] < 0.01 and told[0.9][1] != out[0.9][1]


def test_the_autoencoder_bench_judges_renders_and_their_round_trips_side_by_side():
    import numpy as np

    from bench.autoencoder import compare
    from models.kinora_dit.autoencoder import FrameAutoencoder

    # An untrained autoencoder gives back grey mush: the judge, right on the renders, fails the round trips.
    reports, psnr, seconds = compare(FrameAutoencoder(4), 6, size=32, seed=2)
    assert reports["rendered"].fully_right() >= 5 / 6 and reports["round trip"].fully_right() == 0
    assert reports["rendered"].count("shape") == reports["round trip"].count("shape") == 6
    assert np.isfinite(psnr) and psnr < 15 and seconds > 0
