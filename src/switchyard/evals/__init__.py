"""Evals on your own data: eval sets, scorers, runs, reports; and converters of public data sets into
eval sets (``routerbench``)."""
