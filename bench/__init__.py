"""pushrelay benchmarks: `python -m bench.<area>`; results land in bench/results/<area>.json."""
