"""The fax printer's umfax side: the port the IPP printer (connectors/ipp) calls
(:mod:`umfax.printer.ports`), its implementation on the store (:mod:`umfax.printer.faxes`)
and the HTTP endpoint on the API's server (:mod:`umfax.api.ipp`)."""
