"""Fax or voice on an answered audio call: spandsp's tone detectors (:mod:`.tones`), the
sans-IO listening/recording state machine (:mod:`.answer`) and its RTP pump (:mod:`.session`)."""
