"""RGB → Y'CbCr for the encoder: BT.709 matrix, limited (tv) range, 2×2-mean chroma.

Why this matters: libswscale's RGB→YUV defaults to the BT.601 matrix (ComfyUI core's SaveVideo
gets that), while players decode HD video as BT.709, so reds and greens shift visibly — the
classic "mp4 colour shift". We quantise the float frames ourselves (numpy, in bands, into
buffers reused for the whole clip), then let libswscale do the matrix with the BT.709 coefficients
and limited range requested explicitly, AREA filtering (an exact 2×2 mean for 4:2:0 chroma)
and accurate rounding. A test checks the planes against the textbook BT.709 formula.

Why not torch or numpy for the matrix: measured on this 2-core box under load, swscale's SIMD
path costs ~0.05 CPU-s for 25 frames of 1024×576, our torch version ten times that.

Odd widths/heights are padded to even for 4:2:0 by repeating the last row/column; the caller
reports that padding.
"""

from __future__ import annotations

# BT.709 luma coefficients (ITU-R BT.709-6, item 3.2); used to decode for measurements.
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


class RgbQuantiser:
    """Float RGB chunks (torch, 0..1) → integer RGB frames in buffers reused for the whole clip.

    Peak extra memory is one integer chunk plus a float scratch band of `BAND_ROWS` rows,
    allocated once per save, whatever the clip length. `bits` 8 gives rgb24 (uint8), 16 gives
    rgb48 (uint16, for 10-bit video). Frames are padded to `width` × `height` by repeating the
    last row/column.
    """

    BAND_ROWS = 32  # float scratch of 32 rows: 0.4 MB per frame at 1024 px wide

    def __init__(self, frames: int, width: int, height: int, bits: int = 8):
        import numpy as np

        self.width, self.height = width, height
        self.scale = 255.0 if bits == 8 else 65535.0
        self.scratch = np.empty((frames, min(self.BAND_ROWS, height), width, 3), dtype=np.float32)
        self.out = np.empty((frames, height, width, 3), dtype=np.uint8 if bits == 8 else np.uint16)

    def __call__(self, chunk):
        """Integer frames [k, height, width, 3] for a float chunk [k, h, w, 3|4] (a view of `out`)."""
        import numpy as np
        import torch

        k, h, w = int(chunk.shape[0]), int(chunk.shape[1]), int(chunk.shape[2])
        source = chunk[..., :3].to(device="cpu", dtype=torch.float32).numpy()
        out = self.out[:k]
        for top in range(0, h, self.BAND_ROWS):
            band = source[:, top : top + self.BAND_ROWS]
            scratch = self.scratch[:k, : band.shape[1], :w]
            np.multiply(band, self.scale, out=scratch)
            np.clip(scratch, 0.0, self.scale, out=scratch)
            np.rint(scratch, out=scratch)
            np.copyto(out[:, top : top + band.shape[1], :w], scratch, casting="unsafe")
        if h < self.height:
            out[:, h:, :w] = out[:, h - 1 : h, :w]
        if w < self.width:
            out[:, :, w:] = out[:, :, w - 1 : w]
        return out


def yuv_frame(rgb, pix_fmt: str):
    """An av.VideoFrame in `pix_fmt` from one integer RGB frame, BT.709 limited range, tagged so."""
    import av
    from av.video.reformatter import ColorRange, Colorspace, Interpolation

    source = av.VideoFrame.from_ndarray(rgb, format="rgb24" if rgb.dtype.itemsize == 1 else "rgb48le")
    return source.reformat(
        format=pix_fmt,
        dst_colorspace=Colorspace.ITU709,
        dst_color_range=ColorRange.MPEG,
        interpolation=Interpolation.AREA | Interpolation.ACCURATE_RND,
    )


def yuv_to_rgb(y, u, v, bits: int = 8):
    """BT.709 limited-range Y'CbCr planes (full resolution, numpy) → float RGB 0..255.

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
