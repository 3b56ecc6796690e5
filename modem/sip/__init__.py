"""Sans-IO SIP for trunk lines (issue 16).

``message`` parses and builds SIP messages, ``transaction`` runs RFC 3261 section 17
transactions, ``ua`` is the user agent a trunk driver feeds with bytes and the time,
``digest`` answers authentication challenges.  None of these modules touches a socket,
a thread or a clock.
"""
