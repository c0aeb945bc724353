"""The sending pool."""

from __future__ import annotations

import pytest

from postpurchase.delivery.sender import Sender


def test_a_pool_shut_down_on_purpose_refuses_work_instead_of_sending_on_the_caller():
    # Only an interpreter that is exiting makes a send fall back to the calling thread
    # (a script that placed an order and ended); a pool shut down deliberately must not
    # turn the worker's thread into a sender that waits on the ESP.
    sender = Sender(1)
    sender.executor.shutdown()
    sent = []
    with pytest.raises(RuntimeError):
        sender.submit(object(), lambda: sent.append(True) or True)
    assert sent == []
