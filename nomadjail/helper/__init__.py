"""Small standard-library helpers every package may use (Nomad's ``helper/``).

Nothing here imports the rest of nomadjail or any third-party package: the task
supervisor, which must start fast and import only the standard library, uses
these too.
"""
