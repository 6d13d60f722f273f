"""A tiny frame autoencoder: the latent space the diffusion transformer can work in instead of pixels.

    OMP_WAIT_POLICY=ACTIVE python -m models.kinora_dit.autoencoder --out runs/ae.safetensors [--steps N]

Frame by frame, a 32×32 picture becomes an 8×8 grid of ``channels`` values (each 4×4 block of pixels through a
small per-block network) and back (a convolutional decoder that sees the neighbouring blocks). In pixel space
every transformer token carries a 2×8×8 patch of 384 values and its 8×8 blocks come out smoothed: stars and
suns were drawn as blobs (model card). Over latents a token carries 2×2×2 cells of ``channels`` values, and the
decoder, trained on sharp renders only, draws the outline. Latents are normalised per channel to a mean of 0
and a spread of 1 (statistics measured on training clips, kept as buffers), as the diffusion noise expects.
Trained on the same procedural clips as the model (``train.batch``), with a little noise added to the latents
so the decoder forgives a latent that is slightly off, as sampled ones are.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tqdm import tqdm

FACTOR = 4  # pixels per latent cell, each way


class FrameAutoencoder(torch.nn.Module):
    """(B, 3, F, H, W) pixels in [-1, 1] ↔ (B, channels, F, H/4, W/4) normalised latents."""

    def __init__(self, channels: int = 16, hidden: int = 128, width: int = 128, refine: int = 32) -> None:
        super().__init__()
        self.channels = channels
        block = 3 * FACTOR * FACTOR
        self.encoder = torch.nn.Sequential(torch.nn.Linear(block, hidden), torch.nn.SiLU(),
                                           torch.nn.Linear(hidden, channels))
        conv = torch.nn.Conv2d
        # Convolutions over the cells (each sees its neighbours), then each cell's own 4×4 pixels by a
        # sub-pixel layer (every pixel of the block its own weights: upsampling by repeating a cell and
        # convolving could only tell the block's pixels apart by their neighbours), then a full-resolution touch.
        self.decoder = torch.nn.Sequential(
            conv(channels, width, 3, padding=1), torch.nn.SiLU(), conv(width, width, 3, padding=1), torch.nn.SiLU(),
            conv(width, width, 3, padding=1), torch.nn.SiLU(), conv(width, block, 1), torch.nn.PixelShuffle(FACTOR))
        self.refine = torch.nn.Sequential(conv(3, refine, 3, padding=1), torch.nn.SiLU(), conv(refine, 3, 3, padding=1))
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def raw_encode(self, video: torch.Tensor) -> torch.Tensor:
        b, c, f, h, w = video.shape
        blocks = video.reshape(b, c, f, h // FACTOR, FACTOR, w // FACTOR, FACTOR)
        blocks = blocks.permute(0, 2, 3, 5, 1, 4, 6).reshape(b, f, h // FACTOR, w // FACTOR, -1)
        return self.encoder(blocks).permute(0, 4, 1, 2, 3)

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        latent = self.raw_encode(video)
        return (latent - self.mean.view(1, -1, 1, 1, 1)) / self.std.view(1, -1, 1, 1, 1)

    def raw_decode(self, latent: torch.Tensor) -> torch.Tensor:
        b, c, f, h, w = latent.shape
        frames = latent.transpose(1, 2).reshape(b * f, c, h, w)
        pixels = self.decoder(frames)
        pixels = pixels + self.refine(pixels)
        return pixels.view(b, f, 3, h * FACTOR, w * FACTOR).transpose(1, 2)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self.raw_decode(latent * self.std.view(1, -1, 1, 1, 1) + self.mean.view(1, -1, 1, 1, 1))


def train_autoencoder(steps: int, config: dict, channels: int = 16, lr: float = 2e-3, latent_noise: float = 0.1,
                      seed: int = 0, minutes: float | None = None,
                      object_weight: float = 0.0) -> tuple[FrameAutoencoder, list[float]]:
    """An autoencoder trained on ``config``'s clips (the model's training config: sizes, frames, batch) for
    ``steps`` steps (a cosine from ``lr``); then its latent statistics are measured and stored. ``latent_noise``
    (a fraction of each channel's spread) is added to the latents the decoder learns from; ``object_weight``
    weighs the object and its outline more, as the model's own loss does (``train.pixel_weights``)."""
    from models.kinora_dit.train import batch, pixel_weights  # imported here: train imports this module

    torch.manual_seed(seed)
    model = FrameAutoencoder(channels)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps, eta_min=lr / 20)
    rng = np.random.default_rng([seed, 7])
    losses: list[float] = []
    deadline = time.monotonic() + minutes * 60 if minutes else None
    for _ in tqdm(range(steps), desc="autoencoder", mininterval=5):
        video, _, _, alpha = batch(rng, config)
        latent = model.raw_encode(video)
        spread = latent.detach().std(dim=(0, 2, 3, 4), keepdim=True)
        decoded = model.raw_decode(latent + latent_noise * spread * torch.randn_like(latent))
        weights = pixel_weights(alpha, object_weight)
        error = (decoded - video).square()
        loss = error.mean() if weights is None else (error * weights).mean() / weights.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if deadline is not None and time.monotonic() > deadline:
            break
    with torch.no_grad():
        # channel × every value of 128 clips (in batches: frame sizes may differ between them)
        many = config | {"batch": 16}
        latents = torch.cat([model.raw_encode(batch(rng, many)[0]).transpose(0, 1).flatten(1) for _ in range(8)],
                            dim=1)
        model.mean.copy_(latents.mean(dim=1))
        model.std.copy_(latents.std(dim=1).clamp(min=1e-3))
    return model.eval(), losses


def save_autoencoder(model: FrameAutoencoder, path: str) -> None:
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path,
              metadata={"channels": str(model.channels)})


def load_autoencoder(state: dict[str, torch.Tensor]) -> FrameAutoencoder:
    model = FrameAutoencoder(state["mean"].numel())
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval().requires_grad_(False)


def main() -> None:
    from models.kinora_dit.train import load_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--minutes", type=float)
    parser.add_argument("--batch", type=int, default=4, help="clips per step (16 frames each)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--latent-noise", type=float, default=0.1)
    parser.add_argument("--object-weight", type=float, default=0.0)
    args = parser.parse_args()
    config = load_config(Path(__file__).with_name("config.json"))
    config["batch"] = args.batch
    model, losses = train_autoencoder(args.steps, config, args.channels, args.lr, args.latent_noise,
                                      minutes=args.minutes, object_weight=args.object_weight)
    save_autoencoder(model, args.out)
    print(json.dumps({"steps": len(losses), "loss_last_100": float(np.mean(losses[-100:]))}))


if __name__ == "__main__":
    main()
