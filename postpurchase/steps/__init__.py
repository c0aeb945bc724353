"""What the built-in step kinds do: one module per kind.

The step *models* (their fields) are in :mod:`postpurchase.models.steps`; each module
here registers its kind's behaviour on the model with
:func:`~postpurchase.models.steps.register_behaviour`. The app imports them when it loads
(``AppConfig.ready``), so the engine never names a step module. This ``__init__`` imports
none of them: a service that needs one kind's logic (the trigger filter uses the
condition checks) imports that module alone.
"""

#: The modules that register the built-in kinds, imported by ``AppConfig.ready``.
BUILTIN = (
    "postpurchase.steps.condition",
    "postpurchase.steps.email",
    "postpurchase.steps.signal",
    "postpurchase.steps.staff",
)
