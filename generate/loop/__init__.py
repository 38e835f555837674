"""The round drivers: SPIN iterations (`spin`) and machine-labelled iterations (`judge`), each a `Loop` run by
`spin.run_loop`; `prefloop loop ...` or `python -m generate --spin-iter N | --judge-iter N`."""
