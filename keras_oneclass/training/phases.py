"""An update phase of a train step, and the optimizers of several phases held as one.

A trained detector declares its train step as a list of ``Phase``: which variables one optimizer
updates, from a loss written in ``keras.ops``. The engine (``engine.py``) runs the phases in order
on every backend. ``PhaseOptimizers`` lets one ``model.optimizer`` carry the state of all the phases'
optimizers, which is what the JAX backend's stateless train step needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import keras

from keras_oneclass.detector import PACKAGE

# loss(x, outputs of the earlier phases) -> (scalar loss, {name: value}); values are logged by the
# model's metric tracker of that name and passed on (without gradient) to the later phases.
PhaseLoss = Callable[[Any, dict], "tuple[Any, dict]"]


@dataclass(frozen=True)
class Phase:
    """One update of a train step.

    Attributes:
        name: what the phase trains, e.g. "network", "center", "generator".
        variables: the variables this phase updates (a fixed list, the one its optimizer was built on).
        optimizer: the optimizer that updates them (a ``LossScaleOptimizer`` under ``mixed_float16``).
        loss: ``loss(x, outputs) -> (loss, logs)``: the batch features ``x``, the outputs of the earlier
            phases, and the scalar float32 loss with a dict of named values to log or pass on.
    """

    name: str
    variables: Sequence
    optimizer: keras.optimizers.Optimizer
    loss: PhaseLoss


@keras.saving.register_keras_serializable(package=PACKAGE)
class PhaseOptimizers(keras.optimizers.Optimizer):
    """The optimizers of several phases, held as one optimizer so that one state carries them all.

    ``variables`` lists this object's own two (iterations, learning rate: unused) and then every inner
    optimizer's, in order; ``iterations`` and ``learning_rate`` are the first phase's. Phases apply their
    own optimizer; calling ``apply`` on the whole is an error.

    Args:
        optimizers: one optimizer per phase, in the order of the phases.
    """

    def __init__(self, optimizers: Sequence[keras.optimizers.Optimizer], name: str = "phase_optimizers", **kwargs):
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        if not optimizers:
            raise ValueError("PhaseOptimizers needs at least one optimizer.")
        self.optimizers = list(optimizers)
        self.built = all(optimizer.built for optimizer in self.optimizers)

    def build(self, var_lists):
        """Build each optimizer on its phase's variables: ``var_lists`` holds one list per optimizer."""
        var_lists = list(var_lists)
        if len(var_lists) != len(self.optimizers) or not all(isinstance(v, (list, tuple)) for v in var_lists):
            raise ValueError(f"PhaseOptimizers.build needs one variable list per optimizer ({len(self.optimizers)}).")
        for optimizer, variables in zip(self.optimizers, var_lists):
            if not optimizer.built:
                optimizer.build(list(variables))
        self.built = True

    @property
    def variables(self):
        return self._variables + [v for optimizer in self.optimizers for v in optimizer.variables]

    @property
    def iterations(self):
        return self.optimizers[0].iterations

    @property
    def learning_rate(self):
        return self.optimizers[0].learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.optimizers[0].learning_rate = learning_rate

    def apply(self, grads, trainable_variables=None):
        raise NotImplementedError("PhaseOptimizers is applied phase by phase: use each phase's own optimizer.")

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        raise NotImplementedError("PhaseOptimizers is applied phase by phase: use each phase's own optimizer.")

    def get_config(self):
        return {"name": self.name,
                "optimizers": [keras.optimizers.serialize(optimizer) for optimizer in self.optimizers]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        optimizers = [keras.optimizers.deserialize(c, custom_objects=custom_objects) for c in config["optimizers"]]
        return cls(optimizers, name=config.get("name", "phase_optimizers"))
