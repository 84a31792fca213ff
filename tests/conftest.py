import os

from hypothesis import HealthCheck, settings

# First calls compile numba kernels (seconds): no deadlines anywhere.
settings.register_profile(
    "ci", deadline=None, derandomize=True, max_examples=40, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", deadline=None, max_examples=500, suppress_health_check=[HealthCheck.too_slow]
)
# NUMBA_DISABLE_JIT=1 (the coverage run): the kernels are plain Python, a few examples suffice
settings.register_profile(
    "nojit", deadline=None, derandomize=True, max_examples=6, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
