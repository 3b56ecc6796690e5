"""The virtual fax printer: IPP (RFC 8010/8011) and IPP FaxOut (PWG 5100.15), sans-IO.

:mod:`connectors.ipp.codec` reads requests and writes responses; :mod:`connectors.ipp.printer`
answers the operations through a port (:class:`connectors.ipp.printer.FaxOutPort`) the
umfax side implements.  No socket here: the API's HTTP server carries the bytes.
"""
