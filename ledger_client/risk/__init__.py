"""Risk indicators: patterns over the event index that an investigator should look at.

``thresholds`` holds the configurable numbers (and imports nothing else, so the settings can
use it); ``models`` the flag tables; ``travel`` and ``family`` compute the indicators;
``engine`` keeps the flags up to date incrementally; ``flags`` is what the services read and
how an investigator marks a flag reviewed; ``explain`` turns a flag's facts into English.
Only opaque ids, commitments and chain times are read here: never personal data.
"""
