"""RGB → Y'CbCr for the encoder: BT.709 matrix, limited (tv) range, done here, not by swscale.

Why ourselves: libswscale's rgb24→yuv path defaults to the BT.601 matrix, and many players decode
HD video with BT.709, so greens and reds shift visibly (the classic "mp4 colour shift"). We
convert from the float frames directly (no uint8 rounding first) with the textbook BT.709
coefficients and tag the stream bt709/tv, so a player uses the same matrix we used.

4:2:0 chroma is the mean of each 2×2 block (Cb/Cr are linear in R'G'B', so averaging RGB
first is exact and four times cheaper). Odd widths/heights are padded to even by repeating
the last row/column; the caller reports that padding.
"""

from __future__ import annotations

# BT.709 luma coefficients (ITU-R BT.709-6, item 3.2).
KR, KB = 0.2126, 0.0722
KG = 1.0 - KR - KB

# name → (bit depth, chroma subsampled 2x2?)
YUV_LAYOUTS = {
    "yuv420p": (8, True),
    "yuv444p": (8, False),
    "yuv420p10le": (10, True),
}


def padded_size(width: int, height: int, pix_fmt: str) -> tuple[int, int]:
    """Frame size the encoder gets: 4:2:0 needs even sizes, 4:4:4 takes any size."""
    _, subsampled = YUV_LAYOUTS[pix_fmt]
    if not subsampled:
        return width, height
    return width + width % 2, height + height % 2


def _matrix():
    import torch

    return torch.tensor(
        [
            [KR, KG, KB],  # Y'
            [-KR / (2 * (1 - KB)), -KG / (2 * (1 - KB)), 0.5],  # Cb = (B' - Y') / 1.8556
            [0.5, -KG / (2 * (1 - KR)), -KB / (2 * (1 - KR))],  # Cr = (R' - Y') / 1.5748
        ],
        dtype=torch.float32,
    )


def pad_to(chunk, width: int, height: int):
    """Repeat the last column/row until the chunk is width × height (no-op when it already is)."""
    import torch

    h, w = chunk.shape[1], chunk.shape[2]
    if (w, h) == (width, height):
        return chunk
    rows = torch.arange(height).clamp_(max=h - 1)
    cols = torch.arange(width).clamp_(max=w - 1)
    return chunk[:, rows][:, :, cols]


def rgb_to_yuv(chunk, pix_fmt: str):
    """Convert float RGB frames [k, H, W, 3] (0..1) to encoder-ready planes as one numpy array.

    Returns, per frame, exactly what `av.VideoFrame.from_ndarray` expects for `pix_fmt`:
    yuv420p / yuv420p10le → [k, H*3/2, W] (Y rows, then U and V packed), yuv444p → [k, 3, H, W].
    H and W must already be even for 4:2:0 (see `pad_to`).
    """
    import numpy as np
    import torch

    bits, subsampled = YUV_LAYOUTS[pix_fmt]
    scale = 1 << (bits - 8)  # 10-bit codes are the 8-bit ones times four
    k, h, w = chunk.shape[0], chunk.shape[1], chunk.shape[2]
    rgb = chunk[..., :3].to(device="cpu", dtype=torch.float32).clamp(0.0, 1.0)
    m = _matrix()
    luma = torch.matmul(rgb, m[0]).mul_(219.0 * scale).add_(16.0 * scale).round_()
    dtype, np_dtype = (torch.uint8, np.uint8) if bits == 8 else (torch.int16, np.uint16)
    if subsampled:
        if h % 2 or w % 2:
            raise ValueError(f"{pix_fmt} needs an even frame size, got {w}x{h}")
        # Four strided adds beat a 6-d mean() several times over on the CPU.
        top, bottom = rgb[:, 0::2], rgb[:, 1::2]
        rgb = (top[:, :, 0::2] + top[:, :, 1::2]).add_(bottom[:, :, 0::2]).add_(bottom[:, :, 1::2]).mul_(0.25)
    chroma = torch.matmul(rgb, m[1:].T).mul_(224.0 * scale).add_(128.0 * scale).round_()
    if not subsampled:
        out = np.empty((k, 3, h, w), dtype=np_dtype)
        out[:, 0] = luma.to(dtype).numpy()
        out[:, 1:] = chroma.permute(0, 3, 1, 2).to(dtype).numpy()
        return out
    out = np.empty((k, h * 3 // 2, w), dtype=np_dtype)
    out[:, :h] = luma.to(dtype).numpy().view(np_dtype)
    flat = out.reshape(k, -1)
    quarter = (h // 2) * (w // 2)
    planes = chroma.to(dtype).numpy().view(np_dtype)  # [k, h/2, w/2, 2]
    flat[:, h * w : h * w + quarter] = planes[..., 0].reshape(k, quarter)
    flat[:, h * w + quarter :] = planes[..., 1].reshape(k, quarter)
    return out


def yuv_to_rgb(y, u, v, bits: int = 8):
    """Inverse of `rgb_to_yuv` for full-resolution planes (numpy), giving float RGB 0..255.

    Used by the benchmark to measure colour error the way a BT.709-honouring player sees it.
    """
    import numpy as np

    scale = float(1 << (bits - 8))
    yn = (y.astype(np.float64) / scale - 16.0) / 219.0
    cb = (u.astype(np.float64) / scale - 128.0) / 224.0
    cr = (v.astype(np.float64) / scale - 128.0) / 224.0
    r = yn + 2 * (1 - KR) * cr
    b = yn + 2 * (1 - KB) * cb
    g = (yn - KR * r - KB * b) / KG
    return np.clip(np.stack([r, g, b], axis=-1) * 255.0, 0, 255)
