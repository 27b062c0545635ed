"""SVD Suite node modules. See nodes/registry.py for how they are collected."""
