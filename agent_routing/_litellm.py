"""The one place that imports litellm, always with its offline price map.

litellm fetches a remote price map at import unless `LITELLM_LOCAL_MODEL_COST_MAP` is set
first, and importing it takes over a second. So nothing imports litellm at package import;
callers use :func:`litellm_module` when they need it. Importing litellm also points
`TIKTOKEN_CACHE_DIR` at the tokenizer files in its wheel, which keeps tiktoken offline.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType


@functools.cache
def litellm_module() -> ModuleType:
    """Import and return litellm configured for offline use (cached after the first call)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


def litellm_version() -> str:
    """The installed litellm version string."""
    from importlib.metadata import version

    return version("litellm")
