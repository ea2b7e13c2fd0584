"""scripts/nbexec.py: the notebook runner waits in short slices, so a missed wake-up costs one slice (0.1 s), not the
timeout."""

import asyncio
import importlib
import sys
from pathlib import Path
from queue import Empty

import jupyter_client.channels
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import nbexec

AsyncZMQSocketChannel = nbexec.AsyncZMQSocketChannel  # jupyter_client 8's class, or 7's (Colab) of the same role


def sliced_channel(monkeypatch, answers):
    """A SlicedChannel whose underlying poll answers from ``answers`` (None: nothing came in this wait)."""
    waits = []

    async def fake_get_msg(self, timeout=None):
        waits.append(timeout)
        answer = answers.pop(0) if answers else None
        if answer is None:
            await asyncio.sleep(timeout)
            raise Empty
        return answer

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", fake_get_msg)
    monkeypatch.setattr(nbexec, "SLICE_S", 0.01)
    return nbexec.SlicedChannel.__new__(nbexec.SlicedChannel), waits


def test_waits_in_slices_until_a_message_comes(monkeypatch):
    channel, waits = sliced_channel(monkeypatch, [None, None, {"msg": 1}])
    assert asyncio.run(channel.get_msg(timeout=300)) == {"msg": 1}
    assert len(waits) == 3 and all(w <= 0.01 for w in waits), "no single wait may be the whole timeout"


def test_still_times_out_at_the_deadline(monkeypatch):
    channel, waits = sliced_channel(monkeypatch, [])
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=0.05))
    assert 3 <= len(waits) <= 10


def test_notebook_client_uses_the_sliced_channels(tmp_path):
    import nbformat

    client = nbexec.notebook_client(nbformat.v4.new_notebook(), tmp_path, timeout=5)
    km = client.kernel_manager_class(kernel_name="python3")
    kc = km.client()
    assert kc.shell_channel_class is nbexec.SlicedChannel and kc.iopub_channel_class is nbexec.SlicedChannel
    assert client.timeout == 5


def test_runs_on_jupyter_client_7_as_colab_has_it(monkeypatch):
    """jupyter_client 7 (Colab's 7.4.9) has no AsyncZMQSocketChannel: its ZMQSocketChannel is the asynchronous one.
    The runner must import there and slice that channel's waits."""
    monkeypatch.delattr(jupyter_client.channels, "AsyncZMQSocketChannel", raising=False)
    try:
        colab = importlib.reload(nbexec)
        assert colab.AsyncZMQSocketChannel is jupyter_client.channels.ZMQSocketChannel
        assert issubclass(colab.SlicedChannel, jupyter_client.channels.ZMQSocketChannel)
    finally:
        monkeypatch.undo()
        importlib.reload(nbexec)
