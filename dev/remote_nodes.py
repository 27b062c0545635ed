"""Inputs that make each remote node run against the fake providers (tests and benchmarks)."""

from __future__ import annotations

# class_type -> every widget input but `image`; timeouts short enough for tests.
NODE_INPUTS = {
    "SVDSuite_RemoteFal": {
        "app": "fal-ai/stable-video",
        "motion_bucket_id": 127,
        "cond_aug": 0.02,
        "fps": 0,
        "steps": 0,
        "seed": -1,
        "prompt": "",
        "timeout_s": 60,
    },
    "SVDSuite_RemoteReplicate": {
        "video_length": "14_frames_with_svd",
        "sizing_strategy": "maintain_aspect_ratio",
        "frames_per_second": 6,
        "motion_bucket_id": 127,
        "cond_aug": 0.02,
        "decoding_t": 14,
        "seed": -1,
        "timeout_s": 60,
    },
    "SVDSuite_RemoteSegmind": {
        "fps": 7,
        "motion": 127,
        "seed": -1,
        "cond_aug": 0.1,
        "frames": "14",
        "resize_method": "maintain_aspect_ratio",
        "timeout_s": 60,
    },
    "SVDSuite_RemoteSiliconFlow": {
        "model": "Wan-AI/Wan2.2-I2V-A14B",
        "prompt": "a rocket lifts off",
        "negative_prompt": "",
        "image_size": "1280x720",
        "seed": -1,
        "timeout_s": 60,
    },
    "SVDSuite_AutoImageToVideo": {
        "engines": "local,fal,replicate,segmind",
        "width": 64,
        "height": 64,
        "num_frames": 0,
        "fps": 7,
        "motion_bucket_id": 127,
        "cond_aug": 0.02,
        "seed": -1,
        "steps": 2,
        "min_guidance_scale": 1.0,
        "max_guidance_scale": 3.0,
        "timeout_s": 60,
    },
}
