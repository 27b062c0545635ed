"""Reading safetensors files without a memory map: the header alone, or one tensor at a time.

Why not safetensors' safe_open (mmap): mapped pages that were read stay in this process's RSS
while the file is open, so casting (fp32 file -> bf16 model) would hold the whole file plus the
cast copy. Plain reads into fresh memory keep the peak at the loaded model plus one tensor, and
leave no file mapped once loading is done.
"""

from __future__ import annotations

import json
import struct

MAX_HEADER_BYTES = 100 * 1024 * 1024


def read_header(path: str) -> tuple[dict[str, dict], dict[str, str]]:
    """(tensors, metadata) of a safetensors file: {key: {"dtype", "shape", ...}}, {str: str}.

    Reads only the JSON header (the first 8 + N bytes), never tensor data.
    """
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) != 8:
            raise ValueError(f"{path} is not a safetensors file (shorter than 8 bytes)")
        (size,) = struct.unpack("<Q", head)
        if size > MAX_HEADER_BYTES:
            raise ValueError(f"{path} is not a safetensors file (header length {size})")
        raw = handle.read(size)
    try:
        header = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{path} is not a safetensors file (header is not JSON)") from exc
    if not isinstance(header, dict):
        raise ValueError(f"{path} is not a safetensors file (header is not an object)")
    metadata = header.pop("__metadata__", None) or {}
    return header, metadata


_SAFETENSORS_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64", "I32": "int32",
    "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
}  # fmt: skip


class TensorReader:
    """Reads one tensor at a time with plain file reads into fresh memory (see module doc)."""

    def __init__(self, path: str, header: dict[str, dict]):
        self.header = header
        self._scratch = None  # reused read buffer for tensors the caller casts (copies) at once
        self.handle = open(path, "rb")  # noqa: SIM115  (closed by close())
        self.handle.seek(0)
        (size,) = struct.unpack("<Q", self.handle.read(8))
        self.data_start = 8 + size

    def __contains__(self, key: str) -> bool:
        return key in self.header

    def dtype_of(self, key: str):
        """The torch dtype a tensor is stored in."""
        import torch

        dtype = getattr(torch, _SAFETENSORS_DTYPES.get(self.header[key]["dtype"], ""), None)
        if dtype is None:
            raise ValueError(
                f"tensor {key} has dtype {self.header[key]['dtype']}, which this loader cannot read"
            )
        return dtype

    def get_tensor(self, key: str, reuse_buffer: bool = False):
        """The tensor `key`. With reuse_buffer, it lives in a scratch buffer that the next
        reuse_buffer read overwrites: only for callers that copy it first (e.g. a dtype cast),
        so casting never holds more than one file-dtype tensor at a time."""
        import torch

        start, end = self.header[key]["data_offsets"]
        dtype = self.dtype_of(key)
        if reuse_buffer:
            if self._scratch is None or self._scratch.numel() < end - start:
                self._scratch = None
                self._scratch = torch.empty(end - start, dtype=torch.uint8)
            raw = self._scratch[: end - start]
        else:
            raw = torch.empty(end - start, dtype=torch.uint8)
        self.handle.seek(self.data_start + start)
        view, done = memoryview(raw.numpy()), 0
        while done < len(view):
            count = self.handle.readinto(view[done:])
            if not count:
                raise ValueError(f"the file ends inside tensor {key}: it is truncated")
            done += count
        return raw.view(dtype).reshape(self.header[key]["shape"])

    def close(self) -> None:
        self._scratch = None
        self.handle.close()
