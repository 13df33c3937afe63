"""Music analysis over symusic scores: bar grid and meter, key/mode/mood, attributes, instruments.

Small pure functions; nothing here knows about tokens, models or files.
"""

__all__ = ["attributes", "instruments", "labels", "timeline"]
