"""A seller's workspace as its own: `shoplens init` lays it out (`scaffold`), `shoplens doctor` says what is
missing before a sync fails (`doctor` and its checks), `shoplens schedule` runs the hourly sync and the
weekly batch by themselves (`schedule`). Commands in `workspace/cli.py`. Nothing here writes a secret, and
nothing here prints one.
"""
