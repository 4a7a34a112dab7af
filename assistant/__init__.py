"""techkb assistant: identity-aware retrieval and cited answers over the shared knowledge base."""

import os

# Nothing may phone home or download at run time; set before any library reads them.
for _name, _value in {
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "RAGAS_DO_NOT_TRACK": "true",
    "DO_NOT_TRACK": "true",
    "SCARF_NO_ANALYTICS": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}.items():
    os.environ.setdefault(_name, _value)

# openvino (the default embedding engine) reports usage to Google Analytics through
# `openvino_telemetry` on import unless a consent file says otherwise, and no environment
# variable turns that off. Every techkb process imports this package first, so the module is
# made unimportable here; openvino then uses its own no-op stub.
import sys  # noqa: E402

if "openvino_telemetry" not in sys.modules:
    sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]
