"""Alerts: the built-in channels (``channels``), the ``deliver`` job (``deliver``) and reminders (``reminders``).

``services.alerts.notify`` turns issue events into delivery rows and ``deliver`` jobs; the
handler here builds each message with its channel's plugin function and sends it.
"""
