"""End-to-end tests of the web console in a real Chromium (Playwright), ``-m browser``.

Debian's ``chromium`` (scripts/apt-packages.txt) is driven by Playwright from PyPI (the
``test`` extra) through ``executable_path``: nothing is downloaded at test time.  One
``umfax serve`` (embedded defaults, SQLite in a temporary data directory, the two default
simulated lines, the API on a free port) serves the whole session; ``test_scenario`` walks
issue 18's story through it, a step at a time.  axe-core is vendored in
``tests/web/vendor/axe-core``.

Run them:  ``python3 -m pytest -m browser tests/web/browser``.  Screenshots of every page
go to ``$UMFAX_WEB_SHOTS/<test>/`` (or ``<pytest basetemp>/web-shots/<test>/``), with one
of every open page when a test fails.
"""
