"""Joining a Ray cluster: the one place lmkit starts or connects to Ray (optional extra ``lmkit[ray]``).

Every part of lmkit that runs on Ray (sharded encoding, data-parallel
training) calls :func:`connect` first, so that the meaning of ``cluster``
is the same everywhere:

``"local"``
    start a Ray instance on this machine, with ``num_cpus`` CPUs (None: all cores);
``"auto"``
    join the cluster this machine belongs to (``ray start`` ran here, or
    ``RAY_ADDRESS`` is set), else start a local one as ``"local"`` does;
an address (``"10.0.0.5:6379"``, ``"ray://head:10001"``)
    join that cluster; ``num_cpus`` is the cluster's business, not ours.

A process joins at most once: when Ray is already initialized (by an earlier
call, or by the caller's own ``ray.init`` with options of its choosing) the
call does nothing, so library functions can call it freely.

The tasks lmkit sends read the corpus and write their results by path: on a
cluster of several machines, the corpus and the cache folder must be on a
filesystem every node mounts at the same path (NFS, a cloud file store).
Workers import lmkit themselves, so every node needs the same lmkit; on
this machine Ray puts the driver's working directory first on the workers'
``sys.path``, so a driver started inside another checkout of lmkit sends
tasks to that checkout's code.
"""
from __future__ import annotations

import logging
import re

from lmkit._extras import require

log = logging.getLogger(__name__)

LOCAL = "local"
AUTO = "auto"
ADDRESS = re.compile(r"^(ray://)?[A-Za-z0-9][A-Za-z0-9.\-]*:\d{1,5}$")


class WorkerFailedError(RuntimeError):
    """A Ray worker died (or hung) more often than its restarts allow; the message names it, in one line."""


def check_cluster(cluster: str) -> None:
    """Refuse a ``cluster`` that is neither a mode nor a ``HOST:PORT`` address (a config's check, before any
    work is done; :func:`connect` itself accepts any address Ray does)."""
    if not isinstance(cluster, str) or not (cluster in (LOCAL, AUTO) or ADDRESS.match(cluster)):
        raise ValueError(f"cluster must be 'auto', 'local' or a Ray address HOST:PORT (or ray://HOST:PORT), "
                         f"got {cluster!r}")


def connect(cluster: str, num_cpus: int | None) -> None:
    """Start or join the Ray cluster ``cluster`` (see the module docstring); idempotent.

    Raises :class:`lmkit._extras.MissingExtra` without ray installed,
    ``ValueError`` for an empty ``cluster`` or ``num_cpus`` < 1, and Ray's
    ``ConnectionError`` when an address cannot be reached.
    """
    if not isinstance(cluster, str) or not cluster.strip():
        raise ValueError(f"cluster must be 'local', 'auto' or a Ray address, got {cluster!r}")
    if num_cpus is not None and (not isinstance(num_cpus, int) or num_cpus < 1):
        raise ValueError(f"num_cpus must be an integer >= 1 or None, got {num_cpus!r}")
    ray = require("ray", "ray", "running on a Ray cluster")
    if ray.is_initialized():
        return
    if cluster == AUTO:
        try:
            ray.init(address=AUTO)
            log.info("joined the Ray cluster at %s", ray.get_runtime_context().gcs_address)
            return
        except ConnectionError:
            log.info("no running Ray cluster found: starting a local one")
    if cluster in (AUTO, LOCAL):
        ray.init(address=LOCAL, num_cpus=num_cpus, include_dashboard=False)  # "local": never RAY_ADDRESS
        log.info("started a local Ray instance with %s CPUs", int(ray.cluster_resources().get("CPU", 0)))
        return
    ray.init(address=cluster)
    log.info("joined the Ray cluster at %s", cluster)
