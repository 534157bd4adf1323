"""What the benchmarks in bench/ share: fresh worker processes, the baseline and our training
runs measured alike, and the markdown reports they print and keep in bench/results/.

A package rather than a bench/*.py module, so that `make bench` (which runs every bench/*.py)
does not run it.
"""
