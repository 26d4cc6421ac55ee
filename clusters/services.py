"""Work on clusters that talks to them: whether Kubernaut can reach one, and what it runs."""

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from clusters.kube import ClusterClient, ClusterError
from clusters.models import Cluster

# The admin's change page asks each time it is shown: never long.
PAGE_TIMEOUT = (1.5, 1.5)


@dataclass(frozen=True)
class Connection:
    """What a cluster answered to GET /version: `version` ("v1.30.0") when it did, and a
    sentence either way."""

    server: str
    version: str
    sentence: str

    @property
    def ok(self) -> bool:
        return bool(self.version)


def api_server(cluster: Cluster) -> str:
    """The API server's address from the cluster's kubeconfig (its context's), or a sentence
    saying why there is none. Nothing is sent to the cluster."""
    try:
        client = ClusterClient.for_cluster(cluster)
    except ClusterError as error:
        return str(error)
    client.close()
    return client.server


def check_connection(cluster: Cluster, timeout: tuple[float, float] = PAGE_TIMEOUT) -> Connection:
    """Ask the cluster its version with Kubernaut's credentials, answering within the sum of
    `timeout` whatever happens (a name that takes long to resolve is not bounded by the
    request's own timeouts). Never raises for a cluster that cannot be reached or refuses: the
    sentence says so."""
    seconds = sum(timeout)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="check-connection")
    # The kubeconfig is decrypted here: the thread never touches the database or the keys.
    kubeconfig, context, name = cluster.kubeconfig, cluster.context, cluster.name
    future = pool.submit(_ask_version, kubeconfig, context, name, timeout)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        return Connection(
            server=api_server(cluster),
            version="",
            sentence=f"The cluster {name} did not answer within {seconds:g} s.",
        )
    finally:
        pool.shutdown(wait=False)  # a late answer is dropped


def _ask_version(kubeconfig: str, context: str, name: str, timeout) -> Connection:
    try:
        client = ClusterClient(kubeconfig, context, name=name, timeout=timeout)
    except ClusterError as error:
        return Connection(server="", version="", sentence=str(error))
    started = time.monotonic()
    try:
        answer = client.version()
    except ClusterError as error:
        return Connection(server=client.server, version="", sentence=str(error))
    finally:
        client.close()
    took = (time.monotonic() - started) * 1000
    version = str(answer.get("gitVersion") or "unknown")
    platform = f" ({answer['platform']})" if answer.get("platform") else ""
    return Connection(
        server=client.server,
        version=version,
        sentence=f"Connected to {name} at {client.server}: Kubernetes {version}"
        f"{platform} answered in {took:.0f} ms.",
    )
