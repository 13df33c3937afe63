"""Lightning training: the recipe (TrainConfig), the LightningModule and data module, fit().

Scaling out (DDP, FSDP, several nodes) is Lightning's job, set from the recipe.
"""

__all__ = ["config", "contrast", "fit"]
