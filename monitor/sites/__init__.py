"""Site adapters: one plugin folder per booking platform.

- :mod:`monitor.sites.base`: what every adapter provides (:class:`SiteAdapter`).
- :mod:`monitor.sites.registry`: the list of adapters and the choice by URL.
- :mod:`monitor.sites.ezbooking`: the prefecture booking module (adapter,
  forms, classifier and its simulator).
"""
