"""One training engine for every trained detector, with one implementation per Keras backend.

A detector declares its train step as update phases (``Phase``: variables, optimizer, loss in
``keras.ops``) in ``train_phases()``, and work after the updates in ``after_update`` (assignments
to non-trainable state, such as a radius). The engine runs the phases in order:

- TensorFlow: a ``tf.GradientTape`` per phase; inside a ``tf.distribute`` strategy each replica's
  loss is divided by the number of replicas, since the optimizer sums the replicas' gradients (and
  across the workers of a ``MultiWorkerMirroredStrategy`` the logs travel as (1,) tensors, see
  ``reducible_across_workers``);
- PyTorch: autograd (``loss.backward()``) per phase, gradients cleared before each;
- JAX: ``jax.grad`` of a pure function of the variables' values per phase, the model run inside a
  ``keras.StatelessScope`` and the optimizer applied with ``stateless_apply``.

Under ``mixed_float16`` each phase's optimizer is a ``LossScaleOptimizer``; the engine scales the
loss and the optimizer unscales the gradients and skips non-finite steps, on every backend.
The values a phase returns are logged by the model's metric trackers of the same name.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import keras
from keras import ops

from keras_oneclass import backends, precision
from keras_oneclass.detector import Detector, features_of, run_stateless
from keras_oneclass.training.phases import Phase, PhaseOptimizers


def replica_scaled(loss):
    """``loss`` divided by the number of replicas of the active ``tf.distribute`` strategy (TF only)."""
    if backends.name() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss * (1.0 / replicas)


def reducible_across_workers(logs: dict) -> dict:
    """The step's logs as Keras can reduce them across the workers of a ``MultiWorkerMirroredStrategy``.

    Keras 3 (3.15) reduces a step's outputs across workers with ``strategy.reduce("MEAN", v, axis=0)``,
    which fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions",
    tensorflow/tensorflow#72388). Each log becomes a (1,) tensor there, and the reduction returns the
    scalar mean over the replicas. Unchanged off TensorFlow and within one process.
    """
    if backends.name() != "tensorflow":
        return logs
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    # Replicas in other processes: the number in sync exceeds this process's devices.
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or \
            strategy.num_replicas_in_sync <= len(strategy.extended.worker_devices):
        return logs
    return {name: ops.reshape(value, (1,)) for name, value in logs.items()}


class TrainedDetector(Detector):
    """A detector trained by gradient steps: subclasses declare ``train_phases()``.

    Subclasses:
        - call ``compile_phases({name: (optimizer, variables)}, **kwargs)`` from ``compile``;
        - return their phases, in order, from ``train_phases()`` (``self.phase_optimizer(name)`` gives
          each phase's optimizer);
        - optionally override ``after_update(x, outputs)`` and ``evaluation_outputs(x)`` (the values
          ``evaluate`` and ``validation_data`` log).
    """

    # ----------------------------------------------------------------------------- compile
    def compile_phases(self, optimizers: Mapping[str, tuple], **kwargs) -> None:
        """Compile with one optimizer per phase.

        Args:
            optimizers: ``{phase name: (optimizer, variables)}`` in phase order. Each optimizer is
                wrapped in a ``LossScaleOptimizer`` when the model computes in float16, and built on
                its variables so that a saved optimizer state loads back.
            **kwargs: passed to ``keras.Model.compile`` (``jit_compile``, ``steps_per_execution``, ...).
        """
        mixed = precision.is_mixed(self)
        built = {}
        for name, (optimizer, variables) in optimizers.items():
            optimizer = precision.loss_scaled(keras.optimizers.get(optimizer), mixed)
            if not optimizer.built:
                optimizer.build(list(variables))
            built[name] = optimizer
        self._phase_optimizers = dict(built)
        combined = next(iter(built.values())) if len(built) == 1 else PhaseOptimizers(list(built.values()))
        kwargs.setdefault("auto_scale_loss", False)
        super().compile(optimizer=combined, **kwargs)

    def phase_optimizer(self, name: str) -> keras.optimizers.Optimizer:
        """The optimizer of phase ``name`` (as compiled)."""
        try:
            return self._phase_optimizers[name]
        except (AttributeError, KeyError):
            raise ValueError(f"{type(self).__name__} has no compiled optimizer for phase {name!r}: "
                             "call compile() first.") from None

    # ----------------------------------------------------------------------------- saving
    RANDOM_STATE = "random_state_"  # weight-file keys of the SeedGenerator states, after the own variables

    def random_states(self) -> list:
        """The state variables of every ``keras.random.SeedGenerator`` of the detector and its layers
        (a VAE's ``Sampling``, EfficientAD's augmentation, dropout), in a fixed order."""
        states, seen = [], set()
        for layer in self._flatten_layers(include_self=True, recursive=True):
            for generator in getattr(layer, "_seed_generators", ()):
                if id(generator.state) not in seen:
                    seen.add(id(generator.state))
                    states.append(generator.state)
        return states

    def save_own_variables(self, store):
        """The detector's own variables, then the random states of its seed generators.

        Keras saves no ``SeedGenerator`` state; saved here, ``keras.callbacks.BackupAndRestore`` resumes
        a fit with the random draws (VAE sampling, EfficientAD augmentation) an uninterrupted fit makes.
        """
        super().save_own_variables(store)
        for i, state in enumerate(self.random_states()):
            store[f"{self.RANDOM_STATE}{i}"] = state

    def load_own_variables(self, store):
        """Load what ``save_own_variables`` saved; files saved without the random states load too."""
        keys = list(store.keys())
        random_keys = {key for key in keys if key.startswith(self.RANDOM_STATE)}
        super().load_own_variables({key: store[key] for key in keys if key not in random_keys})
        states = self.random_states()
        if random_keys and len(random_keys) != len(states):
            raise ValueError(f"{type(self).__name__}: the weights hold {len(random_keys)} random states, the "
                             f"detector has {len(states)} seed generators.")
        if random_keys:
            for i, state in enumerate(states):
                state.assign(store[f"{self.RANDOM_STATE}{i}"])

    # ----------------------------------------------------------------------------- declared by subclasses
    def train_phases(self) -> Sequence[Phase]:
        """The update phases of one train step, in order."""
        raise NotImplementedError

    def after_update(self, x, outputs: dict) -> None:
        """Work after the phases' updates (assign non-trainable state); ``outputs`` as logged."""

    def evaluation_outputs(self, x) -> dict:
        """The named values ``evaluate`` logs for a batch (default: the phases' losses, no update)."""
        outputs = {}
        for phase in self.train_phases():
            outputs.update(phase.loss(x, outputs)[1])
        return outputs

    def _track(self, outputs: dict) -> dict:
        for tracker in self.metrics:
            if tracker.name in outputs:
                tracker.update_state(ops.stop_gradient(outputs[tracker.name]))
        return reducible_across_workers({tracker.name: tracker.result() for tracker in self.metrics})

    # ----------------------------------------------------------------------------- dispatch
    def train_step(self, *args):
        backend = backends.name()
        if backend == "jax":
            return self._jax_train_step(*args)
        if backend == "torch":
            return self._torch_train_step(*args)
        return self._tensorflow_train_step(*args)

    def test_step(self, *args):
        if backends.name() == "jax":
            state, data = args
            return self._jax_stateless(state, lambda: self._track(self.evaluation_outputs(features_of(data))))
        return self._track(self.evaluation_outputs(features_of(args[0])))

    # ----------------------------------------------------------------------------- TensorFlow
    def _tensorflow_train_step(self, data):
        import tensorflow as tf

        x = features_of(data)
        outputs = {}
        for phase in self.train_phases():
            variables = list(phase.variables)
            with tf.GradientTape(watch_accessed_variables=False) as tape:  # record only what this phase trains
                tape.watch([v.value for v in variables])
                loss, logs = phase.loss(x, outputs)
                scaled = phase.optimizer.scale_loss(replica_scaled(loss))
            gradients = tape.gradient(scaled, variables)
            gradients = [ops.zeros_like(v) if g is None else g for g, v in zip(gradients, variables)]
            phase.optimizer.apply(gradients, variables)
            outputs.update({k: ops.stop_gradient(v) for k, v in logs.items()})
        self.after_update(x, outputs)
        return self._track(outputs)

    # ----------------------------------------------------------------------------- PyTorch
    def _torch_train_step(self, data):
        import torch

        x = features_of(data)
        outputs = {}
        for phase in self.train_phases():
            variables = list(phase.variables)
            self.zero_grad()
            loss, logs = phase.loss(x, outputs)
            phase.optimizer.scale_loss(loss).backward()
            gradients = [v.value.grad if v.value.grad is not None else torch.zeros_like(v.value) for v in variables]
            with torch.no_grad():
                phase.optimizer.apply(gradients, variables)
            outputs.update({k: ops.stop_gradient(v) for k, v in logs.items()})
        with torch.no_grad():
            self.after_update(x, outputs)
        return self._track(outputs)

    # ----------------------------------------------------------------------------- JAX
    def _jax_train_step(self, state, data):
        import jax

        trainable, non_trainable, optimizer_values, metric_values = (list(s) for s in state)
        trainable_variables = self.trainable_variables
        non_trainable_variables = self.non_trainable_variables
        trainable_index = {id(v): i for i, v in enumerate(trainable_variables)}
        optimizer_index = {id(v): i for i, v in enumerate(self.optimizer.variables)}
        x = features_of(data)
        outputs = {}
        for phase in self.train_phases():
            positions = [trainable_index[id(v)] for v in phase.variables]
            optimizer_positions = [optimizer_index[id(v)] for v in phase.optimizer.variables]
            phase_optimizer_values = [optimizer_values[i] for i in optimizer_positions]

            def scaled_loss(phase_values, trainable, non_trainable, phase=phase, positions=positions,
                            phase_optimizer_values=phase_optimizer_values):
                values = list(trainable)
                for i, value in zip(positions, phase_values):
                    values[i] = value
                mapping = list(zip(trainable_variables, values)) + list(zip(non_trainable_variables, non_trainable))
                with keras.StatelessScope(state_mapping=mapping) as scope:
                    loss, logs = phase.loss(x, outputs)
                new_non_trainable = [scope.get_current_value(v) for v in non_trainable_variables]
                with keras.StatelessScope(state_mapping=list(zip(phase.optimizer.variables,
                                                                 phase_optimizer_values))):
                    scaled = phase.optimizer.scale_loss(loss)
                return scaled, (logs, new_non_trainable)

            phase_values = [trainable[i] for i in positions]
            gradients, (logs, non_trainable) = jax.grad(scaled_loss, has_aux=True)(phase_values, trainable,
                                                                                    non_trainable)
            new_values, new_optimizer_values = phase.optimizer.stateless_apply(
                phase_optimizer_values, gradients, phase_values)
            for i, value in zip(positions, new_values):
                trainable[i] = value
            for i, value in zip(optimizer_positions, new_optimizer_values):
                optimizer_values[i] = value
            outputs.update({k: jax.lax.stop_gradient(v) for k, v in logs.items()})

        def finish():
            self.after_update(x, outputs)
            return self._track(outputs)

        logs, (trainable, non_trainable, metric_values) = self._jax_stateless(
            (trainable, non_trainable, metric_values), finish)
        return logs, (trainable, non_trainable, optimizer_values, metric_values)

    def _jax_stateless(self, state, function):
        """Run ``function()`` with the variables bound to ``state`` = (trainable, non-trainable,
        metrics) values; return (its result, the state after its assignments)."""
        groups = (self.trainable_variables, self.non_trainable_variables, self.metrics_variables)
        return run_stateless(groups, state, function)
