"""Transitional: ``monitor.config`` still imports :func:`template_problem` from here.

Messages live in :mod:`monitor.notify.messages` and template checks in
:mod:`monitor.events`; delete this module once config imports from there.
"""

from monitor.events import template_problem

__all__ = ["template_problem"]
