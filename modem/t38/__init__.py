"""T.38 fax over IP: IFP packets, UDPTL transport, a T.38 terminal for the T.30 engine (all sans-IO)."""
