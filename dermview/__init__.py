"""dermview: browse HAM10000 and judge a k-nearest-neighbour suggestion by its neighbours.

A research and teaching aid, not a diagnostic device.
"""

__version__ = "0.1.0"

NOT_A_MEDICAL_DEVICE = (
    "Research and teaching aid only - not a medical device. "
    "Do not use it to diagnose, treat or triage patients."
)
