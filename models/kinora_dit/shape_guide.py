"""Guides: small classifiers whose gradients steer sampling towards what the prompt asks for.

The transformer settles an object's outline at the middle noise levels, where its clean-clip guess is a blur
that a squared error prefers to a star's points. Classifier guidance (Dhariwal & Nichol) adds what a
classifier says would make the guess more like the named shape: at each guided step the sampler moves the
predicted clean clip a little up the gradient of the classifier's log-probability of that shape. The classifier
reads guesses, not noisy clips, so it learns from renders softened and noised the way guesses are. A turn
classifier (the same network reading each frame beside the one ``TURN_GAP`` later) tells a turning object
from one standing still or moving otherwise, and steers prompts that ask for a rotation the same way; a size
classifier tells small, medium and large objects apart; an outline classifier tells the shapes apart from each
frame's silhouette (``silhouette``) alone, which colours off the line from background to object (fringes) do
not reach. The sampler also uses them to choose among candidate clips (``pipeline.CANDIDATES``).

Train them (about 8 minutes each on two CPU cores, 13 with one), then write them into exported weights,
which then sample with them:
``python -m models.kinora_dit.shape_guide --out runs/shapes.safetensors`` (``--kind turn``, ``--kind size`` or
``--kind outline`` for the others), then
``python -m models.kinora_dit.shape_guide --attach WEIGHTS runs/shapes.safetensors --scale 10 --out OUT``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from models.kinora_dit.prompt_parser import parse_prompt
from models.kinora_dit.scenes import HELD_OUT, MOTIONS, SHAPES, SIZES, render, sample_scene

FRAME_SIZES = (32, 32, (40, 24), (24, 40))  # the frame sizes the sampler runs at, square twice as often


TURNING = ("still", "turning")  # the turn classifier's classes
TURN_GAP = 2  # it compares frames this far apart: a turn of 25-38 degrees at 8 fps
# Each kind of classifier: the classes it tells apart and the gap between the frames it reads together (0: one).
KINDS = {"shape": (SHAPES, 0), "turn": (TURNING, TURN_GAP), "size": (SIZES, 0), "outline": (SHAPES, 0)}
SILHOUETTE_KINDS = ("outline",)  # kinds that read each frame's silhouette (``silhouette``), not its pixels
ATTACK_STEPS = 3  # gradient steps of the attack robust training learns from (``attacked``)


class ShapeClassifier(nn.Module):
    """Per-frame convolutions at any frame size, logits averaged over a clip's frames (an object may blink).
    With a ``gap``, each "frame" it reads is a frame beside the one ``gap`` later: a turn classifier."""

    def __init__(self, channels: int = 32, classes: tuple[str, ...] = SHAPES, gap: int = 0,
                 silhouette: bool = False) -> None:
        super().__init__()
        def block(inputs: int, outputs: int) -> list[nn.Module]:
            return [nn.Conv2d(inputs, outputs, 3, padding=1), nn.GroupNorm(outputs // 8, outputs), nn.SiLU()]

        c, self.classes, self.gap, self.silhouette = channels, classes, gap, silhouette
        inputs = 1 if silhouette else 3
        self.net = nn.Sequential(*block(2 * inputs if gap else inputs, c), *block(c, c), nn.AvgPool2d(2),
                                 *block(c, 2 * c), *block(2 * c, 2 * c), nn.AvgPool2d(2), *block(2 * c, 2 * c))
        self.head = nn.Linear(2 * c, len(classes))

    def frame_logits(self, clips: torch.Tensor) -> torch.Tensor:
        """``clips`` (B, 3, F, H, W) in [-1, 1] → logits of each frame (B, F, classes), or of each pair of
        frames ``gap`` apart (B, F - gap, classes)."""
        return self.head(self.frame_features(clips))

    def frame_features(self, clips: torch.Tensor) -> torch.Tensor:
        """What the head reads of each frame (or pair) of ``clips``: (B, F, features), the strongest response of
        each channel anywhere in the frame."""
        if self.silhouette:
            clips = silhouette(clips)
        b, c, f, h, w = clips.shape
        frames = clips.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        if not self.silhouette:  # the object, not the backdrop
            frames = frames - frames.flatten(2).median(dim=2).values[:, :, None, None]
        if self.gap:
            frames = frames.view(b, f, c, h, w)
            frames = torch.cat([frames[:, :-self.gap], frames[:, self.gap:]], dim=2)
            f -= self.gap
            frames = frames.reshape(b * f, 2 * c, h, w)
        features = self.net(frames).amax(dim=(2, 3))  # where the object is does not matter, that it is there does
        return features.view(b, f, -1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Logits of whole clips (B, classes): the frames' (or pairs') averaged."""
        return self.frame_logits(clips).mean(dim=1)


def soften(clips: torch.Tensor, rng: torch.Generator, noise_max: float = 0.3) -> torch.Tensor:
    """Clips as a sampler's clean-clip guess may show them: blurred by up to 2 pixels, with noise of a standard
    deviation up to ``noise_max``. The noise keeps the classifier from leaning on single pixels, and its gradient then
    steers more of an outline (with up to 0.1, 3.8 points fewer prompts came out right: model card)."""
    out = []
    for clip in clips:
        sigma = 2.0 * float(torch.rand(1, generator=rng))
        if sigma > 0.3:
            radius = int(np.ceil(2 * sigma))
            x = torch.arange(-radius, radius + 1, dtype=torch.float32)
            k = torch.exp(-0.5 * (x / sigma) ** 2)
            k = k / k.sum()
            frames = clip.permute(1, 0, 2, 3)  # (F, 3, H, W)
            pad = nn.functional.pad(frames, (radius, radius, radius, radius), mode="replicate")
            pad = nn.functional.conv2d(pad, k.view(1, 1, 1, -1).repeat(3, 1, 1, 1), groups=3)
            pad = nn.functional.conv2d(pad, k.view(1, 1, -1, 1).repeat(3, 1, 1, 1), groups=3)
            clip = pad.permute(1, 0, 2, 3)
        noise = noise_max * float(torch.rand(1, generator=rng))
        out.append(clip + noise * torch.randn(clip.shape, generator=rng))
    return torch.stack(out).clamp(-1, 1)


def mottle(clips: torch.Tensor, rng: torch.Generator, noise_max: float = 0.3) -> torch.Tensor:
    """Clips with blotches of colour as a sampler's finished clips show them: noise drawn on a grid a quarter of
    the frame's size, smoothly enlarged, of a standard deviation up to ``noise_max``."""
    b, c, f, h, w = clips.shape
    coarse = torch.randn((b * f, c, max(1, h // 4), max(1, w // 4)), generator=rng)
    blotches = nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    blotches = blotches.view(b, f, c, h, w).permute(0, 2, 1, 3, 4)
    strength = noise_max * torch.rand((b, 1, 1, 1, 1), generator=rng)
    return (clips + strength * blotches).clamp(-1, 1)


def silhouette(clips: torch.Tensor) -> torch.Tensor:
    """Each frame's object as a grey silhouette (B, 1, F, H, W) in [-1, 1] for clips (B, 3, F, H, W): how far
    each pixel lies from its row's median (the background) along ``object_axis``, as a share of the frame's
    farthest, clamped to [0, 1] and mapped to [-1, 1]. Colours off the line from background to object (fringes)
    count only as far as they lie along it; a frame without an object (contrast under 0.25) comes out dark."""
    difference = clips - clips.median(dim=4, keepdim=True).values
    along = (difference * object_axis(clips)).sum(dim=1, keepdim=True)
    farthest = along.amax(dim=(3, 4), keepdim=True).clamp(min=0.25)
    return (along / farthest).clamp(0, 1) * 2 - 1


def asked(prompt: str) -> dict[str, str]:
    """Classifier kind → the class the prompt asks it to find: the shape it names, "turning" where it asks for
    a rotation, the size it states (kinds the prompt says nothing about are left out)."""
    stated = parse_prompt(prompt)
    classes = {"shape": stated.get("shape"), "turn": "turning" if stated.get("motion") == "rotate" else None,
               "size": stated.get("size"), "outline": stated.get("shape")}
    return {kind: name for kind, name in classes.items() if name is not None}


def make_classifier(kind: str = "shape") -> ShapeClassifier:
    """A classifier of one of ``KINDS``: the shape, turn or size classifier."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {tuple(KINDS)}, got {kind!r}")
    classes, gap = KINDS[kind]
    return ShapeClassifier(classes=classes, gap=gap, silhouette=kind in SILHOUETTE_KINDS)


def as_video(clips: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """uint8 clips (N, F, H, W, 3) → (N, 3, F, H, W) in [-1, 1]."""
    return torch.from_numpy(np.stack(clips)).float().div(127.5).sub(1).permute(0, 4, 1, 2, 3)


def batch(rng: np.random.Generator, count: int, kind: str = "shape") -> tuple[torch.Tensor, torch.Tensor]:
    """Training scenes rendered at one of ``FRAME_SIZES``: clips in [-1, 1] and their shapes (``kind`` "size":
    their sizes; "turn": ``turn_batch``)."""
    if kind == "turn":
        return turn_batch(rng, count)
    size = FRAME_SIZES[rng.integers(len(FRAME_SIZES))]
    scenes = [sample_scene(rng, "train") for _ in range(count)]
    video = as_video([render(scene, size=size) for scene in scenes])
    classes, attribute = KINDS[kind][0], "shape" if kind == "outline" else kind
    return video, torch.tensor([classes.index(getattr(scene, attribute)) for scene in scenes])


def turn_batch(rng: np.random.Generator, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` for the turn classifier: half the scenes turning, the others doing another move or turning so
    slowly that they stand still (rendered at 1,000 fps)."""
    size = FRAME_SIZES[rng.integers(len(FRAME_SIZES))]
    clips, labels = [], []
    for _ in range(count):
        turning, still = bool(rng.integers(2)), bool(rng.integers(2))
        motion = "rotate" if turning or still else str(rng.choice([m for m in MOTIONS if m != "rotate"]))
        scene = sample_scene(rng, "train")
        while (scene.color, scene.shape, motion) in HELD_OUT:  # held-out triples stay unseen here too
            scene = sample_scene(rng, "train")
        scene = replace(scene, motion=motion)
        clips.append(render(scene, size=size, fps=8.0 if turning or not still else 1000.0))
        labels.append(int(turning))
    return as_video(clips), torch.tensor(labels)


def attacked(model: ShapeClassifier, clips: torch.Tensor, labels: torch.Tensor, radius: float,
             steps: int = ATTACK_STEPS) -> torch.Tensor:
    """``clips`` (B, 3, F, H, W) changed to make ``model`` read each frame as any class but its label: projected
    gradient ascent on the cross-entropy, each frame's change kept within an L2 ball of ``radius`` (in [-1, 1]
    pixel units) and the pixels within [-1, 1] (Madry et al.'s attack, for adversarial training)."""
    x = clips.detach()
    step = 2.5 * radius / steps
    for _ in range(steps):
        x = x.clone().requires_grad_(True)
        frames = model.frame_logits(x)
        loss = nn.functional.cross_entropy(frames.flatten(0, 1), labels.repeat_interleave(frames.shape[1]))
        (grad,) = torch.autograd.grad(loss, x)
        x = x.detach() + step * grad / frame_norm(grad).clamp(min=1e-12)
        change = x - clips
        x = (clips + change * (radius / frame_norm(change).clamp(min=1e-12)).clamp(max=1)).clamp(-1, 1)
    return x.detach()


def frame_norm(clips: torch.Tensor) -> torch.Tensor:
    """Each frame's L2 norm, (B, 1, F, 1, 1) for clips (B, C, F, H, W)."""
    return clips.pow(2).sum(dim=(1, 3, 4), keepdim=True).sqrt()


def initial_weights(path: Path, kind: str) -> dict[str, torch.Tensor]:
    """A classifier's weights to start from: ``train``'s file of that kind, or exported model weights that carry
    a guide of that kind (``pipeline.attach_guide``)."""
    from models.kinora_dit.pipeline import GUIDES, prefixed  # the pipeline imports this module

    state = load_file(str(path))
    if guide := prefixed(state, GUIDES[kind]):
        return guide
    if kind_of(path) != kind:
        raise ValueError(f"{path} holds no {kind} classifier")
    return state


def train(out: Path, steps: int, seed: int = 0, batch_size: int = 8, lr: float = 1e-3, noise_max: float = 0.3,
          kind: str = "shape", robust: float = 0.0, init: Path | None = None) -> dict:
    """A classifier of ``kind`` (``KINDS``) trained on softened renders (noise std up to ``noise_max``), saved to
    ``out`` with its kind in the file's metadata. With ``robust`` (a radius) it learns from the renders as
    ``attacked`` changes them instead (adversarial training), which makes a classifier's gradients draw what
    its classes look like rather than changes no eye sees (Kawar et al., robust classifier guidance); with
    ``init`` it starts from a trained classifier (``initial_weights``)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    noise = torch.Generator().manual_seed(seed)
    model = make_classifier(kind)
    if init is not None:
        model.load_state_dict(initial_weights(init, kind))
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps)
    right, start = [], time.perf_counter()
    for step in range(1, steps + 1):
        video, labels = batch(rng, batch_size, kind)
        softened = soften(video, noise, noise_max)
        if kind in SILHOUETTE_KINDS:
            softened = mottle(softened, noise, noise_max)
        if robust:
            softened = attacked(model, softened, labels, robust)
        frames = model.frame_logits(softened)
        loss = nn.functional.cross_entropy(frames.flatten(0, 1), labels.repeat_interleave(frames.shape[1]))
        logits = frames.mean(dim=1)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        right.append(float((logits.argmax(1) == labels).float().mean()))
        if step % 100 == 0:
            print(f"step {step}: loss {loss.item():.3f}, right {np.mean(right[-100:]):.3f}, "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    metadata = {"kind": kind, "robust": str(robust)}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out), metadata=metadata)
    return {"steps": steps, "right_last_100": float(np.mean(right[-100:]))}


def kind_of(path: str | Path) -> str:
    """The kind of the classifier ``train`` saved to ``path``."""
    with safe_open(str(path), framework="pt") as f:
        kind = (f.metadata() or {}).get("kind")
    if kind not in KINDS:
        raise ValueError(f"{path} is no classifier of one of {tuple(KINDS)}")
    return kind


def classifier_from(state: dict[str, torch.Tensor], kind: str = "shape") -> ShapeClassifier:
    """A trained classifier of ``kind`` from its weights, ready to guide (evaluation mode, no gradients of its
    own)."""
    model = make_classifier(kind)
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)


def log_probability(classifier: ShapeClassifier, clips: torch.Tensor, name: str) -> torch.Tensor:
    """log p(``name``) of each clip (B,) as ``classifier`` reads ``clips`` (B, 3, F, H, W) in [-1, 1]."""
    return torch.log_softmax(classifier(clips.float()), dim=1)[:, classifier.classes.index(name)]


def object_axis(clips: torch.Tensor) -> torch.Tensor:
    """The direction from background to object in colour space, per frame: (B, 3, F, 1, 1) of unit length for
    clips (B, 3, F, H, W). Each pixel's difference from its row's median (the backgrounds are vertical
    gradients and the object covers less than half a row), averaged with weights that grow with its square,
    so the object, which stands out most, sets it."""
    difference = clips - clips.median(dim=4, keepdim=True).values
    weight = difference.pow(2).sum(dim=1, keepdim=True)
    axis = (difference * weight).sum(dim=(3, 4), keepdim=True) / weight.sum(dim=(3, 4), keepdim=True).clamp(min=1e-8)
    return axis / axis.norm(dim=1, keepdim=True).clamp(min=1e-8)


def guide(classifier: ShapeClassifier, clean: torch.Tensor, name: str, scale: float,
          along_object: bool = False) -> torch.Tensor:
    """Each clip of ``clean`` moved up the gradient of its log p(``name``: a class of the classifier); the largest
    change of a pixel in a clip is ``scale``. With ``along_object`` the gradient is kept only along each frame's
    ``object_axis``: a pixel may become more object or more background, which redraws the outline, but takes
    no other colour (the full gradient may also paint coloured fringes around the object)."""
    # Samplers run without gradients, the worker's under inference mode: both are lifted here, for the classifier.
    with torch.inference_mode(False), torch.enable_grad():
        x = clean.detach().float().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(log_probability(classifier, x, name).sum(), x)
    if along_object:
        axis = object_axis(clean.detach().float())
        grad = (grad * axis).sum(dim=1, keepdim=True) * axis
    step = grad / grad.abs().amax(dim=(1, 2, 3, 4), keepdim=True).clamp(min=1e-8)
    return clean + scale * step.to(clean.dtype)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the classifier's file, or with --attach the model's")
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.3, help="the largest noise std in the softened renders")
    parser.add_argument("--kind", choices=tuple(KINDS), default="shape",
                        help="what the classifier tells apart: shapes, turning or not, sizes")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--robust", type=float, default=0.0, metavar="RADIUS",
                        help="train on renders attacked within this L2 radius per frame (adversarial training)")
    parser.add_argument("--init", type=Path, help="start from this classifier, or the guide of --kind that these "
                        "exported weights carry")
    parser.add_argument("--attach", nargs=2, type=Path, metavar=("WEIGHTS", "CLASSIFIER"),
                        help="write --out as the exported WEIGHTS with the trained CLASSIFIER as a guide")
    parser.add_argument("--scale", type=float, default=10.0, help="with --attach: the largest change of a pixel "
                        "the guide makes to a step's clean clip")
    args = parser.parse_args()
    if args.attach:
        from models.kinora_dit.pipeline import attach_guide  # the pipeline imports this module

        print(attach_guide(*args.attach, args.scale, args.out))
    else:
        print(train(args.out, args.steps, args.seed, lr=args.lr, noise_max=args.noise, kind=args.kind,
                    robust=args.robust, init=args.init))


if __name__ == "__main__":
    main()
