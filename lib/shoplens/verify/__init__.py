"""`shoplens verify`: GMV, orders, units, buyers and refunds per shop and day recomputed from the raw
archive alone (`recompute`), compared with the metric compiler's figures (`check`), differences named
down to the records (`cli`). Import from the modules themselves, so the command starts fast.
"""
