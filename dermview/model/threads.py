"""How many threads the numerical libraries may use in a dermview process."""

from __future__ import annotations


def use_one_blas_thread() -> None:
    """Run OpenBLAS (numpy's matrix products) on one thread for the rest of the process.

    dermview's matrix products are small (one query against the archive) or already run one per core
    (an index build's batches), and OpenBLAS's extra thread only spins: 170 queries took 4.2 s and
    7.8 CPU-seconds with its default two threads, 4.0 s and 3.9 CPU-seconds with one. The one product
    that gains from a second thread, an index build's archive-wide nearest-lesion distances, loses
    0.3 s (2,000 rows of 10,015 x 1,280)."""
    import numpy  # noqa: F401  (the limit reaches only the BLAS libraries already loaded)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
