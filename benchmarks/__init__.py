"""Side-by-side speed scripts: each runs our code and a baseline in one process and prints the figure.

Run one from the repository root as a module, e.g. `python -m benchmarks.analysis_speed --quick`: the
scripts share benchmarks/common.py and the browser helpers of tests/browser.py, which only a module run
from the checkout can import. benchmarks/RESULTS.md has the latest figures.
"""
