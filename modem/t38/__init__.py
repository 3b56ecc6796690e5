"""ITU-T T.38 (fax over IP), sans-IO: IFP packets (:mod:`modem.t38.ifp`), UDPTL datagrams
(:mod:`modem.t38.udptl`) and a T.38 terminal that runs our T.30 engine over IFPs
(:mod:`modem.t38.terminal`)."""
