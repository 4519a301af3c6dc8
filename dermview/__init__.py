"""dermview: browse HAM10000 and judge a k-nearest-neighbour suggestion by its neighbours.

A research and teaching aid, not a diagnostic device.
"""

import os

__version__ = "0.1.0"

# onnxruntime's official Linux and macOS wheels (1.32 here) send usage telemetry to Microsoft, and keep a device
# identifier and an event cache in ~/.cache/Microsoft/DeveloperTools and a ".ses" file in the temporary folder.
# dermview runs offline on clinicians' workstations and writes only its own folders: this switch, read once when
# onnxruntime starts, turns all of that off (it must be set before onnxruntime is imported, so it is set here).
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

NOT_A_MEDICAL_DEVICE = (
    "Research and teaching aid only - not a medical device. "
    "Do not use it to diagnose, treat or triage patients."
)
