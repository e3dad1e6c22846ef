"""One gradient-descent training engine for every learning task.

A task supplies what is specific to it, the engine does the rest (optimiser and schedule,
mixed precision on CUDA, channels-last, torch.compile, gradient clipping, atomic checkpoints with a
model card, validation with best/last checkpoints and early stopping, progress events,
cancellation, DistributedDataParallel under `torchrun`)::

    from gdbackend.train import TrainConfig, fit, load_model_file

    def loss_fn(net, batch):                 # batch: what the DataLoader yields, already on the device
        return criterion(net(batch["image"]), batch["label"])

    def validate(model) -> dict[str, float]: # called in eval mode under no_grad, on rank 0
        return {"accuracy": ...}

    card = {"task": "classify", "architecture": "resnet18", "arguments": {...}, "labels": [...], ...}
    result = fit(model, loss_fn, train_dataset, TrainConfig(epochs=20, optimizer="minibatch", lr=0.01,
                 batch_size=8, monitor="accuracy", mode="max", patience=5),
                 card=card, validate=validate, collate=None, out="model.pt",   # also writes model.last.pt
                 resume=None, on_event=print, cancel=stop_flag.is_set)

    save_checkpoint("m.pt", model.state_dict(), card)       # a model file without training state
    payload = load_model_file("model.pt", task="classify")   # ModelError for another task's model
    model = build_from(payload["card"]); load_weights(model, payload["model"], "model.pt")

`train_dataset` is any map-style torch Dataset (a `set_epoch(epoch)` method, if it has one, is called
at the start of each epoch so random augmentation repeats exactly after a resume). `card` must hold
plain values (str, numbers, lists, dicts) and a `task` name; the engine adds `metrics` (the best
validation record), `history`, `epochs_trained`, `train_config` and `torch_version`.
Optimisers: `gd` (full batch: one step per epoch, accumulated over micro-batches of `batch_size`),
`sgd` (batch size 1), `minibatch` (SGD with momentum / Nesterov), `adam`, `adamw`.
"""
from ..lazy import lazy_exports

# loaded on first use, so that `gdbackend.train.options` imports without torch (the Slicer panel reads its option
# lists before PyTorch is installed)
_HOMES = {"Event": "events", "OPTIMIZERS": "options", "SCHEDULES": "options", "TrainConfig": "options",
          "TrainResult": "engine", "fit": "engine", "last_path": "engine", "load_model_file": "checkpoint:load",
          "load_network": "checkpoint", "load_weights": "checkpoint", "plain": "checkpoint",
          "save_checkpoint": "checkpoint:save", "to_device": "batch"}
__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
