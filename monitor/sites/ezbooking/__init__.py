"""The prefecture booking module (eZ Publish ``/booking/create/<id>``) as one plugin.

- :mod:`.adapter`: walks the booking like a careful person with a browser.
- :mod:`.forms`: reads the booking's forms and calendar radios.
- :mod:`.classify`: the pure page classifier (status, headers, body → verdict).
- :mod:`.sim`: a faithful simulated prefecture for tests and the demo.
"""

from monitor.sites.ezbooking.adapter import EzBookingAdapter

__all__ = ["EzBookingAdapter"]
