"""The pack's templates as the template browser shows them: one entry per API twin.

Data only (scripts/make_ui_workflows.py writes the UI files and thumbnails from it). A new
template is one entry here plus its API twin in workflows/api/.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    """What the template browser shows for one API twin (workflows/api/<name>.json).

    ComfyUI lists a pack's templates by file name only: the front end uses the name as the
    card's title (and, in 1.32.9, again as its description), so the UI file is named by `title`.
    The thumbnail carries `label` and the one-line `description`; `note` sits beside the graph.
    """

    title: str
    label: str
    description: str
    note: str


TEMPLATES: dict[str, Template] = {
    "svd_img2vid": Template(
        "SVD Image to Video (14 frames)",
        "SVD",
        "local model · 14 frames",
        "## SVD image to video (14 frames)\n\n"
        "1. Put the diffusers folder of `stabilityai/stable-video-diffusion-img2vid` in "
        "`models/diffusers/` (or `models/svd/`) and pick it in **Load SVD Model**.\n"
        "2. Choose an image in **Input Image**.\n3. Queue. The video plays in **Save Video**.\n\n"
        "On CPU start small: 512×320, 10 steps.",
    ),
    "svd_xt_img2vid": Template(
        "SVD-XT Image to Video (25 frames)",
        "SVD-XT",
        "local model · 25 frames",
        "## SVD-XT image to video (25 frames)\n\n"
        "Needs `stabilityai/stable-video-diffusion-img2vid-xt` in `models/diffusers/`. "
        "Same graph as the 14-frame template with 25 frames; expect about twice the time.",
    ),
    "svd_long_video": Template(
        "SVD Long Video (chained clips)",
        "Long video",
        "local model · clips chained",
        "## SVD long video\n\nChains SVD clips: each starts from the previous clip's last frame, "
        "the overlapping frames are cross-faded. Needs a local SVD model (see the 14-frame template).",
    ),
    "remote_fal": Template(
        "SVD on fal.ai (no GPU)",
        "fal.ai",
        "hosted SVD · needs FAL_KEY",
        "## SVD on fal.ai\n\nNo GPU needed. Set `FAL_KEY` in the environment ComfyUI starts "
        "with. The node shows the provider's queue position and elapsed time while it waits.",
    ),
    "remote_replicate": Template(
        "SVD on Replicate (no GPU)",
        "Replicate",
        "hosted SVD · needs REPLICATE_API_TOKEN",
        "## SVD on Replicate\n\nSet `REPLICATE_API_TOKEN` in ComfyUI's environment. The node "
        "shows queue state and elapsed time while the prediction runs.",
    ),
    "remote_segmind": Template(
        "SVD on Segmind (no GPU)",
        "Segmind",
        "hosted SVD · needs SEGMIND_API_KEY",
        "## SVD on Segmind\n\nSet `SEGMIND_API_KEY` in ComfyUI's environment.",
    ),
    "remote_siliconflow": Template(
        "Wan 2.2 Video on SiliconFlow (no GPU)",
        "SiliconFlow",
        "hosted Wan 2.2 · needs SILICONFLOW_API_KEY",
        "## Wan 2.2 image to video on SiliconFlow\n\nSet `SILICONFLOW_API_KEY` in ComfyUI's "
        "environment (international accounts: also `SVD_SUITE_SILICONFLOW_REGION=international`). "
        "Describe the motion in **prompt**. SiliconFlow has no cancel: a cancelled job may still "
        "finish and be billed there.",
    ),
    "auto_engine": Template(
        "SVD Image to Video, Any Engine",
        "Auto engine",
        "local model first, then providers",
        "## SVD with automatic engine choice\n\nTries the engines in `engines` order: the local "
        "model first, then each hosted provider whose key is set.",
    ),
}
