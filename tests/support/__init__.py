"""Test-only support: cloned checkouts, the template index, a cuttable proxy, the in-process
model-management probe, which ComfyUI installs a test may use, the interpolation tests'
clips and paths, the RIFE reference, the SVD cases and oracle, and the video colour chart (no
test module imports another). What benchmarks and scripts need as well lives in dev/ (at the
repository root), which never imports from here."""
