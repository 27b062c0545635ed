"""A cheap latent → RGB preview for the progress bar (no VAE: a fixed linear map per pixel).

The four SD/SVD latent channels are close to linear in RGB; the factors below are the widely
published least-squares fit for the SD 1.x VAE (which SVD's image VAE shares). The preview is a
hint of composition and colour, not the decoded frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

LATENT_RGB_FACTORS = (
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
)


def latent_preview(latent_frame: torch.Tensor) -> Any:
    """A PIL image for one scaled latent frame [4, h, w] (diffusers scale), upscaled 8x cheaply."""
    import torch
    from PIL import Image

    factors = torch.tensor(LATENT_RGB_FACTORS, dtype=torch.float32)
    rgb = torch.einsum("chw,cr->hwr", latent_frame.detach().to("cpu", torch.float32), factors)
    pixels = ((rgb + 1.0) * 127.5).clamp(0, 255).to(torch.uint8).numpy()
    image = Image.fromarray(pixels, "RGB")
    return image.resize((image.width * 8, image.height * 8), Image.NEAREST)
