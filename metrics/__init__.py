"""Metrics as pure formulas on arrays: pixel calibration from per-level counts (`calibration`), the
SOD measures both protocols share (`measures`), the authors' SOD tool (`paper`), PySODMetrics'
definitions (`sod`) and the boundary band (`boundary`). No file I/O here: `evaluate` reads maps and
hands them over. Import from the submodules."""
