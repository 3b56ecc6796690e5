"""The web console: server-rendered pages (Jinja2) on the API's address.

``/`` is the console, the REST API stays under ``/api/``.  Pages are FastAPI routers
in :mod:`umfax.web.pages`, one module per page family; they get the signed-in person
from :func:`umfax.web.deps.current_user` (or ``current_admin``) and answer with
:func:`umfax.web.render.render`.  No inline script: every script is a static file, so
the Content-Security-Policy can forbid inline code.
"""
