"""Suite-wide settings: hypothesis runs the same examples on every machine (CI included),
so a red run can be reproduced and a green one means the same thing everywhere."""

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.load_profile("repeatable")
