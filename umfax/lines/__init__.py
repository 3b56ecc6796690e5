"""The line manager: one worker thread per configured line."""
