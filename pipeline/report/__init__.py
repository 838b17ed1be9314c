"""The run report (render.py, with plots.py and sections.py) and the comparison of runs (compare.py)."""
