"""Starting or joining a Ray cluster: the one place lmkit calls ``ray.init``.

Every part of lmkit that runs on Ray (word2vec's data-parallel training,
:mod:`lmkit.word2vec.distributed`; sharded corpus encoding) calls
:func:`connect` first, so that the meaning of ``--cluster`` is the same
everywhere:

- ``"local"``: start Ray on this machine with ``num_cpus`` CPUs (no dashboard);
- ``"auto"``: join the cluster this machine belongs to (``RAY_ADDRESS``, or
  the one ``ray start`` left running), else start a local one as above;
- ``"HOST:PORT"`` or ``"ray://HOST:PORT"``: join that cluster (its CPUs are
  its own: ``num_cpus`` is ignored).

It is idempotent: once Ray is initialised in this process (by an earlier
call, or by the caller's own ``ray.init`` with options of its choosing, as
the tests do to keep the object store small) it does nothing.  Ray is an
optional extra, imported here only inside the functions.
"""
from __future__ import annotations

import logging
import re

from lmkit._extras import require

log = logging.getLogger(__name__)

CLUSTER_MODES = ("auto", "local")
ADDRESS = re.compile(r"^(ray://)?[A-Za-z0-9][A-Za-z0-9.\-]*:\d{1,5}$")


class WorkerFailedError(RuntimeError):
    """A Ray worker died (or hung) more often than its restarts allow; the message names it, in one line."""


def check_cluster(cluster: str) -> None:
    """Refuse a ``cluster`` that is neither a mode nor a ``HOST:PORT`` address (before any work is done)."""
    if not isinstance(cluster, str) or not (cluster in CLUSTER_MODES or ADDRESS.match(cluster)):
        raise ValueError(f"cluster must be 'auto', 'local' or a Ray address HOST:PORT (or ray://HOST:PORT), "
                         f"got {cluster!r}")


def connect(cluster: str, num_cpus: int | None) -> None:
    """Make sure this process is connected to a Ray cluster, as ``cluster`` says (module docstring).

    ``num_cpus``: the CPUs of a cluster started here (None: all of this
    machine's).  Raises :class:`lmkit._extras.MissingExtra` (one line: the
    ``pip install 'lmkit[ray]'`` to run) without Ray, ``ValueError`` for a
    malformed ``cluster`` and ``ConnectionError`` when an address cannot be reached.
    """
    check_cluster(cluster)
    ray = require("ray", "ray", f"--cluster {cluster}")
    if ray.is_initialized():
        return
    if cluster != "local":
        try:
            ray.init(address=cluster)  # a running cluster's resources and dashboard are its own
            log.info("joined the Ray cluster at %s (%s CPUs)", cluster, ray.cluster_resources().get("CPU"))
            return
        except ConnectionError:
            if cluster != "auto":
                raise ConnectionError(f"--cluster {cluster}: no Ray cluster answers at that address") from None
    ray.init(num_cpus=num_cpus, include_dashboard=False)
    log.info("started a local Ray cluster with %s CPUs", ray.cluster_resources().get("CPU"))
