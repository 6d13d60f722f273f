"""Train Kinora's small video model on procedural clips with captions, reproducibly and resumably.

    OMP_WAIT_POLICY=ACTIVE python -m models.kinora_dit.train --config models/kinora_dit/config.json \\
        --out runs/kinora-dit [--resume | --init WEIGHTS] [--steps N] [--until STEP] [--minutes M] \\
        [--set KEY=VALUE] [--device cuda]
    python -m models.kinora_dit.train --out RUN --export WEIGHTS [--raw] [--expert-for NETWORK | --expert-of W]

Every batch is generated on the fly (scenes.py renders, captions.py describes, in English or French) from
a seeded generator, so the data needs no storage and a run is reproducible from its config. Checkpoints
(model, EMA, optimiser, step, data generator state) are written every ``checkpoint_every`` steps and at the
end; ``--resume`` continues from the last one. ``export`` writes the EMA weights in fp16 safetensors (with
``--expert-for``, a run on a ``sigma_band`` goes into one file beside the network it serves; with
``--expert-of``, the run is the network beside another file's expert). ``--device``
picks where the networks run (a GPU when one is present; not yet run on one here); noise is still drawn on the
CPU, so a run's data and noise do not depend on the device. ``OMP_WAIT_POLICY=ACTIVE`` (threads spin between
operations) made steps 1.27 times faster than PASSIVE on the 2-core machine with nothing else running; with
other busy processes on the cores, PASSIVE, or spinning threads slow everything down many times over.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from models.kinora_dit.autoencoder import FACTOR
from models.kinora_dit.captions import caption_with_attributes
from models.kinora_dit.pipeline import (
    PATCH,
    DetailHead,
    Network,
    ShapeHead,
    TokenPositions,
    attach_expert,
    encode_text,
    exported_metadata,
    guides_in,
    in_band,
    load_network,
    make_network,
    network_state,
    predict_clean,
    split_expert,
)
from models.kinora_dit.raster import parse_frame_size
from models.kinora_dit.scenes import (
    BACKGROUNDS,
    COLORS,
    EFFECTS,
    MOTIONS,
    SHAPES,
    SIZES,
    render_with_alpha,
    sample_scene,
)
from models.kinora_dit.shape_guide import KINDS, ShapeClassifier, as_video
from models.text_encoder import load_minilm

DEFAULTS = {
    "seed": 0, "frames": 16, "size": 32, "fps": 8, "width": 192, "depth": 6, "head_dim": 32, "batch": 32,
    "lr": 3e-4, "warmup": 200, "steps": 20000, "ema": 0.999, "drop_text": 0.1, "french": 0.3,
    "checkpoint_every": 500, "min_sigma": 0.2, "uniform_sigma": 0.0, "sigma_shift": 1.0,
    "prediction": "clean", "pooled_text": False, "text_aux": 0.0, "text_classes": 0.0,
    "token_positions": False, "final_lr": None, "unshifted_sigma": 0.0,
    "detail_head": False, "shape_head": False, "object_weight": 0.0, "sizes": None, "train_parts": None,
    "own_input": 0.0, "own_gap": [0.05, 0.4], "latent_channels": 0, "sigma_band": None,
    "guide_loss": 0.0, "guide_weights": None, "guide_match": False,
}
# What a caption can state, in the order of the labels ``batch`` returns.
ATTRIBUTES = {"color": COLORS, "shape": SHAPES, "size": SIZES, "motion": MOTIONS, "background": BACKGROUNDS,
              "effect": EFFECTS}
UNSTATED = -100  # the label of an attribute the caption leaves out (cross-entropy's ignore_index)


def load_config(path: Path | None) -> dict:
    config = dict(DEFAULTS)
    if path is not None:
        config |= json.loads(Path(path).read_text())
    return config


def batch(rng: np.random.Generator, config: dict) -> tuple[torch.Tensor, list[str], torch.Tensor, torch.Tensor]:
    """Clips in [-1, 1] (B, 3, F, H, W), their captions (a share dropped for guidance), what each caption
    states ((B, len(ATTRIBUTES)) indexes into the vocabularies, ``UNSTATED`` where it says nothing) and how
    much of each pixel the object covers (B, 1, F, H, W). The frame size is ``size``, or with ``sizes`` set
    one of those drawn per batch ("32", "40x24": the sizes other aspect ratios are sampled at)."""
    sizes = config["sizes"]
    size = parse_frame_size(str(sizes[rng.integers(len(sizes))])) if sizes else config["size"]
    scenes = [sample_scene(rng, "train") for _ in range(config["batch"])]
    rendered = [render_with_alpha(s, config["frames"], size, config["fps"]) for s in scenes]
    alpha = torch.from_numpy(np.stack([a for _, a in rendered])).unsqueeze(1)
    described = [caption_with_attributes(s, rng, "fr" if rng.random() < config["french"] else "en") for s in scenes]
    described = [("", {}) if rng.random() < config["drop_text"] else d for d in described]
    labels = torch.tensor([[vocab.index(stated[key]) if key in stated else UNSTATED
                            for key, vocab in ATTRIBUTES.items()] for _, stated in described])
    return as_video([clip for clip, _ in rendered]), [text for text, _ in described], labels, alpha


def pixel_weights(alpha: torch.Tensor, object_weight: float) -> torch.Tensor | None:
    """Loss weights per pixel: 1, plus ``object_weight`` on the object and a pixel around it (its outline
    drawn in or left out), so the shape counts. A star's points or a sun's rays are a few pixels of a clip
    of 16,384, too few for a plain mean squared error to prefer them to a blob; the network drew blobs even
    where the input under little noise showed the points."""
    if object_weight <= 0:
        return None
    near = torch.nn.functional.max_pool3d(alpha, (1, 3, 3), stride=1, padding=(0, 1, 1))
    return 1 + object_weight * near


def noise_levels(count: int, rng: torch.Generator, config: dict) -> torch.Tensor:
    """``count`` noise levels σ for a batch. Logit-normal, except a share ``uniform_sigma`` drawn uniformly, then
    shifted towards pure noise by ``sigma_shift`` (σ → sσ / (1 + (s - 1)σ), the sampler's schedule shift): a whole
    16×32×32 clip shows its background and the object's path through noise as high as 0.9, so those are only
    learned from the text at the very top of the range, which an unshifted draw rarely reaches. Then a share
    ``unshifted_sigma`` is redrawn uniformly without the shift: with the shift alone one draw in twenty falls
    below 0.3, where the sampler's last steps draw the object's outline, and the network grew worse there than
    at 0.4 (clean-clip error 0.030 at σ = 0.2 against 0.014 at σ = 0.4, and stars came out as blobs).
    With ``sigma_band`` [low, high] all levels are drawn uniformly between the two instead: a network that
    only ever denoises that band (a mid-band expert)."""
    # Drawn on the CPU (the generator's device), so a run's noise is the same on any device.
    if config["sigma_band"]:
        low, high = config["sigma_band"]
        return low + (high - low) * torch.rand(count, generator=rng)
    sigma = torch.sigmoid(torch.randn(count, generator=rng))
    if config["uniform_sigma"] > 0:
        uniform = torch.rand(count, generator=rng)
        sigma = torch.where(torch.rand(count, generator=rng) < config["uniform_sigma"], uniform, sigma)
    shift = config["sigma_shift"]
    sigma = shift * sigma / (1 + (shift - 1) * sigma)
    if config["unshifted_sigma"] > 0:
        uniform = torch.rand(count, generator=rng)
        sigma = torch.where(torch.rand(count, generator=rng) < config["unshifted_sigma"], uniform, sigma)
    return sigma.clamp(min=1e-3)


def predicted_on(transformer, video: torch.Tensor, text: torch.Tensor, mask: torch.Tensor,  # type: ignore[no-untyped-def]
                 rng: torch.Generator, config: dict, pooled: torch.Tensor | None = None,
                 positions: TokenPositions | None = None, detail: DetailHead | None = None,
                 shape: ShapeHead | None = None, patch: tuple[int, int, int] = PATCH,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Rectified flow on x = (1 - σ)·clip + σ·noise at levels σ from ``noise_levels``: the network's clean clip for
    each noisy ``video`` and the levels, which ``flow_loss`` scores against the clip."""
    sigma = noise_levels(video.shape[0], rng, config).to(video.device)
    noise = torch.randn(video.shape, generator=rng).to(video.device)
    s = sigma.view(-1, 1, 1, 1, 1)
    noisy = (1 - s) * video + s * noise
    if config["own_input"] > 0:
        noisy = own_inputs(transformer, video, noisy, sigma, rng, config, text, mask, pooled, positions, detail,
                           shape, patch)
    clean = predict_clean(transformer, noisy, sigma, text, mask, config["prediction"], pooled, positions, detail,
                          shape, patch)
    return clean, sigma


def own_inputs(transformer, video: torch.Tensor, noisy: torch.Tensor, sigma: torch.Tensor,  # type: ignore[no-untyped-def]
               rng: torch.Generator, config: dict, text: torch.Tensor, mask: torch.Tensor,
               pooled: torch.Tensor | None, positions: TokenPositions | None, detail: DetailHead | None,
               shape: ShapeHead | None, patch: tuple[int, int, int] = PATCH) -> torch.Tensor:
    """``noisy`` with a share ``own_input`` of its clips replaced by what the sampler itself would hand the
    network at their σ: the clip noised to a higher level σ' = σ + a gap drawn from ``own_gap`` (at most 1),
    the network's clean clip for it (no gradient), and one Euler step down to σ from there,
    ``clean' + (σ / σ')·(x' − clean')`` (were the guess the true clip, exactly a noisy clip at σ). The target stays
    the true clip.

    Trained on true noisy clips only, the low noise levels learn to sharpen what the input shows; sampling
    hands them instead the network's own blurred guess from the level above (a blob where the prompt says
    star), and the detail head turns what it does not recognise into speckle. Here they learn to finish the
    network's own guesses. Tried in run 13 (model card): cleaner clips, but rounder objects and fewer shapes
    right (given a blurred guess the least error is a blurred answer); not in the shipped recipe."""
    count = video.shape[0]
    chosen = torch.rand(count, generator=rng) < config["own_input"]
    low, high = config["own_gap"]
    gap = low + (high - low) * torch.rand(count, generator=rng)
    noise = torch.randn(video.shape, generator=rng)
    rows = chosen.nonzero().flatten().to(video.device)
    if len(rows) == 0:
        return noisy
    lower = sigma[rows]
    upper = (lower + gap.to(video.device)[rows]).clamp(max=1.0)
    u = upper.view(-1, 1, 1, 1, 1)
    start = (1 - u) * video[rows] + u * noise.to(video.device)[rows]
    with torch.no_grad():
        guess = predict_clean(transformer, start, upper, text[rows], mask[rows], config["prediction"],
                              pooled[rows] if pooled is not None else None, positions, detail, shape, patch)
        if patch == PATCH:  # pixels have a range; latents do not
            guess = guess.clamp(-1, 1)
    stepped = guess + (lower / upper).view(-1, 1, 1, 1, 1) * (start - guess)
    return noisy.index_copy(0, rows, stepped)


def flow_loss(predicted: torch.Tensor, video: torch.Tensor, sigma: torch.Tensor, min_sigma: float,
              weights: torch.Tensor | None = None) -> torch.Tensor:
    """The predicted clip scored as a velocity: (x - clip') / σ against noise - clip, whose difference is
    (clip - clip') / σ: the clip's error weighed by 1/σ², the weight capped by ``min_sigma`` at low noise
    levels (above the cap, with ``prediction`` "velocity", the network's own output against the true velocity).
    ``weights`` (B, 1, F, H, W) weigh pixels (``pixel_weights``), normalised to a mean of one per batch.

    The cap divides the clip's error, not the velocity: dividing x - clip' by the cap while the target stays
    noise - clip asks, below the cap, for a clip away from the true one (at σ = 0.2, 2.5 times the denoised
    clip less 1.5 times the input)."""
    error = (video - predicted) / sigma.view(-1, 1, 1, 1, 1).clamp(min=min_sigma)
    if weights is None:
        return error.square().mean()
    return (error.square() * weights).mean() / weights.mean()


COARSE = (4, 4, 4)  # frames, rows, columns of the coarse clip the pooled prompt learns to foretell


def coarse_loss(head: torch.nn.Module, pooled: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
    """How far the clip at 4×4×4 (its background, the object's colour and rough path) is from what a linear
    head reads off the pooled prompt. As an auxiliary loss it teaches the pooler, in a few hundred steps, what
    the diffusion loss alone taught it far more slowly: which words decide the picture (``TextPooler``)."""
    target = torch.nn.functional.adaptive_avg_pool3d(video, COARSE).flatten(1)
    return torch.nn.functional.mse_loss(head(pooled), target)


def class_loss(head: torch.nn.Module, pooled: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of a linear head naming, from the pooled prompt, each attribute the caption states.

    The coarse-clip loss taught the pooler the words that paint many pixels (background, colour); a moving or
    turning object changes few pixels of a 4×4×4 average, and the motion and the shape were left at chance
    (a linear probe read the motion back from the pooled prompt 68 % of the time). Naming them outright makes
    the pooled prompt carry each one as clearly as the colour."""
    logits = head(pooled).split([len(vocab) for vocab in ATTRIBUTES.values()], dim=1)
    stated = [(part, labels[:, i]) for i, part in enumerate(logits) if (labels[:, i] != UNSTATED).any()]
    return torch.stack([torch.nn.functional.cross_entropy(part, label, ignore_index=UNSTATED)
                        for part, label in stated]).mean()


GUIDED = {"shape": "shape", "outline": "shape", "size": "size", "turn": "motion"}  # the attribute each guide reads
GUIDE_STRIDE = 4  # the guides in training read every fourth frame (the turn guide a run of frames as long)


def load_guides(weights: str | Path, device: str = "cpu") -> dict[str, ShapeClassifier]:
    """The guides exported weights carry (``pipeline.attach_guide``), kind → frozen classifier."""
    guides = {kind: classifier.to(device) for kind, classifier in guides_in(load_file(str(weights))).items()}
    if not guides:
        raise ValueError(f"guide_weights: {weights} carries no guide")
    return guides


def guide_frames(classifier: ShapeClassifier, clips: torch.Tensor) -> torch.Tensor:
    """The frames of ``clips`` (B, C, F, H, W) a guide reads in training: every ``GUIDE_STRIDE``-th, or for a guide
    that compares frames a gap apart (the turn guide) the first ones, giving as many pairs."""
    if classifier.gap:
        return clips[:, :, :clips.shape[2] // GUIDE_STRIDE + classifier.gap]
    return clips[:, :, ::GUIDE_STRIDE]


def guide_loss(guides: dict[str, ShapeClassifier], clean: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of frozen guides reading the network's clean clips (pixels, clipped to their range) against
    what each caption asks of them: the shape it names (the shape and outline guides), the size it states, and
    turning where it asks for a rotation (the turn guide; other motions ask it nothing, as in sampling).

    The squared error alone makes the network draw, at the middle noise levels, the mean of the outlines it
    finds likely: a blob where the caption says star. The guides steer sampling away from such blobs; here the
    network learns to draw what they read as the named shape, so sampling might need less steering. Tried in run 18
    (model card): the expert learnt what makes the guides sure instead (larger objects, fewer raindrops and
    snowflakes), and fewer prompts came out right; not in the shipped recipe. A shape or size is
    the same in every frame, so the guides read only some frames (``guide_frames``): all 16 made a step 1.75 times
    as long on the 2-core CPU."""
    attributes = list(ATTRIBUTES)
    clips = clean.clamp(-1, 1)
    terms = []
    for kind, classifier in guides.items():
        stated = labels[:, attributes.index(GUIDED[kind])]
        if kind == "turn":
            asks = stated == MOTIONS.index("rotate")
            target = torch.full_like(stated, KINDS["turn"][0].index("turning"))
        else:
            asks, target = stated != UNSTATED, stated
        if asks.any():
            read = guide_frames(classifier, clips[asks])
            terms.append(torch.nn.functional.cross_entropy(classifier(read), target[asks]))
    return torch.stack(terms).mean() if terms else clean.sum() * 0


def guide_match_loss(guides: dict[str, ShapeClassifier], clean: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
    """How far what frozen guides read of the network's clean clips (pixels, clipped to their range) lies from
    what they read of the true clips ``video``: the squared difference of their features (each channel's strongest
    response in a frame, ``ShapeClassifier.frame_features``) over the ``guide_frames``, as a share of the
    true features' mean square. A perceptual loss in the guides' terms: where the object lies does not move a
    feature, so a sharp star anywhere matches the true star where the squared error prefers a blob; and the true
    clip, not the caption, is the target, so an object larger than the true one or rain left out costs as much
    as a wrong outline (against ``guide_loss``, which run 18 found the expert fooling). Tried in run 19 (model
    card): 40 % fewer clips of the wrong shape, but objects drawn larger (the features grow with the object), so
    fewer prompts right; not in the shipped recipe. Run 20 added a size guide to those matched: fewer objects drawn
    too large, but most of the shape gain went too. Run 21 gave each of the four terms run 19's weight: fewer
    wrong shapes among the candidates, but the guides, matched, no longer chose the right one. Run 22 matched
    classifiers trained apart from the guides (seed 1): the choice held up better, the first candidate was worse."""
    terms = []
    for classifier in guides.values():
        with torch.no_grad():
            truth = classifier.frame_features(guide_frames(classifier, video))
        read = classifier.frame_features(guide_frames(classifier, clean.clamp(-1, 1)))
        terms.append((read - truth).pow(2).mean() / truth.pow(2).mean().clamp(min=1e-8))
    return torch.stack(terms).mean()


def learning_rate(config: dict, step: int, warm_from: int) -> float:
    """The rate for the step after ``step``: a linear warm-up over ``warmup`` steps from ``warm_from`` (where the
    run or its ``--init`` began), then constant, or, with ``final_lr`` set, a cosine from ``lr`` down to
    ``final_lr`` at the run's last step. Lowering the rate is what made run 5's gains appear (the loss fell
    from 0.227 to 0.21 within 1,000 steps); the cosine does it gradually instead of by hand."""
    warm = min(1.0, (step + 1 - warm_from) / config["warmup"])
    if config["final_lr"] is None:
        return config["lr"] * warm
    start, end = warm_from + config["warmup"], config["steps"]
    progress = min(1.0, max(0.0, (step + 1 - start) / max(end - start, 1)))
    cosine = config["final_lr"] + (config["lr"] - config["final_lr"]) * 0.5 * (1 + np.cos(np.pi * progress))
    return float(cosine * warm)


def trains(config: dict, part: str) -> bool:
    """Whether the run trains ``part`` (a ``Network`` field or an auxiliary head): every part, or with
    ``train_parts`` set only those named. A head trained alone on a frozen transformer costs its forward pass
    only: nothing before the head needs gradients."""
    return config["train_parts"] is None or part in config["train_parts"]


def train(config: dict, out: Path, resume: bool, minutes: float | None, device: str = "cpu",
          init: Path | None = None, until: int | None = None, autoencoder: Path | None = None) -> dict:
    """Train (or resume) a run in ``out``. ``init``: start from exported weights (e.g. the shipped ones, so
    training goes on across machines that keep no checkpoint): their step count carries on, the optimiser and
    its warm-up start afresh, and the data and noise continue from generators seeded with that step.
    ``until``: stop (with a checkpoint) at that step, the schedule still running to ``steps``. With
    ``latent_channels`` the network learns over an autoencoder's latents; ``autoencoder`` (weights from
    ``models.kinora_dit.autoencoder``) is needed unless ``init`` brings one. It stays frozen; weights over pixels
    given as ``init`` start all but the transformer's input and output layers."""
    if config["guide_loss"] and config["latent_channels"]:
        raise ValueError("guides read pixels: guide_loss needs a network over pixels, not latent_channels")
    if config["guide_loss"] and not config["guide_weights"]:
        raise ValueError("guide_loss needs guide_weights: a weights file that carries guides")
    if config["guide_match"] and not config["guide_loss"]:
        raise ValueError("guide_match needs guide_loss: the weight of the guides' term")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    torch.manual_seed(config["seed"])
    built = make_network(config)
    transformer, pooler, positions, detail, shape, _ = built
    # One module for every part, so the optimiser and the EMA see everything the loss trains.
    parts = {name: part for name, part in built._asdict().items() if part is not None}
    if pooler is not None and config["text_aux"]:
        parts["coarse"] = torch.nn.Linear(config["width"], 3 * COARSE[0] * COARSE[1] * COARSE[2])
    if pooler is not None and config["text_classes"]:
        parts["classes"] = torch.nn.Linear(config["width"], sum(len(vocab) for vocab in ATTRIBUTES.values()))
    heads = [name for name in ("coarse", "classes") if name in parts]  # trained, checkpointed, never exported
    unknown = set(config["train_parts"] or ()) - set(parts)
    if unknown:
        raise ValueError(f"train_parts names no part of this network: {sorted(unknown)} (it has {sorted(parts)})")
    network = torch.nn.ModuleDict(parts).to(device)
    ema = copy.deepcopy(network).requires_grad_(False)
    for name, part in network.items():
        part.requires_grad_(trains(config, name) and name != "autoencoder")
    optimizer = torch.optim.AdamW([p for p in network.parameters() if p.requires_grad], lr=config["lr"],
                                  weight_decay=0.01)

    def parts_of(net: torch.nn.ModuleDict) -> Network:
        return Network(*(net[name] if name in net else None for name in Network._fields))  # noqa: SIM401

    def state_of(net: torch.nn.ModuleDict) -> dict[str, torch.Tensor]:
        return network_state(parts_of(net))

    def load_into(net: torch.nn.ModuleDict, state: dict[str, torch.Tensor]) -> None:
        load_network(parts_of(net), state)

    data_rng = np.random.default_rng(config["seed"])
    noise_rng = torch.Generator().manual_seed(config["seed"])
    step, losses, warm_from, guide_losses = 0, [], 0, []
    checkpoint = out / "checkpoint.pt"
    resuming = resume and checkpoint.exists()
    has_autoencoder = resuming or autoencoder is not None
    if init is not None and not resuming:
        # Weights that carry an expert: a run on a band of noise levels goes on from whichever of the two
        # denoises the band's middle level when sampling, others from the network.
        initial, expert = split_expert(load_file(str(init)))
        metadata, init_config = exported_metadata(init)
        from_expert = bool(config["sigma_band"] and expert and in_band(float(np.mean(config["sigma_band"])),
                                                                         init_config.get("expert_band")))
        initial = expert if from_expert else initial
        has_autoencoder = has_autoencoder or any(k.startswith("autoencoder.") for k in initial)
        skipped = load_network(parts_of(network), initial, partial=True)
        if skipped:
            print(f"--init: left fresh, shapes differ: {', '.join(skipped)}")
        step = warm_from = int(metadata["expert_step" if from_expert else "step"])
        data_rng = np.random.default_rng([config["seed"], step])
        noise_rng.manual_seed(config["seed"] * 1_000_003 + step)
    if autoencoder is not None and not resuming:
        if "autoencoder" not in network:
            raise ValueError("--autoencoder needs latent_channels in the config")
        network["autoencoder"].load_state_dict(load_file(str(autoencoder)))
    if "autoencoder" in network and not has_autoencoder:
        raise ValueError("a network over latents needs trained autoencoder weights: --autoencoder, or --init "
                         "weights that hold them")
    ema.load_state_dict(network.state_dict())
    if resuming:
        state = torch.load(checkpoint, weights_only=False, map_location=device)
        load_into(network, state["model"])
        load_into(ema, state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        data_rng.bit_generator.state = state["data_rng"]
        noise_rng.set_state(state["noise_rng"].cpu())
        step, losses, warm_from = state["step"], state["losses"], state.get("warm_from", 0)
        for name, head_state in state.get("heads", {}).items():
            if name in network:
                network[name].load_state_dict(head_state)
    text_encoder, tokenizer = load_minilm()
    text_encoder.requires_grad_(False).to(device)
    guides = load_guides(config["guide_weights"], device) if config["guide_loss"] else {}
    deadline = time.monotonic() + minutes * 60 if minutes else None

    def save() -> None:
        torch.save({"model": state_of(network), "ema": state_of(ema), "optimizer": optimizer.state_dict(),
                    "data_rng": data_rng.bit_generator.state, "noise_rng": noise_rng.get_state(), "step": step,
                    "warm_from": warm_from, "losses": losses,
                    "heads": {name: network[name].state_dict() for name in heads}},
                   checkpoint.with_suffix(".tmp"))
        checkpoint.with_suffix(".tmp").replace(checkpoint)

    bar = tqdm(total=config["steps"], initial=step, desc="kinora-dit", mininterval=5)
    network.train()
    last = min(config["steps"], until or config["steps"])
    while step < last and (deadline is None or time.monotonic() < deadline):
        video, captions, labels, alpha = batch(data_rng, config)
        video, alpha = video.to(device), alpha.to(device)
        target = video
        if "autoencoder" in network:  # the network learns the clip's latents; a cell is the object's where any pixel is
            with torch.no_grad():
                target = network["autoencoder"].encode(video)
            alpha = torch.nn.functional.max_pool3d(alpha, (1, FACTOR, FACTOR))
        weights = pixel_weights(alpha, config["object_weight"])
        text, mask = encode_text(text_encoder, tokenizer, captions)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step, warm_from)
        pooled = pooler(text, mask) if pooler is not None else None  # one pass serves both losses
        clean, sigma = predicted_on(transformer, target, text, mask, noise_rng, config, pooled, positions, detail,
                                    shape, built.patch)
        loss = flow_loss(clean, target, sigma, config["min_sigma"], weights)
        if guides:
            read = guide_match_loss(guides, clean, video) if config["guide_match"] \
                else guide_loss(guides, clean, labels.to(device))
            loss = loss + config["guide_loss"] * read
            guide_losses.append(round(read.item(), 4))
        if "coarse" in network and trains(config, "coarse"):
            loss = loss + config["text_aux"] * coarse_loss(network["coarse"], pooled, video)
        if "classes" in network and trains(config, "classes") and (labels != UNSTATED).any():
            loss = loss + config["text_classes"] * class_loss(network["classes"], pooled, labels.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimizer.step()
        with torch.no_grad():
            for e, p in zip(ema.parameters(), network.parameters(), strict=True):
                e.lerp_(p, 1 - config["ema"])
        step += 1
        losses.append(round(loss.item(), 5))
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-100:]):.4f}",
                        **({"guides": f"{np.mean(guide_losses[-100:]):.3f}"} if guide_losses else {}))
        if step % config["checkpoint_every"] == 0:
            save()
    save()
    bar.close()
    return {"step": step, "loss_last_100": float(np.mean(losses[-100:])) if losses else None}


def export(run: Path, weights: Path, raw: bool = False) -> Path:
    """The EMA weights of a run (``raw``: the trained weights themselves, e.g. to continue a short run whose EMA
    still lags) as fp16 safetensors, with the run's config and step in the metadata."""
    state = torch.load(run / "checkpoint.pt", weights_only=False, map_location="cpu")
    config = json.loads((run / "config.json").read_text())
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in state["model" if raw else "ema"].items()}, str(weights),
              metadata={"config": json.dumps(config), "step": str(state["step"])})
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=Path(__file__).with_name("config.json"))
    parser.add_argument("--out", type=Path, default=Path("runs/kinora-dit"))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--init", type=Path, help="start from exported weights, e.g. the shipped ones")
    parser.add_argument("--steps", type=int, help="override the config's step count")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config value (JSON), e.g. --set min_sigma=0.2")
    parser.add_argument("--until", type=int, help="stop (with a checkpoint) at this step; the schedule runs to --steps")
    parser.add_argument("--minutes", type=float, help="stop (with a checkpoint) after this long")
    parser.add_argument("--export", type=Path, help="write the run's EMA weights here instead of training")
    parser.add_argument("--raw", action="store_true", help="with --export: the trained weights, not their EMA")
    beside = parser.add_mutually_exclusive_group()
    beside.add_argument("--expert-for", type=Path, metavar="WEIGHTS",
                        help="with --export, for a run trained with sigma_band: one file of WEIGHTS (the network "
                             "the run started from) with the run as its expert on that band")
    beside.add_argument("--expert-of", type=Path, metavar="WEIGHTS",
                        help="with --export: one file of the run as the network beside the expert WEIGHTS carry "
                             "(e.g. a run on the levels below the expert's band)")
    parser.add_argument("--autoencoder", type=Path, help="autoencoder weights for a network over latents")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    if args.export and args.expert_of:
        band = exported_metadata(args.expert_of)[1].get("expert_band")
        if not band:
            parser.error(f"--expert-of: {args.expert_of} carries no expert")
        with tempfile.TemporaryDirectory() as tmp:
            network = export(args.out, Path(tmp) / "network.safetensors", args.raw)
            print(attach_expert(network, args.expert_of, band, args.export))
        return
    if args.export and args.expert_for:
        band = json.loads((args.out / "config.json").read_text())["sigma_band"]
        if not band:
            parser.error("--expert-for: the run was not trained on a sigma_band")
        with tempfile.TemporaryDirectory() as tmp:
            expert = export(args.out, Path(tmp) / "expert.safetensors", args.raw)
            print(attach_expert(args.expert_for, expert, band, args.export))
        return
    if args.export:
        print(export(args.out, args.export, args.raw))
        return
    config = load_config(args.config)
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in config:
            parser.error(f"--set {item}: unknown config key {key!r}")
        config[key] = json.loads(value)
    if args.steps:
        config["steps"] = args.steps
    print(json.dumps(train(config, args.out, args.resume, args.minutes, args.device, args.init, args.until,
                           args.autoencoder)))


if __name__ == "__main__":
    main()
