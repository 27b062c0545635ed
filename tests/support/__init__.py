"""Test-only support: cloned checkouts, the template index, a cuttable proxy, the in-process
model-management probe, which ComfyUI installs a test may use, and the interpolation tests'
clips and paths. What benchmarks and scripts need as well lives in dev/ (at the repository
root), which never imports from here."""
