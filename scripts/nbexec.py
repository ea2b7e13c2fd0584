"""Run a notebook with nbclient, without the stalls of a missed wake-up on the kernel's sockets.

nbclient waits for each message from the kernel with a single ``poll(timeout)`` on an asyncio ZMQ socket.
On this set-up (pyzmq 27.3, jupyter_client 8.10, nbclient 0.11) that wait now and then misses a message
that is already in the socket and returns only when the timeout runs out: a 0.2 s cell then holds the run
for the whole cell timeout (60 s in a diagnostic run; with 300 s it looked like a hang). Waiting in
0.1 s slices bounds such a stall to 0.1 s (with one-second slices, a student copy's run took about half a
second to a second longer); the overall timeout is unchanged.

Used by ``scripts/run_notebooks.py``, ``benchmarks/bench_notebooks.py`` and ``tests/test_builds.py``.
(nbval uses a blocking client, which polls differently and has not stalled.)
"""

from __future__ import annotations

from pathlib import Path
from queue import Empty
from time import monotonic

from jupyter_client.asynchronous import AsyncKernelClient

try:
    from jupyter_client.channels import AsyncZMQSocketChannel
except ImportError:  # jupyter_client 7 (Colab's 7.4): its one socket channel is the asynchronous one
    from jupyter_client.channels import ZMQSocketChannel as AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from traitlets import Type, default

SLICE_S = 0.1


class SlicedChannel(AsyncZMQSocketChannel):
    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            wait = SLICE_S if deadline is None else max(0.0, min(SLICE_S, deadline - monotonic()))
            try:
                return await super().get_msg(timeout=wait)
            except Empty:
                if deadline is not None and monotonic() >= deadline:
                    raise


class SlicedClient(AsyncKernelClient):
    shell_channel_class = Type(SlicedChannel)
    iopub_channel_class = Type(SlicedChannel)


class SlicedKernelManager(AsyncKernelManager):
    @default("client_factory")
    def _client_factory_default(self) -> type:
        return SlicedClient


def notebook_client(nb, folder: str | Path, timeout: int = 300, **kwargs) -> NotebookClient:
    """An nbclient ``NotebookClient`` for ``nb`` run in ``folder`` (python3 kernel), with sliced waits."""
    return NotebookClient(nb, timeout=timeout, kernel_name="python3", kernel_manager_class=SlicedKernelManager,
                          resources={"metadata": {"path": str(folder)}}, **kwargs)
