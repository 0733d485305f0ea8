"""Optimizers with the semantics of the reference PyTorch code.

``torch.optim.Adam(weight_decay=wd)`` adds ``wd * w`` to the gradient before the moment updates
(L2 regularisation, coupled with Adam's per-parameter scaling). ``keras.optimizers.Adam(weight_decay=wd)``
instead shrinks the weights after the step by ``lr * wd * w`` (decoupled, AdamW style). In principle
the two differ a lot at Deep SVDD's learning rate 1e-4: the decoupled shrink of MNIST's pretraining
decay 0.5e-3 is 5e-8 of each weight per step, while the coupled term is normalised by Adam like the
loss gradient. How much that matters depends on the loss: with Deep SVDD's sum-of-squares losses
the gradients dwarf ``wd * w`` and the AUCs did not move (docs/design.md, 2026-12-01). Papers whose
code used ``torch.optim.Adam`` are reproduced with ``L2Adam``.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_oneclass.detector import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class L2Adam(keras.optimizers.Adam):
    """Adam whose weight decay is added to the gradient, as in ``torch.optim.Adam``.

    The update of a variable w with gradient g is Adam's update computed from ``g + l2 * w``;
    Keras' decoupled ``weight_decay`` is not used.

    Args:
        learning_rate: float or schedule, as for ``keras.optimizers.Adam``.
        l2: coefficient of the gradient term ``l2 * w`` (torch's ``weight_decay``); >= 0.
        **kwargs: the other arguments of ``keras.optimizers.Adam`` (``beta_1``, ``epsilon``, ...),
            except ``weight_decay``.

    Example:
        >>> optimizer = L2Adam(1e-4, l2=0.5e-3, epsilon=1e-8)   # torch.optim.Adam(lr=1e-4, weight_decay=0.5e-3)
    """

    def __init__(self, learning_rate=0.001, l2: float = 0.0, name="l2_adam", **kwargs):
        if kwargs.get("weight_decay"):
            raise ValueError("L2Adam takes its decay as l2 (added to the gradient); weight_decay (decoupled) "
                             f"must be unset, got {kwargs['weight_decay']}.")
        kwargs.pop("weight_decay", None)
        if not l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {l2}.")
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.l2 = float(l2)

    def update_step(self, gradient, variable, learning_rate):
        if self.l2:
            gradient = ops.add(ops.cast(gradient, variable.dtype), ops.multiply(self.l2, variable))
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config.pop("weight_decay", None)
        return {**config, "l2": self.l2}
