"""The web UI: server-rendered pages at ``/`` (ARCHITECTURE.md section 9).

Jinja2 templates with autoescape on (``templating``), htmx and uPlot vendored
from the npm registry (``vendor``), one hand-written script and stylesheet
(``static/app.js``, ``static/app.css``), a strict Content-Security-Policy and
CSRF checks by Fetch Metadata (``security``), sign-in by session cookie
(``auth`` over ``services.ui_sessions``). Pages live in ``pages/``, one module
per page family, each with a ``router``; ``pages.ROUTERS`` lists them.

Pages call services, never the store; everything a user logged is rendered
escaped; nothing changes on GET; the URL's query string holds every filter.
"""
