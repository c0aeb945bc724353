"""django-postpurchase: automated post-purchase email flows for Django shops.

Public API (import from here):

- ``track(name, email=..., obj=None, data=None)``: record a custom event.
- ``signals``: inbound (``order_placed`` ...) and outbound (``message_sent`` ...) signals.
- ``BaseAdapter``: subclass it to describe your orders (``POSTPURCHASE["ADAPTER"]``).
- ``Step`` and the step results ``Next``, ``Wait``, ``JumpTo``, ``Exit``, ``Fail`` to
  write your own step types.
"""

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "BaseAdapter",
    "Exit",
    "Fail",
    "JumpTo",
    "Next",
    "Step",
    "StepResult",
    "Wait",
    "signals",
    "track",
]

_LAZY = {
    "track": ("postpurchase.events", "track"),
    "BaseAdapter": ("postpurchase.adapters", "BaseAdapter"),
    "Step": ("postpurchase.models", "Step"),
    "Next": ("postpurchase.results", "Next"),
    "Wait": ("postpurchase.results", "Wait"),
    "JumpTo": ("postpurchase.results", "JumpTo"),
    "Exit": ("postpurchase.results", "Exit"),
    "Fail": ("postpurchase.results", "Fail"),
    "StepResult": ("postpurchase.results", "StepResult"),
}


def __getattr__(name: str) -> Any:
    # Lazy, so ``import postpurchase`` works before Django's app registry is ready.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name == "signals":
        import importlib

        return importlib.import_module("postpurchase.signals")
    raise AttributeError(f"module 'postpurchase' has no attribute {name!r}")
