"""The main suite does not collect this environment's tests: they need semantic-kernel, which
cannot share the main environment (mcp 2.x). tests/integrations/test_semantic_kernel_env.py
runs them with this environment's python instead, and fails when it is not built."""

from importlib.util import find_spec

collect_ignore = [] if find_spec("semantic_kernel") else ["tests"]
